/**
 * A real gRPC ADS client for tests: opens SotW (`StreamAggregatedResources`) and Delta
 * (`DeltaAggregatedResources`) streams on `@grpc/grpc-js`, records every response decoded with the Envoy
 * protos, and ACKs or NACKs on demand the way Envoy does (SotW: version_info = last accepted version,
 * response_nonce = latest nonce of the type, the full name list each time).
 *
 * `next()` waits for the next response; `barrier()` proves that nothing else was sent: it subscribes to a
 * fresh type the server has never heard of (always answered at once) and returns the responses that arrived
 * before that answer, since a stream delivers in order.
 */
import * as grpc from "@grpc/grpc-js";
import {
  adsServicePath,
  decodeMessage,
  encodeMessage,
  jsonToStruct,
  loadDiscoveryTypes,
  type DiscoveryTypes,
} from "../../control/xds/discovery-protos.js";

export interface TestNode {
  id: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

export interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: AnyMessage[];
  /** Encoded size of the response. */
  bytes: number;
}

export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string; version: string; resource: AnyMessage }[];
  removed_resources: string[];
  bytes: number;
}

let types: DiscoveryTypes | undefined;
function discoveryTypes(): DiscoveryTypes {
  return (types ??= loadDiscoveryTypes());
}

/** Records a stream's responses and hands them out in order. */
class ResponseQueue<R> {
  readonly all: R[] = [];
  private cursor = 0;
  private waiter: { resolve: () => void } | undefined;
  error: grpc.ServiceError | undefined;
  ended = false;

  push(r: R): void {
    this.all.push(r);
    this.wake();
  }

  fail(err: grpc.ServiceError): void {
    this.error = err;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve();
  }

