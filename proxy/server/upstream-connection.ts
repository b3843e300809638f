/**
 * One multiplexed Dubbo connection to a provider. Every request written on it gets a fresh id, unique among
 * the connection's requests in flight, written into the frame header in place; the response with that id is
 * matched back and handed to the cluster, which restores the client's own id. Heartbeats from the provider
 * are answered here; a provider's "readonly" event (it is shutting down) stops new requests on the connection.
 */
import { Socket, connect } from "node:net";
import {
  FLAGS_OFFSET, FLAG_EVENT, FLAG_REQUEST, FLAG_TWO_WAY, HEADER_LENGTH, ID_OFFSET, MAGIC_HIGH, MAGIC_LOW,
  SERIALIZATION_HESSIAN2, heartbeatReply,
} from "./dubbo-wire.js";
import type { Endpoint } from "./endpoint.js";
import { FrameReader, type FrameSink } from "./frame-reader.js";
import type { PendingRequest } from "./pending-request.js";
import { type Corkable, writeBatch } from "./write-batch.js";

const MAX_UNANSWERED_HEARTBEATS = 3;
const CONNECTING = 0;
const READY = 1;
const CLOSED = 2;

/** What the connection reports to its owner (the cluster, through the pool). */
export interface UpstreamEvents {
  response(p: PendingRequest, buf: Buffer, start: number, end: number): void;
  /** A one-way request that waited for the connection was written: it is finished. */
  sentOneWay(p: PendingRequest): void;
  /** Requests that were never written because the connection could not be established. */
  connectFailed(conn: UpstreamConnection, unsent: PendingRequest[], reason: string): void;
  /** Requests written whose responses will never come. */
  reset(conn: UpstreamConnection, inflight: PendingRequest[], reason: string): void;
  closed(conn: UpstreamConnection, wasReady: boolean): void;
  connected(conn: UpstreamConnection): void;
  malformed(conn: UpstreamConnection, reason: string): void;
}

export class UpstreamConnection implements FrameSink, Corkable {
  readonly socket: Socket;
  corked = false;
  private state = CONNECTING;
  /** No new requests: the provider announced shutdown, or the pool retired the connection. */
  draining = false;
  private readonly inflight = new Map<number, PendingRequest>();
  private queue: PendingRequest[] = [];
  private nextId = 1;
  private readonly reader: FrameReader;
  private connectTimer: NodeJS.Timeout | null;
  private closeReason = "";
  private reads = 0;
  private readsAtLastCheck = 0;
  private silentChecks = 0;
  heartbeatsSent = 0;

