/**
 * One client connection. Each read goes through the filter in one host call; during that call the filter
 * reports every request's destination (route-reports.ts). The bytes the filter forwards are split into frames
 * by their headers, and each request frame is dispatched to the cluster reported for its id — or, when the
 * filter reported nothing for it, to the connection's `envoy.tcp_proxy.cluster` filter state, as Envoy's
 * tcp_proxy would. Heartbeats are answered here. When the filter closes the connection (deny, bad input), the
 * client is disconnected.
 *
 * Lifetime (config `clientConnections`): TCP keepalive probes a silent peer; a connection with nothing in
 * flight and no bytes either way for `idleTimeoutMs` is closed (heartbeats are bytes, so they keep it open,
 * as in Dubbo, whose server closes a channel only after 3 heartbeat periods without a read or write). On a
 * drain the client gets Dubbo's readonly event and is served until it has been quiet for `drainQuietMs`.
 */
import { type Socket, connect } from "node:net";
import { type Connection as FilterConnection, PeerType } from "../host/index.js";
import type { ClusterManager } from "./cluster-manager.js";
import type { ClientConnectionsConfig } from "./config.js";
import {
  FLAGS_OFFSET, FLAG_EVENT, FLAG_REQUEST, FLAG_TWO_WAY, ID_OFFSET, Status, errorResponse, heartbeatReply, readonlyEvent,
} from "./dubbo-wire.js";
import { FrameReader, type FrameSink } from "./frame-reader.js";
import { type PendingRequest, type ResponseTarget, acquirePending, releasePending } from "./pending-request.js";
import { type RequestStatsTable, Result } from "./request-stats.js";
import { ROUTE_FLAG_DENIED, ROUTE_FLAG_NO_DESTINATION, type RouteReports } from "./route-reports.js";
import { type Corkable, type Deferred, writeBatch } from "./write-batch.js";

export interface DownstreamEnv {
  readonly clusters: ClusterManager;
  readonly reports: RouteReports;
  readonly stats: RequestStatsTable;
  readonly maxFrameBytes: number;
  readonly clientConnections: ClientConnectionsConfig;
  now(): number;
  log(level: "debug" | "info" | "warn", message: string): void;
  closed(conn: DownstreamConnection): void;
  /** The bytes `conn` holds changed by `delta` (the proxy caps their sum; it may shed connections). */
  buffered(conn: DownstreamConnection, delta: number): void;
}

export const TCP_PROXY_CLUSTER_KEY = "envoy.tcp_proxy.cluster";
/**
 * The status of the answer to a denied request: SERVICE_ERROR (70). Java's DefaultFuture and dubbo-remoting
 * raise every non-OK status other than the two timeouts as an error carrying the body's message, so the
 * caller sees "request denied by rule ..."; 70 is Dubbo's status for a well-formed request the serving side
 * refused or failed, whereas 40 (BAD_REQUEST) means the request could not be decoded, 60 (SERVICE_NOT_FOUND)
 * is a missing route or service, and 30/31 would be raised as timeouts.
 */
