/**
 * A cluster: endpoints, their load balancer, connection pools, circuit breakers and outlier detection.
 * `dispatch` takes a request the filter routed here and sees it through to exactly one end — the provider's
 * response, or an error response the proxy writes itself (no endpoint, overflow, timeout, connection lost) —
 * so a client never waits on a request the proxy dropped.
 */
import type { ClusterConfig } from "./config.js";
import type { DeadlineQueue } from "./deadline-queue.js";
import { ID_OFFSET, STATUS_OFFSET, Status, errorResponse } from "./dubbo-wire.js";
import { Endpoint } from "./endpoint.js";
import { ConnectionPool, type PoolOwner, SendResult } from "./connection-pool.js";
import { LeastRequestLb } from "./lb-least-request.js";
import { MaglevLb } from "./lb-maglev.js";
import { RandomLb } from "./lb-random.js";
import { RingHashLb } from "./lb-ring-hash.js";
import { RoundRobinLb } from "./lb-round-robin.js";
import type { LbPolicy, LoadBalancer } from "./load-balancer.js";
import { type PendingRequest, releasePending } from "./pending-request.js";
import { Result } from "./request-stats.js";
import type { UpstreamConnection, UpstreamEvents } from "./upstream-connection.js";

export interface ClusterEnv {
  deadlines: DeadlineQueue<PendingRequest>;
  maxFrameBytes: number;
  now(): number;
  log(level: "info" | "warn", message: string): void;
}

export function createLoadBalancer(policy: LbPolicy): LoadBalancer<Endpoint> {
  switch (policy) {
    case "ROUND_ROBIN":
      return new RoundRobinLb<Endpoint>();
    case "RANDOM":
      return new RandomLb<Endpoint>();
    case "LEAST_REQUEST":
      return new LeastRequestLb<Endpoint>();
    case "RING_HASH":
      return new RingHashLb<Endpoint>();
    case "MAGLEV":
      return new MaglevLb<Endpoint>();
  }
}

/** Statuses from a provider that count as its failure for outlier detection. */
function isProviderFailure(status: number): boolean {
  return (
    status === Status.SERVER_TIMEOUT ||
    status === Status.CHANNEL_INACTIVE ||
    status === Status.BAD_RESPONSE ||
    status === Status.SERVER_ERROR ||
    status === Status.SERVER_THREADPOOL_EXHAUSTED
  );
}

export class ClusterCounters {
  requests = 0;
  overflow = 0;
  timeouts = 0;
  noEndpoint = 0;
  connectFailures = 0;
  resets = 0;
  retries = 0;
  connections = 0;
  connectionsTotal = 0;
  ejections = 0;
}

export class Cluster implements PoolOwner, UpstreamEvents {
  cfg: ClusterConfig;
  endpoints: Endpoint[] = [];
  private usable: Endpoint[] = [];
  private lb: LoadBalancer<Endpoint>;
  private readonly ejectTimers = new Set<NodeJS.Timeout>();
  /** Requests dispatched and not finished. */
  active = 0;
  /** Requests waiting for a connection to be established. */
  pending = 0;
  readonly counters = new ClusterCounters();
  readonly events: UpstreamEvents = this;
  removed = false;

  constructor(
    cfg: ClusterConfig,
    private readonly env: ClusterEnv,
  ) {
    this.cfg = cfg;
    this.lb = createLoadBalancer(cfg.lbPolicy);
    this.update(cfg);
  }

  get name(): string {
    return this.cfg.name;
  }
  get connectTimeoutMs(): number {
    return this.cfg.connectTimeoutMs;
  }
  get connectionsPerEndpoint(): number {
    return this.cfg.connectionsPerEndpoint;
  }
  get maxFrameBytes(): number {
    return this.env.maxFrameBytes;
  }
  get healthyCount(): number {
    return this.endpoints.filter((e) => !e.ejected).length;
  }

  /** Connections open or being opened (what max connections limits). */
  private openConnections = 0;

  canOpenConnection(): boolean {
    return this.openConnections < this.cfg.circuitBreakers.maxConnections;
  }

  connectionOpened(): void {
    this.openConnections++;
  }

  /** Apply a new configuration of this cluster: endpoints at the same address keep their pools and state. */
  update(cfg: ClusterConfig): void {
    const policyChanged = cfg.lbPolicy !== this.cfg.lbPolicy;
    this.cfg = cfg;
    const old = new Map(this.endpoints.map((e) => [e.address, e]));
    const next: Endpoint[] = [];
    for (const ec of cfg.endpoints) {
      const fresh = new Endpoint(ec);
      const kept = old.get(fresh.address);
      if (kept) {
        kept.weight = ec.weight;
        kept.labels = ec.labels;
        old.delete(fresh.address);
        next.push(kept);
      } else {
        new ConnectionPool(fresh, this);
        next.push(fresh);
      }
    }
    for (const gone of old.values()) gone.pool.retire();
    this.endpoints = next;
    if (policyChanged) this.lb = createLoadBalancer(cfg.lbPolicy);
    this.refreshUsable();
  }