  constructor(
    readonly endpoint: Endpoint,
    private readonly events: UpstreamEvents,
    connectTimeoutMs: number,
    maxFrameBytes: number,
  ) {
    this.reader = new FrameReader(this, maxFrameBytes);
    this.socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    this.connectTimer = setTimeout(() => {
      this.closeReason = `connect timeout after ${connectTimeoutMs} ms`;
      this.socket.destroy();
    }, connectTimeoutMs);
    this.connectTimer.unref();
    this.socket.on("connect", () => this.onConnect());
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (err: Error) => {
      if (this.closeReason === "") this.closeReason = err.message;
    });
    this.socket.on("close", () => this.onClose());
  }

  /** Reads from the provider so far. */
  get readCount(): number {
    return this.reads;
  }

  get ready(): boolean {
    return this.state === READY;
  }

  get closed(): boolean {
    return this.state === CLOSED;
  }

  /** Requests written and not answered, plus those waiting for the connection. */
  get load(): number {
    return this.inflight.size + this.queue.length;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Write the request now (true) or queue it until the connection is established (false). */
  send(p: PendingRequest): boolean {
    p.conn = this;
    if (this.state === READY) {
      this.write(p);
      return true;
    }
    this.queue.push(p);
    return false;
  }

  /** Forget a request (its deadline passed): a late response is then dropped. */
  cancel(p: PendingRequest): void {
    if (p.frame !== null) {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    } else if (this.inflight.get(p.upstreamId) === p) {
      this.inflight.delete(p.upstreamId);
    }
    p.conn = null;
  }

  close(reason: string): void {
    if (this.state === CLOSED) return;
    if (this.closeReason === "") this.closeReason = reason;
    this.socket.destroy();
  }

  /** Close once the last request in flight is answered. */
  retire(): void {
    this.draining = true;
    if (this.load === 0) this.close("retired");
  }

  private write(p: PendingRequest): void {
    const frame = p.frame as Buffer;
    p.frame = null;
    const id = this.allocateId();
    p.upstreamId = id;
    frame.writeUInt32BE(0, ID_OFFSET);
    frame.writeUInt32BE(id, ID_OFFSET + 4);
    writeBatch.write(this, frame);
    if (p.twoWay) this.inflight.set(id, p);
    else p.conn = null; // one-way: nothing comes back; the caller finishes it
  }

  private allocateId(): number {
    let id = this.nextId;
    while (this.inflight.has(id)) id = id === 0xffffffff ? 1 : id + 1;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  private onConnect(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.state = READY;
    this.events.connected(this);
    const q = this.queue;
    this.queue = [];
    writeBatch.begin();
    try {
      for (const p of q) {
        this.write(p);
        if (!p.twoWay) this.events.sentOneWay(p);
      }
    } finally {
      writeBatch.end();
    }
  }

  private onData(chunk: Buffer): void {
    this.reads++;
    writeBatch.begin();
    try {
      this.reader.push(chunk);
    } finally {
      writeBatch.end();
    }
    if (this.draining && this.load === 0) this.close("retired");
  }

  /**
   * Keep an idle connection alive (providers close connections they hear nothing on): called periodically,
   * sends a heartbeat when nothing was read since the previous call. The reply is an event and is ignored.
   */
  keepAlive(): void {
    if (this.state !== READY) return;
    if (this.reads !== this.readsAtLastCheck) {
      this.readsAtLastCheck = this.reads;
      this.silentChecks = 0;
      return;
    }
    if (++this.silentChecks > MAX_UNANSWERED_HEARTBEATS) {
      this.close(`no reply to ${MAX_UNANSWERED_HEARTBEATS} heartbeats`);
      return;
    }
    this.heartbeatsSent++;
    const hb = Buffer.from([MAGIC_HIGH, MAGIC_LOW, FLAG_REQUEST | FLAG_TWO_WAY | FLAG_EVENT | SERIALIZATION_HESSIAN2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x4e]);
    hb.writeUInt32BE(this.allocateId(), ID_OFFSET + 4);
    this.socket.write(hb);
  }

  frame(buf: Buffer, start: number, end: number): void {
    const flags = buf[start + FLAGS_OFFSET];
    if ((flags & FLAG_REQUEST) !== 0) {
      if ((flags & FLAG_EVENT) === 0) return; // providers do not send us requests
      if ((flags & FLAG_TWO_WAY) !== 0) writeBatch.write(this, heartbeatReply(buf, start));
      else if (end - start === HEADER_LENGTH + 2 && buf[start + HEADER_LENGTH] === 0x01 && buf[start + HEADER_LENGTH + 1] === 0x52) {
        this.draining = true; // the "R" (readonly) event: the provider is shutting down
      }
      return;
    }
    if ((flags & FLAG_EVENT) !== 0) return; // a reply to a heartbeat
    if (buf.readUInt32BE(start + ID_OFFSET) !== 0) return;
    const id = buf.readUInt32BE(start + ID_OFFSET + 4);
    const p = this.inflight.get(id);
    if (p === undefined) return; // answered late, after its deadline
    this.inflight.delete(id);
    p.conn = null;
    this.events.response(p, buf, start, end);
  }

  malformed(reason: string): void {
    this.events.malformed(this, reason);
    this.close(`bad data from provider: ${reason}`);
  }

  private onClose(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const wasReady = this.state === READY;
    this.state = CLOSED;
    const reason = this.closeReason || "closed by the provider";
    const unsent = this.queue;
    this.queue = [];
    const inflight = [...this.inflight.values()];
    this.inflight.clear();
    for (const p of unsent) p.conn = null;
    for (const p of inflight) p.conn = null;
    this.events.closed(this, wasReady);
    if (!wasReady || unsent.length > 0) this.events.connectFailed(this, unsent, wasReady ? reason : `connect failed: ${reason}`);
    if (inflight.length > 0) this.events.reset(this, inflight, reason);
  }
}
