/**
 * A real grpc-js ADS server on loopback that a test drives by hand: it records every request of every stream,
 * sends exactly the responses the test asks for, and checks every request against the protocol (the nonce and
 * version rules below). Violations are collected, not thrown (a throw in a gRPC handler reaches no test):
 * tests assert `server.violations()` is empty.
 *
 * Checked on every request of a stream, per type:
 *  - the first request of the stream carries `node` with an id;
 *  - a request answering a response (ACK or NACK) names the oldest response of that type not answered yet
 *    (responses are answered once each, in order); its nonce is one this stream sent for the type;
 *  - SotW: an ACK echoes that response's `version_info`; a NACK, and any other request, carries the last
 *    version the client ACKed (on the first request: whatever it held before, remembered from then on);
 *  - a NACK's `error_detail` has code 3 (INVALID_ARGUMENT) and a message;
 *  - Delta: a request with no nonce carries subscription changes or is the first of its type on the stream.
 */
import * as grpc from "@grpc/grpc-js";
import {
  loadAdsService,
  type AnyMessage,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from "../../proxy/xds/ads-proto.js";

type Kind = "delta" | "sotw";
type AnyRequest = DiscoveryRequest & DeltaDiscoveryRequest;

interface TypeTrack {
  /** nonces sent, oldest first, with their SotW version */
  sent: { nonce: string; version: string }[];
  /** how many of `sent` were answered */
  answered: number;
  /** SotW: the version the client last ACKed (undefined before its first request of the type) */
  acked?: string;
  requests: number;
}

export class ScriptedStream {
  readonly requests: AnyRequest[] = [];
  readonly violations: string[] = [];
  ended = false;
  private taken = new Set<number>();
  private waiters: (() => void)[] = [];
  private tracks = new Map<string, TypeTrack>();
  private nonceCounter = 0;

  constructor(
    readonly kind: Kind,
    private readonly call: grpc.ServerDuplexStream<AnyRequest, DiscoveryResponse | DeltaDiscoveryResponse>,
    private readonly prefix: string,
  ) {
    call.on("data", (request: AnyRequest) => this.onRequest(request));
    call.on("error", () => {});
    call.on("end", () => this.finish());
    call.on("close", () => this.finish());
    call.on("cancelled", () => this.finish());
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private track(typeUrl: string): TypeTrack {
    let t = this.tracks.get(typeUrl);
    if (!t) this.tracks.set(typeUrl, (t = { sent: [], answered: 0, requests: 0 }));
    return t;
  }

  private onRequest(r: AnyRequest): void {
    const index = this.requests.length;
    const bad = (what: string) => this.violations.push(`request #${index} (${r.type_url}): ${what}`);
    if (index === 0 && !r.node?.id) bad("the first request of the stream has no node id");
    const t = this.track(r.type_url);
    const nonce = r.response_nonce ?? "";
    const answering = nonce !== "" && t.answered < t.sent.length && t.sent.findIndex((s) => s.nonce === nonce) >= t.answered;
    if (nonce !== "" && !t.sent.some((s) => s.nonce === nonce)) bad(`nonce ${JSON.stringify(nonce)} was never sent for this type`);
    if (answering) {
      const expected = t.sent[t.answered]!;
      if (expected.nonce !== nonce) bad(`answers ${nonce} before the older response ${expected.nonce}`);
      t.answered = t.sent.findIndex((s) => s.nonce === nonce) + 1;
    } else if (nonce !== "" && t.sent.findIndex((s) => s.nonce === nonce) < t.sent.length - 1) {
      bad(`nonce ${nonce} is not the latest sent for this type (${t.sent[t.sent.length - 1]!.nonce})`);
    }
    if (r.error_detail) {
      if (r.error_detail.code !== 3) bad(`error_detail.code ${r.error_detail.code}, expected 3 (INVALID_ARGUMENT)`);
      if (!r.error_detail.message) bad("error_detail without a message");
      if (!answering) bad("error_detail on a request that answers no response");
    }
    if (this.kind === "sotw") {
      const version = r.version_info ?? "";
      if (t.requests === 0 && !answering) t.acked = version;
      if (answering && !r.error_detail) {
        const sentVersion = t.sent.find((s) => s.nonce === nonce)!.version;
        if (version !== sentVersion) bad(`ACK of ${nonce} carries version ${JSON.stringify(version)}, expected ${JSON.stringify(sentVersion)}`);
        t.acked = version;
      } else if (version !== t.acked) {
        bad(`version_info ${JSON.stringify(version)}, expected the last ACKed ${JSON.stringify(t.acked)}`);
      }
    } else if (nonce === "" && t.requests > 0 && !(r.resource_names_subscribe?.length || r.resource_names_unsubscribe?.length)) {
      bad("a request with no nonce and no subscription change");
    }
    t.requests++;
    this.requests.push(r);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * The next request not taken yet that matches `filter` (in arrival order), waiting up to `timeoutMs`.
   * Fails naming what was wanted and what arrived.
   */
  async take(filter: (r: AnyRequest) => boolean = () => true, what = "a request", timeoutMs = 5000): Promise<AnyRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.requests.length; i++) {
        if (!this.taken.has(i) && filter(this.requests[i]!)) {
          this.taken.add(i);
          return this.requests[i]!;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new Error(`${what}: not received (${this.ended ? "stream ended" : "timeout"}); requests: ${JSON.stringify(this.requests.map(summary))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next request of `typeUrl`. */
  takeType(typeUrl: string, what = `a request of ${typeUrl}`): Promise<AnyRequest> {
    return this.take((r) => r.type_url === typeUrl, what);
  }

  /** Sends a SotW response; returns its nonce. */
  sendSotw(typeUrl: string, version: string, resources: AnyMessage[]): string {
    const nonce = `${this.prefix}-${++this.nonceCounter}`;
    this.track(typeUrl).sent.push({ nonce, version });
    this.call.write({ type_url: typeUrl, version_info: version, resources, nonce });
    return nonce;
  }

  /** Sends a Delta response; returns its nonce. */
  sendDelta(typeUrl: string, resources: { name: string; version: string; resource: AnyMessage }[], removed: string[] = []): string {
    const nonce = `${this.prefix}-${++this.nonceCounter}`;
    this.track(typeUrl).sent.push({ nonce, version: "" });
    this.call.write({ type_url: typeUrl, resources, removed_resources: removed, nonce });
    return nonce;
  }

  /** Responses of `typeUrl` sent but not answered yet. */
  unanswered(typeUrl: string): number {
    const t = this.track(typeUrl);
    return t.sent.length - t.answered;
  }
}

export class ScriptedAdsServer {
  readonly streams: ScriptedStream[] = [];
  private readonly server = new grpc.Server();
  private waiters: (() => void)[] = [];
  port = 0;

  /** `delta: false` leaves DeltaAggregatedResources unimplemented (grpc-js answers UNIMPLEMENTED). */
  static async start(options: { delta?: boolean; port?: number } = {}): Promise<ScriptedAdsServer> {
    const s = new ScriptedAdsServer();
    const { service } = loadAdsService();
    const open = (kind: Kind) => (call: grpc.ServerDuplexStream<AnyRequest, DiscoveryResponse | DeltaDiscoveryResponse>) => {
      s.streams.push(new ScriptedStream(kind, call, `${kind}${s.streams.length + 1}`));
      for (const wake of s.waiters.splice(0)) wake();
    };
    s.server.addService(service, {
      StreamAggregatedResources: open("sotw"),
      ...(options.delta === false ? {} : { DeltaAggregatedResources: open("delta") }),
    });
    s.port = await new Promise<number>((resolve, reject) =>
      s.server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    return s;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The n-th stream opened (0-based), waiting up to `timeoutMs` for it. */
  async stream(n: number, timeoutMs = 10_000): Promise<ScriptedStream> {
    const deadline = Date.now() + timeoutMs;
    while (this.streams.length <= n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stream #${n}: not opened within ${timeoutMs} ms (${this.streams.length} opened)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.streams[n]!;
  }

  violations(): string[] {
    return this.streams.flatMap((s) => s.violations);
  }

  /** Stops at once: open streams end with an error on the client's side. */
  stop(): Promise<void> {
    this.server.forceShutdown();
    return Promise.resolve();
  }
}

function summary(r: AnyRequest): Record<string, unknown> {
  return {
    type: r.type_url.slice(r.type_url.lastIndexOf(".") + 1),
    nonce: r.response_nonce,
    ...(r.version_info !== undefined ? { version: r.version_info } : {}),
    ...(r.resource_names?.length ? { names: r.resource_names } : {}),
    ...(r.resource_names_subscribe?.length ? { subscribe: r.resource_names_subscribe } : {}),
    ...(r.resource_names_unsubscribe?.length ? { unsubscribe: r.resource_names_unsubscribe } : {}),
    ...(r.error_detail ? { error: r.error_detail.message } : {}),
  };
}