  /** The cluster left the configuration: finish what is in flight, take nothing new. */
  remove(): void {
    this.removed = true;
    for (const e of this.endpoints) e.pool.retire();
    for (const t of this.ejectTimers) clearTimeout(t);
    this.ejectTimers.clear();
  }

  destroy(): void {
    for (const e of this.endpoints) e.pool.destroy("proxy stopped");
    for (const t of this.ejectTimers) clearTimeout(t);
    this.ejectTimers.clear();
  }

  /** Endpoints the balancer may pick: the healthy ones, or all when none is (panic, as Envoy). */
  private refreshUsable(): void {
    const healthy = this.endpoints.filter((e) => !e.ejected && e.weight > 0);
    this.usable = healthy.length > 0 ? healthy : this.endpoints.filter((e) => e.weight > 0);
    this.lb.update(this.usable);
  }

  /** An endpoint for a whole connection (raw TCP passthrough): the balancer's pick without a hash key. */
  pickForConnection(): Endpoint | undefined {
    return this.lb.pick(false, 0);
  }

  /** Route a request (frame, ids, hash, stats, target, timeout set by the caller) to an endpoint. */
  dispatch(p: PendingRequest): void {
    p.cluster = this;
    p.retriesLeft = this.cfg.connectRetries;
    this.counters.requests++;
    this.active++;
    if (this.active > this.cfg.circuitBreakers.maxRequests) {
      this.counters.overflow++;
      this.finish(p, Result.OVERFLOW, Status.SERVER_THREADPOOL_EXHAUSTED,
        `dubbo-mesh: cluster ${this.name} is over its limit of ${this.cfg.circuitBreakers.maxRequests} active requests`);
      return;
    }
    this.env.deadlines.add(p, p.timeoutMs > 0 ? p.timeoutMs : this.cfg.requestTimeoutMs);
    this.route(p, null);
  }

  private route(p: PendingRequest, avoid: Endpoint | null): void {
    const usable = this.usable;
    let e = this.lb.pick(p.hasHash, p.hash);
    if (e === undefined) {
      this.counters.noEndpoint++;
      this.finish(p, Result.NO_ENDPOINT, Status.SERVICE_NOT_FOUND, `dubbo-mesh: cluster ${this.name} has no endpoints`);
      return;
    }
    const now = this.env.now();
    let i = e === avoid && usable.length > 1 ? usable.indexOf(e) : -1;
    if (i >= 0) e = usable[(i + 1) % usable.length];
    // A pool in connect backoff (or that may not open a connection) refuses: try the others in turn.
    let overConnections = false;
    for (let tries = 0; tries < usable.length; tries++) {
      p.endpoint = e;
      e.active++;
      e.requests++;
      const sent = e.pool.send(p, now);
      if (sent === SendResult.SENT) {
        if (!p.twoWay) this.finish(p, Result.ONE_WAY, Status.OK, null);
        return;
      }
      if (sent === SendResult.QUEUED) {
        this.pending++;
        if (this.pending > this.cfg.circuitBreakers.maxPendingRequests) {
          (p.conn as UpstreamConnection).cancel(p);
          this.pending--;
          this.counters.overflow++;
          this.finish(p, Result.OVERFLOW, Status.SERVER_THREADPOOL_EXHAUSTED,
            `dubbo-mesh: cluster ${this.name} is over its limit of ${this.cfg.circuitBreakers.maxPendingRequests} pending requests`);
        }
        return;
      }
      p.endpoint = null;
      e.active--;
      e.requests--;
      if (sent === SendResult.NO_CONNECTION_ALLOWED) overConnections = true;
      if (i < 0) i = usable.indexOf(e);
      i = (i + 1) % usable.length;
      e = usable[i];
    }
    if (overConnections && usable.every((u) => u.pool.lastError === "")) {
      this.counters.overflow++;
      this.finish(p, Result.OVERFLOW, Status.SERVER_THREADPOOL_EXHAUSTED,
        `dubbo-mesh: cluster ${this.name} is over its limit of ${this.cfg.circuitBreakers.maxConnections} connections`);
      return;
    }
    this.counters.connectFailures++;
    const why = usable.filter((u) => u.pool.lastError !== "").map((u) => `${u.address}: ${u.pool.lastError}`);
    this.finish(p, Result.CONNECT_FAILURE, Status.CHANNEL_INACTIVE,
      `dubbo-mesh: no endpoint of cluster ${this.name} accepts connections${why.length > 0 ? ` (${why.join("; ")})` : ""}`);
  }

  // ---- upstream events ----

  response(p: PendingRequest, buf: Buffer, start: number, end: number): void {
    const status = buf[start + STATUS_OFFSET];
    buf.writeUInt32BE(p.idHigh, start + ID_OFFSET);
    buf.writeUInt32BE(p.idLow, start + ID_OFFSET + 4);
    const endpoint = p.endpoint as Endpoint;
    if (isProviderFailure(status)) this.failure(endpoint);
    else endpoint.consecutiveFailures = 0;
    if (p.target !== null) p.target.respond(buf, start, end);
    this.finish(p, status === Status.OK ? Result.OK : Result.UPSTREAM_ERROR_STATUS, status, null);
  }