export const DENIED_STATUS = Status.SERVICE_ERROR;
const EMPTY = Buffer.alloc(0);

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class DownstreamConnection implements FrameSink, ResponseTarget, Corkable, Deferred {
  corked = false;
  /** Requests dispatched and not yet finished. */
  inflight = 0;
  /** Bytes of the client's stream held for this connection: a partial frame the filter waits for (in the host). */
  held = 0;
  private draining = false;
  /** The proxy drains: the readonly event was sent; the socket's timeout is now the drain's quiet time. */
  private readonlySent = false;
  private ended = false;
  private readonly reader: FrameReader;
  /** Raw TCP to one endpoint, when the filter passes non-Dubbo bytes through (its `nonDubbo: passthrough`). */
  private raw: Socket | null = null;
  /** Responses gathered during one upstream read, handed to the filter in one call at the end of it. */
  private readonly responses: Buffer[] = [];
  private responsesDeferred = false;
  /** Reading is paused until the client takes what was written to it (flow control). */
  private paused = false;
  private readonly resume = (): void => {
    this.paused = false;
    if (!this.ended) this.socket.resume();
  };
  private sawBytes = false;
  /** The connection's context in the filter VM; set right after the context is created (see `attach`). */
  private filter!: FilterConnection;

  constructor(
    readonly socket: Socket,
    private readonly env: DownstreamEnv,
    private readonly defaultCluster: string,
    /** Pass responses through the filter's on_upstream_data (Envoy's order; the filter counts statuses). */
    private readonly filterResponses: boolean,
  ) {
    this.reader = new FrameReader(this, env.maxFrameBytes);
    socket.setNoDelay(true);
    const { tcpKeepaliveMs, idleTimeoutMs } = env.clientConnections;
    if (tcpKeepaliveMs > 0) socket.setKeepAlive(true, tcpKeepaliveMs);
    if (idleTimeoutMs > 0) socket.setTimeout(idleTimeoutMs);
  }

  /** Start serving with the filter context created for this connection. */
  attach(filter: FilterConnection): void {
    this.filter = filter;
    const r = filter.newConnectionResult;
    const socket = this.socket;
    if (r.closeDownstream || r.failed) {
      this.end(true);
      return;
    }
    socket.on("data", (chunk: Buffer) => this.onData(chunk, false));
    socket.on("end", () => this.onEnd());
    socket.on("error", () => {
      /* reported through close */
    });
    socket.on("close", () => this.onClose());
    socket.on("timeout", () => this.onTimeout());
  }

  private onData(chunk: Buffer, endOfStream: boolean): void {
    if (this.ended) return;
    const reports = this.env.reports;
    reports.reset();
    writeBatch.begin();
    try {
      const r = this.filter.downstreamData(chunk, endOfStream);
      if (r.forwarded.length > 0) this.forward(asBuffer(r.forwarded));
      if (r.closeDownstream || r.failed || r.closed) this.end(r.failed);
      else this.countHeld();
    } finally {
      writeBatch.end();
    }
  }

  private countHeld(): void {
    const now = this.filter.downstreamBuffered + this.reader.buffered;
    if (now === this.held) return;
    const delta = now - this.held;
    this.held = now;
    this.env.buffered(this, delta);
  }

  /** Closed by the proxy to bring the bytes held across connections under the cap. */
  shed(): void {
    this.env.buffered(this, -this.held);
    this.held = 0;
    this.end(true);
  }

  private forward(bytes: Buffer): void {
    if (this.raw !== null) {
      this.raw.write(bytes);
      return;
    }
    if (!this.sawBytes) {
      this.sawBytes = true;
      // Not Dubbo, yet the filter let it through: it is a plain TCP stream, proxied as Envoy's tcp_proxy would.
      if (bytes[0] !== 0xda || (bytes.length > 1 && bytes[1] !== 0xbb)) {
        this.startRaw(bytes);
        return;
      }
    }
    this.reader.push(bytes);
  }

  /** Proxy the connection byte for byte to one endpoint of its cluster (filter state, else the listener's). */
  private startRaw(first: Buffer): void {
    const name = this.filter.filterState.get(TCP_PROXY_CLUSTER_KEY) ?? this.defaultCluster;
    const endpoint = name === "" ? undefined : this.env.clusters.get(name)?.pickForConnection();
    if (endpoint === undefined) {
      this.env.log("warn", `downstream ${this.socket.remoteAddress}:${this.socket.remotePort}: non-Dubbo bytes passed by the filter and no cluster for them${name ? ` (cluster ${name} has no endpoint)` : ""}; closing`);
      this.end(true);
      return;
    }
    const up = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    this.raw = up;
    up.write(first);
    up.on("data", (d: Buffer) => {
      if (this.socket.destroyed) return;
      const r = this.filter.upstreamData(d, false);
      if (r.forwarded.length > 0) this.socket.write(r.forwarded);
      if (r.closeDownstream || r.failed) this.end(r.failed);
    });
    up.on("end", () => this.end(false));
    up.on("error", () => this.end(true));
    up.on("close", () => this.end(false));
  }

  /** The filter resumed the connection from another context, handing on the bytes it held. */
  resumed(forwarded: Uint8Array): void {
    if (this.ended || forwarded.length === 0) return;
    this.env.reports.reset();
    writeBatch.begin();
    try {
      this.forward(asBuffer(forwarded));
    } finally {
      writeBatch.end();
    }
  }

  /** The host closed the connection on its own (the VM failed, or the filter closed it from another context). */
  closedByHost(): void {
    this.end(true);
  }

  frame(buf: Buffer, start: number, end: number): void {
    const flags = buf[start + FLAGS_OFFSET];
    if ((flags & FLAG_REQUEST) === 0) return; // the proxy never sends clients requests, so no responses are due
    if ((flags & FLAG_EVENT) !== 0) {
      if ((flags & FLAG_TWO_WAY) !== 0) writeBatch.write(this, heartbeatReply(buf, start));
      return;
    }
    const idHigh = buf.readUInt32BE(start + ID_OFFSET);
    const idLow = buf.readUInt32BE(start + ID_OFFSET + 4);
    const report = this.env.reports.take(idHigh, idLow);
    let clusterName: string;
    const twoWay = (flags & FLAG_TWO_WAY) !== 0;
    const p = acquirePending();
    p.start = this.env.now();
    p.idHigh = idHigh;
    p.idLow = idLow;
    if (report !== undefined) {
      clusterName = (report.flags & ROUTE_FLAG_NO_DESTINATION) !== 0 ? "" : report.cluster;
      p.timeoutMs = report.timeoutMs;
      p.hasHash = report.hasHash;
      p.hash = report.hash;
      p.stats = this.env.stats.get(report.service, report.method, report.route, clusterName);
    } else {
      clusterName = this.filter.filterState.get(TCP_PROXY_CLUSTER_KEY) ?? this.defaultCluster;
      p.timeoutMs = 0;
      p.hasHash = false;
      p.hash = 0;
      p.stats = this.env.stats.get("", "", "", clusterName);
    }
    p.twoWay = twoWay;
    p.target = this;
    p.frame = buf.subarray(start, end);
    this.inflight++;
    if (report !== undefined && (report.flags & ROUTE_FLAG_DENIED) !== 0) {
      // The filter denied it: this request alone is answered; the connection and its other calls go on.
      this.reject(p, Result.DENIED, `dubbo-mesh: request denied by rule '${report.route}'`, DENIED_STATUS);
      return;
    }
    if (clusterName === "") {
      this.reject(p, Result.NO_ROUTE, report !== undefined
        ? `dubbo-mesh: no route for ${report.service}.${report.method}${report.route ? ` (route ${report.route})` : ""}`
        : "dubbo-mesh: the filter chose no destination for this connection");
      return;
    }
    const cluster = this.env.clusters.get(clusterName);
    if (cluster === undefined) {
      this.reject(p, Result.NO_CLUSTER, `dubbo-mesh: cluster ${clusterName} is not configured`);
      return;
    }
    cluster.dispatch(p);
  }

  /** A request the proxy answers itself before any cluster took it. */
  private reject(p: PendingRequest, result: number, message: string, status: number = Status.SERVICE_NOT_FOUND): void {
    p.stats?.record(result, status, (this.env.now() - p.start) / 1000);
    if (p.twoWay) this.respondLocal(errorResponse(p.idHigh, p.idLow, status, message));
    this.env.log("debug", message);
    releasePending(p);
    this.requestDone();
  }

  malformed(reason: string): void {
    // The filter forwarded something that is not Dubbo framing (e.g. passthrough of non-Dubbo bytes): no
    // request can be routed from it, so the connection is closed.
    this.env.log("warn", `downstream ${this.socket.remoteAddress}:${this.socket.remotePort}: ${reason}`);
    this.end(true);
  }

  respond(buf: Buffer, start: number, end: number): void {
    if (this.socket.destroyed) return;
    const frame = buf.subarray(start, end);
    if (!this.filterResponses) {
      this.writeOut(frame);
      return;
    }
    this.responses.push(frame);
    if (!writeBatch.active) {
      this.flush();
    } else if (!this.responsesDeferred) {
      this.responsesDeferred = true;
      writeBatch.defer(this);
    }
  }

  /** Pass the gathered responses through the filter's on_upstream_data (one call) and on to the client. */
  flush(): void {
    this.responsesDeferred = false;
    const parts = this.responses;
    if (parts.length === 0) return;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    parts.length = 0;
    if (this.socket.destroyed) return;
    const r = this.filter.upstreamData(bytes, false);
    if (r.forwarded.length > 0) this.writeOut(r.forwarded);
    if (r.closeDownstream || r.failed) this.end(r.failed);
    else if (this.draining && this.inflight === 0) this.end(false);
  }

  /**
   * Write to the client; when its socket buffers more than its high-water mark (the client reads slower than
   * its answers come), stop reading its requests until the buffer drains, so answers do not pile up.
   */
  private writeOut(bytes: Uint8Array): void {
    writeBatch.write(this, bytes);
    if (!this.paused && this.socket.writableNeedDrain) {
      this.paused = true;
      this.socket.pause();
      this.socket.once("drain", this.resume);
    }
  }

  respondLocal(frame: Buffer): void {
    if (this.socket.destroyed) return;
    writeBatch.write(this, frame);
  }

  requestDone(): void {
    this.inflight--;
    // With responses still gathered for the filter, `flush` closes after writing them.
    if (this.draining && this.inflight === 0 && !this.responsesDeferred) this.end(false);
  }

  /**
   * The proxy drains, as a Dubbo server does on shutdown: send the readonly event (a Dubbo consumer then sends
   * no new request on this connection) and keep serving — requests the client sent before it saw the event
   * still arrive. The connection closes once nothing is in flight and no bytes moved for `drainQuietMs`.
   * A connection proxied as plain TCP (not Dubbo) has nothing to be told and closes now.
   */
  drain(): void {
    if (this.ended || this.readonlySent) return;
    if (this.raw !== null) {
      this.end(false);
      return;
    }
    this.readonlySent = true;
    writeBatch.write(this, readonlyEvent());
    this.socket.setTimeout(this.env.clientConnections.drainQuietMs);
  }

  /**
   * No bytes either way for the socket's timeout (the idle timeout, or the drain's quiet time). A connection
   * with requests in flight is not idle: its timer starts over.
   */
  private onTimeout(): void {
    if (this.ended) return;
    const cc = this.env.clientConnections;
    const ms = this.readonlySent ? cc.drainQuietMs : cc.idleTimeoutMs;
    if (this.inflight > 0 || this.responsesDeferred) {
      this.socket.setTimeout(ms);
      return;
    }
    if (!this.readonlySent) this.env.log("info", `client ${this.socket.remoteAddress}:${this.socket.remotePort}: idle for ${ms} ms; closing`);
    this.end(false);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private end(hard: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (hard) this.socket.destroy();
    else this.socket.end();
  }

  private onEnd(): void {
    // The client half-closed: the filter hears the end of stream, what is in flight is answered, then close.
    this.onData(EMPTY, true);
    if (this.raw !== null) {
      this.raw.end();
      return;
    }
    this.draining = true;
    if (this.inflight === 0) this.end(false);
  }

  private onClose(): void {
    this.ended = true;
    if (this.held !== 0) {
      this.env.buffered(this, -this.held);
      this.held = 0;
    }
    this.raw?.destroy();
    try {
      this.filter?.closeDownstream(PeerType.Remote);
    } catch (err) {
      this.env.log("warn", `filter close callbacks failed: ${(err as Error).message}`);
    }
    this.env.closed(this);
  }
}