  /** The next response not handed out yet; rejects after `timeoutMs` or when the stream fails. */
  async next(timeoutMs = 5000): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    while (this.cursor >= this.all.length) {
      if (this.error) throw new Error(`ADS stream failed: ${this.error.code} ${this.error.details}`);
      if (this.ended) throw new Error("ADS stream ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ADS response within ${timeoutMs} ms (${this.all.length} received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    }
    return this.all[this.cursor++]!;
  }

  /** Waits for the end of the stream: resolves with its error, or undefined when it ended cleanly. */
  async closed(timeoutMs = 5000): Promise<grpc.ServiceError | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.error && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`ADS stream still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = { resolve: () => (clearTimeout(timer), resolve()) };
      });
    }
    return this.error;
  }
}

let barrierCount = 0;
function barrierType(): string {
  return `test.barrier/v1/Probe${++barrierCount}`;
}

export class AdsTestClient {
  readonly client: grpc.Client;
  private readonly streams: TestStream<SotwResponse | DeltaResponse>[] = [];

  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(address, credentials, options);
  }

  /** Opens a SotW stream; `node` goes on its first request. */
  sotw(node: TestNode): SotwTestStream {
    const t = discoveryTypes();
    const call = this.client.makeBidiStreamRequest(
      `${adsServicePath}/StreamAggregatedResources`,
      (value: Record<string, unknown>) => encodeMessage(t.DiscoveryRequest, t.DiscoveryRequest.fromObject(value) as unknown as Record<string, unknown>),
      (bytes: Buffer) => ({ ...(decodeMessage(t.DiscoveryResponse, bytes) as unknown as SotwResponse), bytes: bytes.length }),
    );
    const stream = new SotwTestStream(call, node);
    this.streams.push(stream);
    return stream;
  }

  /** Opens a Delta stream; `node` goes on its first request. */
  delta(node: TestNode): DeltaTestStream {
    const t = discoveryTypes();
    const call = this.client.makeBidiStreamRequest(
      `${adsServicePath}/DeltaAggregatedResources`,
      (value: Record<string, unknown>) => encodeMessage(t.DeltaDiscoveryRequest, t.DeltaDiscoveryRequest.fromObject(value) as unknown as Record<string, unknown>),
      (bytes: Buffer) => ({ ...(decodeMessage(t.DeltaDiscoveryResponse, bytes) as unknown as DeltaResponse), bytes: bytes.length }),
    );
    const stream = new DeltaTestStream(call, node);
    this.streams.push(stream);
    return stream;
  }

  /** Cancels the streams still open and closes the channel. */
  close(): void {
    for (const stream of this.streams) if (!stream.responses.ended && !stream.responses.error) stream.cancel();
    this.client.close();
  }
}

type Call<Res> = grpc.ClientDuplexStream<Record<string, unknown>, Res>;

abstract class TestStream<Res extends { type_url: string }> {
  readonly responses = new ResponseQueue<Res>();
  private nodeSent = false;

  constructor(
    protected readonly call: Call<Res>,
    readonly node: TestNode,
  ) {
    call.on("data", (r: Res) => this.onResponse(r));
    call.on("error", (err: grpc.ServiceError) => this.responses.fail(err));
    call.on("end", () => this.responses.end());
  }

  protected onResponse(r: Res): void {
    this.responses.push(r);
  }

  /** Writes a raw request (field names in proto spelling); the node is added to the stream's first request. */
  send(request: Record<string, unknown>): void {
    const out = { ...request };
    if (!this.nodeSent) {
      this.nodeSent = true;
      out["node"] = { id: this.node.id, cluster: this.node.cluster ?? "test-cluster", metadata: jsonToStruct(this.node.metadata ?? {}) };
    }
    this.call.write(out);
  }

  next(timeoutMs?: number): Promise<Res> {
    return this.responses.next(timeoutMs);
  }

  /** The next response, which must be of `typeUrl`. */
  async nextOf(typeUrl: string, timeoutMs?: number): Promise<Res> {
    const r = await this.next(timeoutMs);
    if (r.type_url !== typeUrl) throw new Error(`expected a ${typeUrl} response, got ${r.type_url}`);
    return r;
  }

  /** The responses sent before the answer to a fresh probe subscription (see the file comment). */
  async barrier(timeoutMs = 5000): Promise<Res[]> {
    const probe = barrierType();
    this.subscribeProbe(probe);
    const before: Res[] = [];
    for (;;) {
      const r = await this.next(timeoutMs);
      if (r.type_url === probe) return before;
      before.push(r);
    }
  }

  protected abstract subscribeProbe(typeUrl: string): void;

  /** Half-closes the stream (the server ends it) and waits for its end. */
  async close(): Promise<void> {
    this.call.end();
    await this.responses.closed().catch(() => undefined);
  }

  /** Cancels the stream (as a proxy that goes away). */
  cancel(): void {
    this.call.cancel();
  }
}

export class SotwTestStream extends TestStream<SotwResponse> {
  /** Per type: the names subscribed, the version accepted, the latest nonce received. */
  private readonly state = new Map<string, { names: string[]; version: string; nonce: string }>();

  private typeState(typeUrl: string) {
    let s = this.state.get(typeUrl);
    if (!s) this.state.set(typeUrl, (s = { names: [], version: "", nonce: "" }));
    return s;
  }

  protected override onResponse(r: SotwResponse): void {
    this.typeState(r.type_url).nonce = r.nonce;
    super.onResponse(r);
  }

  /** Subscribes to `names` of a type (empty: wildcard), with the type's accepted version and latest nonce. */
  subscribe(typeUrl: string, names: string[] = [], options: { version?: string } = {}): void {
    const s = this.typeState(typeUrl);
    s.names = names;
    if (options.version !== undefined) s.version = options.version;
    this.send({ type_url: typeUrl, resource_names: names, version_info: s.version, response_nonce: s.nonce });
  }

  /** Accepts a response: its version becomes the type's version. */
  ack(r: SotwResponse): void {
    const s = this.typeState(r.type_url);
    s.version = r.version_info;
    this.send({ type_url: r.type_url, resource_names: s.names, version_info: s.version, response_nonce: r.nonce });
  }

  /** Rejects a response: the previous version is kept and `error_detail` says why. */
  nack(r: SotwResponse, message: string): void {
    const s = this.typeState(r.type_url);
    this.send({
      type_url: r.type_url,
      resource_names: s.names,
      version_info: s.version,
      response_nonce: r.nonce,
      error_detail: { code: grpc.status.INVALID_ARGUMENT, message },
    });
  }

  protected subscribeProbe(typeUrl: string): void {
    this.subscribe(typeUrl);
  }
}

export class DeltaTestStream extends TestStream<DeltaResponse> {
  /** Per type: what the client holds, name -> version (updated from every response, as a client caches). */
  readonly held = new Map<string, Map<string, string>>();

  protected override onResponse(r: DeltaResponse): void {
    let held = this.held.get(r.type_url);
    if (!held) this.held.set(r.type_url, (held = new Map()));
    for (const res of r.resources) held.set(res.name, res.version);
    for (const name of r.removed_resources) held.delete(name);
    super.onResponse(r);
  }

  /** Sends a subscription change (no nonce unless given: a spontaneous request). */
  subscribe(
    typeUrl: string,
    subscribe: string[] = [],
    options: { unsubscribe?: string[]; initialVersions?: Record<string, string>; nonce?: string } = {},
  ): void {
    this.send({
      type_url: typeUrl,
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: options.unsubscribe ?? [],
      initial_resource_versions: options.initialVersions ?? {},
      response_nonce: options.nonce ?? "",
    });
  }

  ack(r: DeltaResponse): void {
    this.send({ type_url: r.type_url, response_nonce: r.nonce });
  }

  nack(r: DeltaResponse, message: string): void {
    this.send({ type_url: r.type_url, response_nonce: r.nonce, error_detail: { code: grpc.status.INVALID_ARGUMENT, message } });
  }

  protected subscribeProbe(typeUrl: string): void {
    this.subscribe(typeUrl);
  }
}
