/**
 * The ADS server: `envoy.service.discovery.v3.AggregatedDiscoveryService` on `@grpc/grpc-js`, both variants
 * (`StreamAggregatedResources`, SotW; `DeltaAggregatedResources`, Delta), serving a `SnapshotCache`.
 *
 * Snapshot changes made in one synchronous run (one rebuild updating CDS, EDS and LDS, say) are merged and
 * pushed together on the next microtask, type by type in make-before-break order (CDS, EDS, LDS, then the
 * rest; see `type-urls.ts`), to every stream they concern. Protocol rules: docs/xds.md.
 *
 * Listens on 127.0.0.1 unless told otherwise; TLS and mTLS with `tls`. `status()` is what the admin API shows.
 */
import * as grpc from "@grpc/grpc-js";
import { AdsStream, StreamError, type AdsCall } from "./ads-stream.js";
import { DeltaStream } from "./delta-stream.js";
import { adsServiceDefinition, loadDiscoveryTypes, type DiscoveryTypes } from "./discovery-protos.js";
import type { SnapshotCache, SnapshotChange } from "./snapshot.js";
import { SotwStream } from "./sotw-stream.js";
import type { AdsHooks, NackEvent, PendingChange, PushEvent, StreamContext, StreamStatus } from "./stream-state.js";
import { inPushOrder } from "./type-urls.js";

export interface AdsTlsOptions {
  /** PEM server certificate chain. */
  cert: string | Buffer;
  /** PEM private key. */
  key: string | Buffer;
  /** PEM CA bundle: when given, clients must present a certificate it signed (mTLS). */
  clientCa?: string | Buffer;
}

export interface AdsServerOptions {
  tls?: AdsTlsOptions;
  hooks?: AdsHooks;
  /** Where the server writes its log lines (stream errors, NACKs). Default: nowhere. */
  log?: (line: string) => void;
}

/** Upper bounds (ms) of the push latency histogram buckets; the last bucket is unbounded. */
export const pushLatencyBucketsMs: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

export interface AdsCounters {
  /** Streams open now, by variant. */
  connectedStreams: { sotw: number; delta: number };
  /** Streams opened since start. */
  streamsOpened: number;
  /** Responses written, by type URL. */
  pushes: Record<string, number>;
  /** Encoded response bytes written, by type URL. */
  pushBytes: Record<string, number>;
  /** NACKs received, by type URL. */
  nacks: Record<string, number>;
  /**
   * Time from a snapshot change to each push it caused (pushes a request caused are not counted). Buckets
   * are cumulative (Prometheus style); `count` is the unbounded bucket.
   */
  pushLatencyMs: { count: number; sum: number; max: number; buckets: { le: number; count: number }[] };
}

export interface AdsStatus {
  streams: StreamStatus[];
  counters: AdsCounters;
  /** The snapshot: per type URL, its version and resource count. */
  resources: Record<string, { version: string; count: number }>;
}

export class AdsServer {
  private readonly types: DiscoveryTypes = loadDiscoveryTypes();
  private readonly server = new grpc.Server({
    // Delta reconnects list every held resource in initial_resource_versions: allow more than grpc's 4 MiB
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    // ping idle connections, so the streams of a proxy that vanished are closed (and leave status())
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
  });
  private readonly streams = new Map<number, AdsStream>();
  private readonly pending = new Map<string, PendingChange>();
  private flushScheduled = false;
  private nextStreamId = 1;
  private readonly unsubscribe: () => void;
  private readonly counters: AdsCounters = {
    connectedStreams: { sotw: 0, delta: 0 },
    streamsOpened: 0,
    pushes: {},
    pushBytes: {},
    nacks: {},
    pushLatencyMs: { count: 0, sum: 0, max: 0, buckets: pushLatencyBucketsMs.map((le) => ({ le, count: 0 })) },
  };
  private readonly ctx: StreamContext;
  private started = false;

  constructor(
    private readonly snapshot: SnapshotCache,
    private readonly options: AdsServerOptions = {},
  ) {
    this.ctx = {
      snapshot,
      hooks: options.hooks ?? {},
      recordPush: (e) => this.recordPush(e),
      recordNack: (e) => this.recordNack(e),
    };
    this.server.addService(adsServiceDefinition(this.types), {
      StreamAggregatedResources: (call: AdsCall) => this.serve(call, new SotwStream(this.ctx, call, this.nextStreamId++, this.types.DiscoveryResponse)),
      DeltaAggregatedResources: (call: AdsCall) => this.serve(call, new DeltaStream(this.ctx, call, this.nextStreamId++, this.types.DeltaDiscoveryResponse)),
    });
    this.unsubscribe = snapshot.onChange((change) => this.onSnapshotChange(change));
  }

