/**
 * The proxy's ADS client: one aggregated stream to the control plane, Delta (`DeltaAggregatedResources`) first
 * and state-of-the-world (`StreamAggregatedResources`) when the server answers UNIMPLEMENTED. It subscribes to
 * what an Envoy sidecar of dubbo-mesh subscribes to (see `xds-resources.ts`): Cluster and Listener as
 * wildcards, and ClusterLoadAssignment, the DRDS routes and the ECDS filter configurations by the names the
 * received Clusters and Listeners ask for — a name no resource asks for any more is unsubscribed and its
 * resource dropped.
 *
 * Every response is decoded with the Envoy protos and handed to the user's `validate`; a response that does not
 * decode or that `validate` rejects is NACKed (`error_detail` {code 3 INVALID_ARGUMENT, message}) and changes
 * nothing; otherwise it is ACKed, applied, and an `update` event carries the type's full current state. The
 * acknowledged state is written to `cacheDir` (xds-cache.ts) and, at `start()`, read back from it, so a proxy
 * started while the control plane is down serves its last configuration. After a stream ends the client
 * reconnects with exponential backoff and full jitter (backoff.ts), sending the versions it holds
 * (`initial_resource_versions` over Delta, `version_info` over SotW) and every subscription again.
 *
 * Events (each with one object argument; listeners run synchronously, in this order for one response):
 *   `update`        {typeUrl, resources: ReadonlyMap<name, XdsResource>, source: "server" | "cache"} — the
 *                   type's full state after an ACKed response, an unsubscription, or the cache load
 *   `ack`           {typeUrl, nonce, version}          a response was accepted (version: SotW version_info)
 *   `nack`          {typeUrl, nonce, error}            a response was rejected; the last good state stays
 *   `connected`     {protocol: "delta" | "sotw"}       the first response arrived on a new stream
 *   `disconnected`  {protocol, code, details, retryInMs} the stream ended; a new one starts after retryInMs
 *   `cache-loaded`  {dir, savedAt, message}            the cache was read at start (message: the line to log)
 *   `cache-saved`   {file}                             the cache file was replaced
 *   `warning`       {message}                          a cache that cannot be read or written
 * The client never emits `error`.
 */
import { EventEmitter } from "node:events";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  loadAdsService,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type NodeMessage,
  type RpcStatus,
} from "./ads-proto.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { cacheNotice, CACHE_FILE, loadCache, saveCache, type TypeState } from "./xds-cache.js";
import { nodeMessage, type NodeOptions } from "./xds-node.js";
import {
  decodeAny,
  dependentNames,
  resourceName,
  WILDCARD_TYPES,
  XDS_TYPES,
  XdsType,
  type XdsResource,
  type XdsTypeUrl,
} from "./xds-resources.js";

/**
 * Decides whether a response is usable. `resources`: the resources the response carries (decoded); `next`: the
 * type's full state if the response were applied. Returns (or resolves to) null to accept, or the reason to
 * reject (the NACK's `error_detail.message`); a throw or a rejection rejects with its message. May be async
 * (e.g. configuring a filter VM): responses are handled one at a time, in order, so the next response of the
 * stream waits. Must not alter its arguments.
 */
export type Validator = (
  typeUrl: XdsTypeUrl,
  resources: readonly XdsResource[],
  next: ReadonlyMap<string, XdsResource>,
) => string | null | Promise<string | null>;

export type AdsProtocol = "delta" | "sotw";

export interface AdsClientOptions {
  /** the ADS server, HOST:PORT */
  server: string;
  /** default: insecure (plain HTTP/2 on loopback) */
  credentials?: grpc.ChannelCredentials;
  node?: NodeOptions;
  /** default: accept everything that decodes */
  validate?: Validator;
  /** keep the last acknowledged resources in DIR/xds-cache.json, and start from it */
  cacheDir?: string;
  /** "auto" (default): Delta, then SotW for good once the server answers Delta with UNIMPLEMENTED */
  protocol?: AdsProtocol | "auto";
  /** reconnect delays (default 250 ms base, 30 s max, full jitter) */
  backoff?: BackoffOptions;
  /** grpc-js channel options; by default the receive limit is lifted (Envoy has none, grpc-js 4 MiB) */
  channelOptions?: grpc.ChannelOptions;
}

