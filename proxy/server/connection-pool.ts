/**
 * The connections to one endpoint: up to `connectionsPerEndpoint` multiplexed Dubbo connections, requests
 * spread round robin over them. After a failed connect the pool refuses requests for a short backoff, so a
 * dead provider costs one connect attempt, not one per request (the cluster retries them elsewhere).
 */
import type { Endpoint } from "./endpoint.js";
import type { PendingRequest } from "./pending-request.js";
import { UpstreamConnection, type UpstreamEvents } from "./upstream-connection.js";

export interface PoolOwner {
  readonly connectTimeoutMs: number;
  readonly connectionsPerEndpoint: number;
  readonly maxFrameBytes: number;
  /** May one more connection be opened (the cluster's max connections)? */
  canOpenConnection(): boolean;
  /** A connection was opened (counts against max connections until it closes). */
  connectionOpened(): void;
  readonly events: UpstreamEvents;
}

/** What `ConnectionPool.send` did with a request. */
export const SendResult = { REFUSED: 0, SENT: 1, QUEUED: 2, NO_CONNECTION_ALLOWED: 3 } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

export class ConnectionPool {
  readonly conns: UpstreamConnection[] = [];
  private rr = 0;
  private backoffUntil = 0;
  private backoffMs = 0;
  closed = false;
  /** Why the last connection attempt failed ("" after a success). */
  lastError = "";

  constructor(
    readonly endpoint: Endpoint,
    private readonly owner: PoolOwner,
  ) {
    endpoint.pool = this;
  }

  /**
   * Take the request: SENT (written now), QUEUED (waiting for a connection), REFUSED (connect backoff) or
   * NO_CONNECTION_ALLOWED (no connection, and the cluster's max connections forbids opening one).
   */
  send(p: PendingRequest, now: number): SendResult {
    if (this.closed || now < this.backoffUntil) return SendResult.REFUSED;
    const conns = this.conns;
    let usable = 0;
    for (let i = 0; i < conns.length; i++) if (!conns[i].draining) usable++;
    if (usable < this.owner.connectionsPerEndpoint && this.owner.canOpenConnection()) {
      const c = new UpstreamConnection(this.endpoint, this.owner.events, this.owner.connectTimeoutMs, this.owner.maxFrameBytes);
      this.owner.connectionOpened();
      conns.push(c);
      return c.send(p) ? SendResult.SENT : SendResult.QUEUED;
    }
    if (usable === 0) return SendResult.NO_CONNECTION_ALLOWED;
    for (let tries = 0; tries < conns.length; tries++) {
      const c = conns[this.rr++ % conns.length];
      if (!c.draining) return c.send(p) ? SendResult.SENT : SendResult.QUEUED;
    }
    return SendResult.REFUSED;
  }

  connected(): void {
    this.lastError = "";
    this.backoffMs = 0;
    this.backoffUntil = 0;
  }

  connectFailed(now: number, reason: string): void {
    this.lastError = reason;
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs === 0 ? MIN_BACKOFF_MS : this.backoffMs * 2);
    this.backoffUntil = now + this.backoffMs;
  }

  remove(conn: UpstreamConnection): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) this.conns.splice(i, 1);
  }

  /** Stop taking requests; connections close when their requests in flight are answered. */
  retire(): void {
    this.closed = true;
    for (const c of [...this.conns]) c.retire();
  }

  destroy(reason: string): void {
    this.closed = true;
    for (const c of [...this.conns]) c.close(reason);
  }
}