  /**
   * Listens on `address` (`HOST:PORT`; port 0 picks a free one; default `127.0.0.1:0`) and resolves with the
   * bound port.
   */
  async start(address = "127.0.0.1:0"): Promise<number> {
    if (this.started) throw new Error("the ADS server is already started");
    const credentials = this.credentials();
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, bound) => (err ? reject(new Error(`ADS server cannot listen on ${address}: ${err.message}`)) : resolve(bound))),
    );
    this.started = true;
    return port;
  }

  /** Ends every stream and closes the server: gracefully, then forcibly after 1 s (done within 2 s). */
  async stop(): Promise<void> {
    this.unsubscribe();
    for (const stream of this.streams.values()) stream.end();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Connected streams, counters and the snapshot's versions, as JSON-able objects (for `/nodes`, `/stats`). */
  status(): AdsStatus {
    const resources: AdsStatus["resources"] = {};
    for (const typeUrl of this.snapshot.typeUrls()) {
      resources[typeUrl] = { version: this.snapshot.version(typeUrl), count: this.snapshot.resources(typeUrl).size };
    }
    return {
      streams: [...this.streams.values()].map((s) => s.status()),
      counters: structuredClone(this.counters),
      resources,
    };
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.options.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    const pem = (v: string | Buffer) => (typeof v === "string" ? Buffer.from(v) : v);
    return grpc.ServerCredentials.createSsl(
      tls.clientCa ? pem(tls.clientCa) : null,
      [{ cert_chain: pem(tls.cert), private_key: pem(tls.key) }],
      tls.clientCa !== undefined,
    );
  }

  private serve(call: AdsCall, stream: AdsStream): void {
    this.streams.set(stream.id, stream);
    this.counters.connectedStreams[stream.variant]++;
    this.counters.streamsOpened++;
    this.options.hooks?.onStreamOpen?.(stream.status());
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream.id);
      this.counters.connectedStreams[stream.variant]--;
      this.options.hooks?.onStreamClose?.(stream.status());
    };
    call.on("data", (request: Record<string, unknown>) => {
      if (closed) return;
      try {
        stream.onRequest(request);
      } catch (err) {
        const code = err instanceof StreamError ? err.code : grpc.status.INTERNAL;
        this.options.log?.(`ads: stream ${stream.id} (${stream.node?.id ?? "no node"}) ended: ${(err as Error).message}`);
        close();
        call.emit("error", { code, details: (err as Error).message });
      }
    });
    call.on("end", () => {
      close();
      call.end();
    });
    call.on("cancelled", close);
    call.on("error", close);
    call.on("close", close);
  }

  private onSnapshotChange(change: SnapshotChange): void {
    let pending = this.pending.get(change.typeUrl);
    if (!pending) {
      pending = { names: new Set(), at: change.at };
      this.pending.set(change.typeUrl, pending);
    }
    for (const name of change.upserted) pending.names.add(name);
    for (const name of change.removed) pending.names.add(name);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = new Map(this.pending);
    this.pending.clear();
    for (const typeUrl of inPushOrder(pending.keys())) {
      const change = pending.get(typeUrl)!;
      for (const stream of this.streams.values()) {
        try {
          stream.onChange(typeUrl, change, performance.now());
        } catch (err) {
          this.options.log?.(`ads: push of ${typeUrl} to stream ${stream.id} failed: ${(err as Error).message}`);
        }
      }
    }
  }

  private recordPush(e: PushEvent): void {
    const c = this.counters;
    c.pushes[e.typeUrl] = (c.pushes[e.typeUrl] ?? 0) + 1;
    c.pushBytes[e.typeUrl] = (c.pushBytes[e.typeUrl] ?? 0) + e.bytes;
    if (e.latencyMs !== undefined) {
      const h = c.pushLatencyMs;
      h.count++;
      h.sum += e.latencyMs;
      h.max = Math.max(h.max, e.latencyMs);
      for (const bucket of h.buckets) if (e.latencyMs <= bucket.le) bucket.count++;
    }
  }

  private recordNack(e: NackEvent): void {
    this.counters.nacks[e.typeUrl] = (this.counters.nacks[e.typeUrl] ?? 0) + 1;
    this.options.log?.(`ads: ${e.nodeId || `stream ${e.streamId}`} rejected ${e.typeUrl} (nonce ${e.nonce}): ${e.message}`);
  }
}