  sentOneWay(p: PendingRequest): void {
    this.finish(p, Result.ONE_WAY, Status.OK, null);
  }

  connected(conn: UpstreamConnection): void {
    this.counters.connections++;
    this.counters.connectionsTotal++;
    this.pending -= conn.queued;
    conn.endpoint.pool.connected();
  }

  closed(conn: UpstreamConnection, wasReady: boolean): void {
    this.openConnections--;
    if (wasReady) this.counters.connections--;
    conn.endpoint.pool.remove(conn);
  }

  connectFailed(conn: UpstreamConnection, unsent: PendingRequest[], reason: string): void {
    const endpoint = conn.endpoint;
    this.counters.connectFailures++;
    endpoint.pool.connectFailed(this.env.now(), reason);
    this.failure(endpoint);
    this.env.log("warn", `cluster ${this.name}: endpoint ${endpoint.address}: ${reason}`);
    for (const p of unsent) {
      this.pending--;
      endpoint.active--;
      p.endpoint = null;
      // Retry elsewhere; with no other endpoint to try, answer now with the reason.
      if (p.retriesLeft > 0 && !this.removed && this.usable.some((u) => u !== endpoint)) {
        p.retriesLeft--;
        this.counters.retries++;
        this.route(p, endpoint);
      } else {
        this.finish(p, Result.CONNECT_FAILURE, Status.CHANNEL_INACTIVE,
          `dubbo-mesh: cluster ${this.name}: endpoint ${endpoint.address}: ${reason}`);
      }
    }
  }

  reset(conn: UpstreamConnection, inflight: PendingRequest[], reason: string): void {
    this.counters.resets += inflight.length;
    this.failure(conn.endpoint);
    for (const p of inflight) {
      this.finish(p, Result.UPSTREAM_RESET, Status.CHANNEL_INACTIVE,
        `dubbo-mesh: cluster ${this.name}: connection to ${conn.endpoint.address} lost with the request in flight (${reason})`);
    }
  }

  malformed(conn: UpstreamConnection, reason: string): void {
    this.env.log("warn", `cluster ${this.name}: endpoint ${conn.endpoint.address}: ${reason}`);
  }

  /** The request's deadline passed. */
  timeout(p: PendingRequest): void {
    if (p.conn !== null) {
      if (p.frame !== null) this.pending--;
      p.conn.cancel(p);
    }
    this.counters.timeouts++;
    if (p.endpoint !== null) this.failure(p.endpoint);
    const where = p.endpoint !== null ? ` from ${p.endpoint.address}` : "";
    this.finish(p, Result.TIMEOUT, Status.SERVER_TIMEOUT,
      `dubbo-mesh: cluster ${this.name}: no response${where} within ${p.timeoutMs > 0 ? p.timeoutMs : this.cfg.requestTimeoutMs} ms`);
  }

  // ---- outlier detection ----

  private failure(e: Endpoint): void {
    e.failures++;
    e.consecutiveFailures++;
    const od = this.cfg.outlierDetection;
    if (od.consecutiveErrors === 0 || e.ejected || e.consecutiveFailures < od.consecutiveErrors) return;
    const ejected = this.endpoints.reduce((n, x) => n + (x.ejected ? 1 : 0), 0);
    const allowed = Math.max(1, Math.floor((this.endpoints.length * od.maxEjectionPercent) / 100));
    if (ejected >= allowed || !this.endpoints.includes(e)) return;
    e.ejections++;
    this.counters.ejections++;
    const ms = Math.min(od.baseEjectionTimeMs * e.ejections, Math.max(od.baseEjectionTimeMs, od.maxEjectionTimeMs));
    e.ejectedUntil = this.env.now() + ms;
    this.env.log("info", `cluster ${this.name}: ejected ${e.address} for ${ms} ms after ${e.consecutiveFailures} consecutive failures`);
    const t = setTimeout(() => {
      this.ejectTimers.delete(t);
      e.ejectedUntil = 0;
      e.consecutiveFailures = 0;
      this.refreshUsable();
    }, ms);
    t.unref();
    this.ejectTimers.add(t);
    this.refreshUsable();
  }

  // ---- the one way out ----

  private finish(p: PendingRequest, result: number, status: number, message: string | null): void {
    this.env.deadlines.remove(p);
    this.active--;
    if (p.endpoint !== null) p.endpoint.active--;
    if (p.stats !== null) p.stats.record(result, status, (this.env.now() - p.start) / 1000);
    const target = p.target;
    if (target !== null) {
      if (message !== null && p.twoWay) target.respondLocal(errorResponse(p.idHigh, p.idLow, status, message));
      target.requestDone();
    }
    releasePending(p);
  }
}