export interface UpdateEvent {
  typeUrl: XdsTypeUrl;
  resources: ReadonlyMap<string, XdsResource>;
  source: "server" | "cache";
}

/** `google.rpc.Code.INVALID_ARGUMENT`, the code of every NACK. */
const INVALID_ARGUMENT = 3;

/** The state of one stream; a new stream starts from a new one (nonces do not survive a stream). */
interface StreamState {
  protocol: AdsProtocol;
  call: grpc.ClientDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, DiscoveryResponse | DeltaDiscoveryResponse>;
  /** the latest nonce received per type */
  nonces: Map<string, string>;
  /** the names requested per named type on this stream (SotW: the last resource_names sent) */
  subscribed: Map<string, Set<string>>;
  nodeSent: boolean;
  responded: boolean;
  /** the responses are handled one after the other: the end of the last one queued */
  handled: Promise<void>;
}

export class AdsClient extends EventEmitter {
  private readonly options: AdsClientOptions;
  private readonly node: NodeMessage;
  private readonly backoff: Backoff;
  private readonly grpcClient: grpc.Client;
  private readonly state = new Map<XdsTypeUrl, TypeState>();
  private protocolNow: AdsProtocol;
  private stream: StreamState | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private saving: Promise<void> | undefined;
  private saveAgain = false;

  constructor(options: AdsClientOptions) {
    super();
    if (!/^[^\s:]+:\d+$/.test(options.server) && !/^\[[0-9a-fA-F:.]+\]:\d+$/.test(options.server)) {
      throw new Error(`xds server: expected HOST:PORT, got ${JSON.stringify(options.server)}`);
    }
    this.options = options;
    this.node = nodeMessage(options.node);
    this.backoff = new Backoff(options.backoff);
    this.protocolNow = options.protocol === "sotw" ? "sotw" : "delta";
    for (const type of XDS_TYPES) this.state.set(type, { versionInfo: "", resources: new Map() });
    const { client } = loadAdsService();
    // the channel's own reconnect backoff (1 s to 120 s by default) would come on top of ours: align it
    this.grpcClient = new client(options.server, options.credentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.initial_reconnect_backoff_ms": options.backoff?.baseMs ?? 250,
      "grpc.max_reconnect_backoff_ms": options.backoff?.maxMs ?? 30_000,
      ...options.channelOptions,
    });
  }

  /** The node id sent to the server. */
  get nodeId(): string {
    return this.node.id;
  }

  /** The protocol of the current (or next) stream. */
  get protocol(): AdsProtocol {
    return this.protocolNow;
  }

  /** Loads the cache (when `cacheDir` is set; `update` events with source "cache"), then opens the stream. */
  async start(): Promise<void> {
    if (this.started) throw new Error("AdsClient.start: already started");
    this.started = true;
    if (this.options.cacheDir !== undefined) await this.loadFromCache(this.options.cacheDir);
    if (!this.closed) this.connect();
  }

  /** Ends the stream and the channel; waits for a cache write in progress. The client cannot be restarted. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.call.cancel();
    this.grpcClient.close();
    while (this.saving) await this.saving;
  }

  /** The current (acknowledged) resources of a type. Read-only. */
  resources(typeUrl: XdsTypeUrl): ReadonlyMap<string, XdsResource> {
    return this.state.get(typeUrl)!.resources;
  }

  /**
   * The names subscribed but not received yet, per named type (empty when the configuration is complete:
   * every EDS cluster has its endpoints, every DRDS and ECDS name its resource).
   */
  missing(): Map<XdsTypeUrl, string[]> {
    const out = new Map<XdsTypeUrl, string[]>();
    for (const [type, names] of this.wantedNames()) {
      const have = this.state.get(type)!.resources;
      const absent = [...names].filter((n) => !have.has(n));
      if (absent.length > 0) out.set(type, absent);
    }
    return out;
  }

  // --- the stream ---------------------------------------------------------------------------------

  private connect(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    const protocol = this.protocolNow;
    const call =
      protocol === "delta"
        ? (this.grpcClient as unknown as { DeltaAggregatedResources(): StreamState["call"] }).DeltaAggregatedResources()
        : (this.grpcClient as unknown as { StreamAggregatedResources(): StreamState["call"] }).StreamAggregatedResources();
    const stream: StreamState = { protocol, call, nonces: new Map(), subscribed: new Map(), nodeSent: false, responded: false, handled: Promise.resolve() };
    this.stream = stream;
    call.on("data", (message: DiscoveryResponse | DeltaDiscoveryResponse) => {
      if (this.stream !== stream) return;
      if (!stream.responded) {
        stream.responded = true;
        this.backoff.reset();
        this.emit("connected", { protocol });
      }
      stream.handled = stream.handled
        .then(() => {
          if (this.stream !== stream) return; // the stream ended while an earlier response was validated
          return protocol === "delta" ? this.onDeltaResponse(stream, message as DeltaDiscoveryResponse) : this.onSotwResponse(stream, message as DiscoveryResponse);
        })
        .catch((err: Error) => {
          this.emit("warning", { message: `an ADS response handler failed: ${err.stack ?? err.message}` });
        });
    });
    call.on("error", () => {}); // the end is handled once, on "status"
    call.on("status", (status: grpc.StatusObject) => this.onStreamEnd(stream, status));
    this.subscribeAll(stream);
  }

  private onStreamEnd(stream: StreamState, status: grpc.StatusObject): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    if (this.closed) return;
    let retryInMs: number;
    if (status.code === grpc.status.UNIMPLEMENTED && stream.protocol === "delta" && (this.options.protocol ?? "auto") === "auto") {
      this.protocolNow = "sotw";
      retryInMs = 0;
    } else {
      retryInMs = this.backoff.next();
    }
    this.emit("disconnected", { protocol: stream.protocol, code: status.code, details: status.details, retryInMs });
    this.retryTimer = setTimeout(() => this.connect(), retryInMs);
  }

  private send(stream: StreamState, request: DiscoveryRequest | DeltaDiscoveryRequest): void {
    if (this.stream !== stream) return;
    if (!stream.nodeSent) {
      request.node = this.node;
      stream.nodeSent = true;
    }
    stream.call.write(request);
  }

  /** The first requests of a stream: CDS, LDS, then every named type that has names. */
  private subscribeAll(stream: StreamState): void {
    const wanted = this.wantedNames();
    for (const type of [XdsType.cluster, XdsType.listener, XdsType.clusterLoadAssignment, XdsType.dubboRoutes, XdsType.extensionConfig]) {
      const wildcard = WILDCARD_TYPES.has(type);
      const names = wildcard ? new Set<string>() : wanted.get(type)!;
      if (!wildcard && names.size === 0) continue;
      if (!wildcard) stream.subscribed.set(type, new Set(names));
      const held = this.state.get(type)!;
      if (stream.protocol === "delta") {
        const initial: Record<string, string> = {};
        for (const r of held.resources.values()) if (wildcard || names.has(r.name)) initial[r.name] = r.version;
        this.send(stream, { type_url: type, resource_names_subscribe: [...names].sort(), initial_resource_versions: initial });
      } else {
        this.send(stream, { type_url: type, resource_names: [...names].sort(), version_info: held.versionInfo });
      }
    }
  }

  /** The names each named type should be subscribed to, from the current Clusters and Listeners. */
  private wantedNames(): Map<XdsTypeUrl, Set<string>> {
    return dependentNames(this.state.get(XdsType.cluster)!.resources.values(), this.state.get(XdsType.listener)!.resources.values());
  }

  // --- responses ----------------------------------------------------------------------------------

  private async onDeltaResponse(stream: StreamState, response: DeltaDiscoveryResponse): Promise<void> {
    const typeUrl = response.type_url ?? "";
    const nonce = response.nonce ?? "";
    stream.nonces.set(typeUrl, nonce);
    if (!this.isKnownType(typeUrl)) {
      this.send(stream, { type_url: typeUrl, response_nonce: nonce, error_detail: this.nackStatus(`dubbo-mesh proxy does not subscribe to ${typeUrl}`) });
      return;
    }
    const held = this.state.get(typeUrl)!;
    const next = new Map(held.resources);
    const received: XdsResource[] = [];
    let error: string | null = null;
    try {
      for (const [i, entry] of (response.resources ?? []).entries()) {
        if (!entry.resource) continue; // a name the server knows nothing about: nothing to apply
        const { resource, bytes } = decodeAny(typeUrl, entry.resource);
        const name = entry.name || resourceName(typeUrl, resource);
        if (name === "") throw new Error(`resources[${i}] has no name`);
        if (!this.isWanted(stream, typeUrl, name)) continue; // not asked for (any more): ignored, as Envoy does
        const r: XdsResource = { name, version: entry.version ?? "", resource, bytes };
        received.push(r);
        next.set(name, r);
      }
    } catch (err) {
      error = (err as Error).message;
    }
    for (const name of response.removed_resources ?? []) next.delete(name);
    error ??= await this.validate(typeUrl, received, next);
    if (this.stream !== stream) return; // ended while validating: the response is answered on no stream
    if (error !== null) {
      this.send(stream, { type_url: typeUrl, response_nonce: nonce, error_detail: this.nackStatus(error) });
      this.emit("nack", { typeUrl, nonce, error });
      return;
    }
    held.resources = next;
    this.send(stream, { type_url: typeUrl, response_nonce: nonce });
    this.accepted(stream, typeUrl, nonce, "");
  }

  private async onSotwResponse(stream: StreamState, response: DiscoveryResponse): Promise<void> {
    const typeUrl = response.type_url ?? "";
    const nonce = response.nonce ?? "";
    const version = response.version_info ?? "";
    stream.nonces.set(typeUrl, nonce);
    if (!this.isKnownType(typeUrl)) {
      this.send(stream, { type_url: typeUrl, response_nonce: nonce, error_detail: this.nackStatus(`dubbo-mesh proxy does not subscribe to ${typeUrl}`) });
      return;
    }
    const held = this.state.get(typeUrl)!;
    // Listener and Cluster responses are the full state; the named types' responses update the names they carry
    const next = WILDCARD_TYPES.has(typeUrl) ? new Map<string, XdsResource>() : new Map(held.resources);
    const received: XdsResource[] = [];
    const seen = new Set<string>();
    let error: string | null = null;
    try {
      for (const [i, any] of (response.resources ?? []).entries()) {
        const { resource, bytes } = decodeAny(typeUrl, any);
        const name = resourceName(typeUrl, resource);
        if (name === "") throw new Error(`resources[${i}] has no name`);
        if (seen.has(name)) throw new Error(`resources[${i}]: ${name} appears twice`);
        seen.add(name);
        if (!this.isWanted(stream, typeUrl, name)) continue;
        const r: XdsResource = { name, version, resource, bytes };
        received.push(r);
        next.set(name, r);
      }
    } catch (err) {
      error = (err as Error).message;
    }
    error ??= await this.validate(typeUrl, received, next);
    if (this.stream !== stream) return;
    const names = [...(stream.subscribed.get(typeUrl) ?? [])].sort();
    if (error !== null) {
      // the last good version, the rejected response's nonce
      this.send(stream, { type_url: typeUrl, resource_names: names, version_info: held.versionInfo, response_nonce: nonce, error_detail: this.nackStatus(error) });
      this.emit("nack", { typeUrl, nonce, error });
      return;
    }
    held.resources = next;
    held.versionInfo = version;
    this.send(stream, { type_url: typeUrl, resource_names: names, version_info: version, response_nonce: nonce });
    this.accepted(stream, typeUrl, nonce, version);
  }

  /** After an ACK: the update event, the subscriptions the new Clusters/Listeners ask for, the cache. */
  private accepted(stream: StreamState, typeUrl: XdsTypeUrl, nonce: string, version: string): void {
    this.emit("ack", { typeUrl, nonce, version });
    this.emitUpdate(typeUrl, "server");
    if (WILDCARD_TYPES.has(typeUrl)) this.followSubscriptions(stream);
    this.scheduleSave();
  }

  /** Subscribes the names the current Clusters/Listeners ask for and unsubscribes (and drops) the others. */
  private followSubscriptions(stream: StreamState): void {
    for (const [type, wanted] of this.wantedNames()) {
      const had = stream.subscribed.get(type) ?? new Set<string>();
      const added = [...wanted].filter((n) => !had.has(n)).sort();
      const removed = [...had].filter((n) => !wanted.has(n)).sort();
      if (added.length === 0 && removed.length === 0) continue;
      stream.subscribed.set(type, new Set(wanted));
      const held = this.state.get(type)!;
      if (stream.protocol === "delta") {
        this.send(stream, { type_url: type, resource_names_subscribe: added, resource_names_unsubscribe: removed });
      } else {
        // SotW: the whole name list, the type's last good version and its latest nonce
        this.send(stream, { type_url: type, resource_names: [...wanted].sort(), version_info: held.versionInfo, response_nonce: stream.nonces.get(type) ?? "" });
      }
      let dropped = false;
      for (const name of removed) dropped = held.resources.delete(name) || dropped;
      if (dropped) this.emitUpdate(type, "server");
    }
  }

  private isKnownType(typeUrl: string): typeUrl is XdsTypeUrl {
    return this.state.has(typeUrl as XdsTypeUrl);
  }

  private isWanted(stream: StreamState, typeUrl: XdsTypeUrl, name: string): boolean {
    return WILDCARD_TYPES.has(typeUrl) || (stream.subscribed.get(typeUrl)?.has(name) ?? false);
  }

  private async validate(typeUrl: XdsTypeUrl, received: readonly XdsResource[], next: ReadonlyMap<string, XdsResource>): Promise<string | null> {
    if (!this.options.validate) return null;
    try {
      return await this.options.validate(typeUrl, received, next);
    } catch (err) {
      return `validation failed: ${(err as Error).message}`;
    }
  }

  private nackStatus(message: string): RpcStatus {
    return { code: INVALID_ARGUMENT, message };
  }

  private emitUpdate(typeUrl: XdsTypeUrl, source: UpdateEvent["source"]): void {
    const event: UpdateEvent = { typeUrl, resources: this.state.get(typeUrl)!.resources, source };
    this.emit("update", event);
  }

  // --- the disk cache -----------------------------------------------------------------------------

  private async loadFromCache(dir: string): Promise<void> {
    let cache;
    try {
      cache = await loadCache(dir);
    } catch (err) {
      this.emit("warning", { message: `${(err as Error).message}; starting without it` });
      return;
    }
    if (!cache) return;
    for (const [type, state] of cache.types) this.state.set(type as XdsTypeUrl, state);
    this.emit("cache-loaded", { dir, savedAt: cache.savedAt, message: cacheNotice(dir, cache) });
    for (const type of XDS_TYPES) if (this.state.get(type)!.resources.size > 0) this.emitUpdate(type, "cache");
  }

  /** Writes the cache after the current turn; one write at a time, the latest state last. */
  private scheduleSave(): void {
    const dir = this.options.cacheDir;
    if (dir === undefined) return;
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    const run = async (): Promise<void> => {
      do {
        this.saveAgain = false;
        await new Promise<void>((resolve) => setImmediate(resolve)); // one write for the responses of one turn
        try {
          await saveCache(dir, this.node.id, new Date(), this.state);
          this.emit("cache-saved", { file: join(dir, CACHE_FILE) });
        } catch (err) {
          this.emit("warning", { message: `xds cache ${join(dir, CACHE_FILE)}: not written: ${(err as Error).message}` });
        }
      } while (this.saveAgain);
      this.saving = undefined;
    };
    this.saving = run();
  }
}
