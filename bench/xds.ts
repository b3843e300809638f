/**
 * `npm run bench:xds` — the live control plane under load, end to end on loopback:
 *
 *   real ZooKeeper (providers as Java Dubbo registers them) → `node bin/dubbo-mesh.js control` (a child
 *   process, so its peak RSS, VmHWM, is its own) → grpc-js ADS clients in this process.
 *
 * For each size (1k and 10k services × 10 endpoints; one DubboRoute with two subsets and three routes
 * applies to every service, so each service has 3 Clusters and 3 ClusterLoadAssignments):
 *   phase "10 Delta + 10 SotW": 10 Delta then 10 SotW Envoy-like clients connect, `--wave` (10) at once (wildcard CDS and LDS, then EDS for
 *     every cluster, everything ACKed). `firstFullMs`: from opening the stream to holding every Cluster, every
 *     assignment and the Listener, p50/max per variant. Then ~20 registry changes (register, then
 *     deregister, one extra provider znode of one service): `changeMs` is the time from the ZooKeeper request
 *     to the last client having received the EDS update (debounce included), p50/p99; `changeBytes` the
 *     bytes of that EDS response per client (median), Delta vs SotW.
 *   phase "100 Delta + 10 SotW": 90 more Delta clients connect (waves of 10), the same changes again.
 *   (Waves, because every stream's first response holds the whole configuration and the ADS server writes it
 *   at once: 100 streams opened together at 10k services buffer 100 full configurations, see docs/xds.md.)
 *   scoped: one Delta client with DUBBO_MESH_SERVICES = 10 interfaces vs one full Delta client: bytes
 *     received up to the full configuration and bytes of the resources held.
 *   `controlPeakRssMB`: the control plane's VmHWM at the end of the size.
 * Then MCP: 10k services, `control --mcp`, one istiod-like SotW client (subscribes to all of
 * ISTIOD_SUBSCRIBED_TYPE_URLS at once, ACKs): time until every type is answered, bytes, and the latency from
 * a registry change to the updated ServiceEntry list (p50/p99), with that response's size.
 *
 * Prints one JSON object per line. Everything is bounded: the run stops itself after 10 minutes.
 * Options: --sizes 1000,10000  --changes 20  --mcp-size 10000 (0: no MCP part)
 *          --wave 10 (streams opened together)  --profile DIR (the control plane runs under `node --cpu-prof`; one .cpuprofile per process in DIR)
 * Needs dist/ (`npm run bench:xds` runs `npm run build:ts` first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { packageRoot } from "../common/paths.js";
import { ISTIOD_SUBSCRIBED_TYPE_URLS } from "../control/mcp/type-urls.js";
import { adsServicePath, encodeMessage, jsonToStruct, loadDiscoveryTypes } from "../control/xds/discovery-protos.js";
import { XdsTypeUrl } from "../control/xds/type-urls.js";
import { DubboZkWriter } from "../dev/dubbo-zk-writer.js";
import { ZooKeeperServer } from "../dev/zookeeper.js";
import { BENCH_RULES, benchInterface } from "../dev/bench-mesh.js";


const iface = benchInterface;

function providerUrl(service: number, endpoint: number): string {
  const host = `127.${(service >> 8) & 255}.${service & 255}.${endpoint + 1}`;
  return (
    `dubbo://${host}:${20881 + endpoint}/${iface(service)}?anyhost=true&application=app${service}&dubbo=2.0.2&dynamic=true&interface=${iface(service)}` +
    `&methods=getUser,sayHello,deleteUser&pid=${1000 + endpoint}&revision=v${(endpoint % 2) + 1}&side=provider&timestamp=1618918522655&version=1.0.0&weight=100`
  );
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const kB = (bytes: number) => round(bytes / 1024, 2);
const MB = (bytes: number) => round(bytes / 1048576, 1);

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!);
}

const types = loadDiscoveryTypes();

interface Received {
  typeUrl: string;
  version: string;
  nonce: string;
  /** Delta: the names of the resources sent; SotW: empty */
  names: string[];
  resources: number;
  removed: number;
  resourceBytes: number;
  bytes: number;
  at: number;
}

function decoder(type: protobuf.Type, delta: boolean) {
  return (buf: Buffer): Received => {
    const at = performance.now();
    const m = type.decode(buf) as unknown as {
      type_url: string;
      nonce: string;
      version_info?: string;
      system_version_info?: string;
      resources: ({ name: string; resource?: { value: Uint8Array } } | { value: Uint8Array })[];
      removed_resources?: string[];
    };
    let resourceBytes = 0;
    const names: string[] = [];
    for (const r of m.resources) {
      if (delta) {
        const d = r as { name: string; resource?: { value: Uint8Array } };
        names.push(d.name);
        resourceBytes += d.resource?.value.length ?? 0;
      } else resourceBytes += (r as { value: Uint8Array }).value.length;
    }
    return { typeUrl: m.type_url, version: (delta ? m.system_version_info : m.version_info) ?? "", nonce: m.nonce, names, resources: m.resources.length, removed: m.removed_resources?.length ?? 0, resourceBytes, bytes: buf.length, at };
  };
}

/** One Envoy-like ADS stream that subscribes to everything (CDS, LDS, then EDS of every cluster) and ACKs. */
class BenchStream {
  readonly opened = performance.now();
  firstFullMs: number | undefined;
  bytes = 0;
  /** bytes of the resources the client holds, per type and name (Delta) or per type (SotW) */
  held = new Map<string, number>();
  private readonly call: grpc.ClientDuplexStream<Record<string, unknown>, Received>;
  // counts only: 110 streams holding 30k names each would weigh more than the control plane
  private clusterCount = 0;
  private edsCount = 0;
  private listener = false;
  private full: () => void = () => undefined;
  readonly fullyConfigured = new Promise<void>((resolve) => (this.full = resolve));
  /** called with each EDS response after the first full configuration */
  onEds: ((r: Received) => void) | undefined;
  /** every type URL answered (MCP): its latest resource count */
  answered = new Map<string, number>();
  onAny: ((r: Received) => void) | undefined;
  error: Error | undefined;

  constructor(
    client: grpc.Client,
    readonly variant: "delta" | "sotw",
    private readonly node: { id: string; metadata?: Record<string, unknown> },
    mcpTypes?: readonly string[],
  ) {
    const delta = variant === "delta";
    const req = delta ? types.DeltaDiscoveryRequest : types.DiscoveryRequest;
    const res = delta ? types.DeltaDiscoveryResponse : types.DiscoveryResponse;
    this.call = client.makeBidiStreamRequest(
      `${adsServicePath}/${delta ? "DeltaAggregatedResources" : "StreamAggregatedResources"}`,
      (v: Record<string, unknown>) => encodeMessage(req, req.fromObject(v) as unknown as Record<string, unknown>),
      decoder(res, delta),
    );
    this.call.on("data", (r: Received) => this.onResponse(r));
    this.call.on("error", (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) this.error = err;
    });
    let first = true;
    const withNode = (m: Record<string, unknown>) => {
      if (first) {
        first = false;
        m["node"] = { id: node.id, cluster: "bench", metadata: jsonToStruct(node.metadata ?? {}) };
      }
      return m;
    };
    this.write = (m) => this.call.write(withNode(m));
    if (mcpTypes) {
      for (const t of mcpTypes) this.subscribe(t, []);
    } else {
      this.subscribe(XdsTypeUrl.cluster, delta ? ["*"] : []);
      this.subscribe(XdsTypeUrl.listener, delta ? ["*"] : []);
    }
  }

  private readonly write: (m: Record<string, unknown>) => void;
  private readonly sotwNames = new Map<string, string[]>();

  private subscribe(typeUrl: string, names: string[], nonce = ""): void {
    if (this.variant === "delta") this.write({ type_url: typeUrl, resource_names_subscribe: names, response_nonce: nonce });
    else {
      this.sotwNames.set(typeUrl, names);
      this.write({ type_url: typeUrl, resource_names: names, response_nonce: nonce });
    }
  }

  private ack(r: Received): void {
    if (this.variant === "delta") this.write({ type_url: r.typeUrl, response_nonce: r.nonce });
    else this.write({ type_url: r.typeUrl, version_info: r.version, response_nonce: r.nonce, resource_names: this.sotwNames.get(r.typeUrl) ?? [] });
  }

  private onResponse(r: Received): void {
    this.bytes += r.bytes;
    this.answered.set(r.typeUrl, r.resources);
    this.ack(r);
    this.onAny?.(r);
    if (r.typeUrl === XdsTypeUrl.cluster) {
      // Delta: the first response holds every cluster and later ones only changes (none in this bench)
      this.clusterCount = this.variant === "delta" ? this.clusterCount + r.resources - r.removed : r.resources;
      if (this.variant === "delta" && r.names.length > 0) this.subscribe(XdsTypeUrl.endpoint, r.names);
    } else if (r.typeUrl === XdsTypeUrl.endpoint) {
      // Delta: each assignment arrives once before the first full configuration; SotW: all in one response
      this.edsCount = this.variant === "delta" ? this.edsCount + r.resources : Math.max(this.edsCount, r.resources);
      if (this.firstFullMs !== undefined) this.onEds?.(r);
    } else if (r.typeUrl === XdsTypeUrl.listener) this.listener = true;
    if (r.typeUrl === XdsTypeUrl.cluster || r.typeUrl === XdsTypeUrl.endpoint || r.typeUrl === XdsTypeUrl.listener) {
      this.held.set(r.typeUrl, (this.variant === "delta" ? (this.held.get(r.typeUrl) ?? 0) : 0) + r.resourceBytes);
    }
    if (this.firstFullMs === undefined && this.listener && this.clusterCount > 0) {
      const edsDone = this.edsCount >= this.clusterCount;
      if (edsDone) {
        this.firstFullMs = performance.now() - this.opened;
        this.full();
      }
    }
  }

  /** SotW: the cluster names are only known from the Cluster bodies, so a SotW stream subscribes to EDS by the names given. */
  subscribeEds(names: string[]): void {
    this.subscribe(XdsTypeUrl.endpoint, names);
  }

  heldBytes(): number {
    let n = 0;
    for (const v of this.held.values()) n += v;
    return n;
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** Every cluster name of a size (whole service and the two subsets), as the generator names them. */
function clusterNames(services: number): string[] {
  const out: string[] = [];
  for (let s = 0; s < services; s++) {
    const host = `${iface(s).toLowerCase()}.v1-0-0.dubbo`;
    for (const subset of ["", "v1", "v2"]) out.push(`outbound|20880|${subset}|${host}`);
  }
  return out;
}

interface ControlProcess {
  child: ChildProcess;
  xds: string;
  admin: string;
  readyMs: number;
  stop(): Promise<void>;
  peakRssMB(): number;
  rssMB(): number;
}

/** `--profile DIR`: the control plane runs with `node --cpu-prof` and writes its profile there when it stops */
let profileDir: string | undefined;

async function startControl(zk: ZooKeeperServer, rulesPath: string, mcp: boolean): Promise<ControlProcess> {
  const t0 = performance.now();
  const args = [...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), "bin/dubbo-mesh.js", "control", "--registry", `zookeeper://${zk.connectString}/dubbo`, "--rules", rulesPath, "--xds", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
  if (mcp) args.push("--mcp");
  const child = spawn(process.execPath, args, { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += String(d)));
  child.stderr!.on("data", (d) => (err = (err + String(d)).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => process.off("exit", killOnExit));
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setInterval(() => {
      const ready = /ready: ADS on (\S+?)(?: with MCP)?, admin (http:\S+\/);/.exec(out);
      if (ready) {
        clearInterval(timer);
        resolve(ready);
      } else if (child.exitCode !== null || performance.now() - t0 > 120_000) {
        clearInterval(timer);
        reject(new Error(`control plane not ready:\n${out}\n${err}`));
      }
    }, 20);
  });
  const status = (key: string) => {
    const line = readFileSync(`/proc/${child.pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${key}:`));
    return Number(/(\d+)/.exec(line ?? "")?.[1] ?? NaN) / 1024;
  };
  return {
    child,
    xds: m[1]!,
    admin: m[2]!,
    readyMs: round(performance.now() - t0),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
    peakRssMB: () => round(status("VmHWM")),
    rssMB: () => round(status("VmRSS")),
  };
}

const CHANNEL: grpc.ChannelOptions = { "grpc.max_receive_message_length": -1 };

/**
 * Opens `n` streams, each on its own channel (as separate proxies), `wave` at a time: the next wave opens when
 * the previous one is fully configured. Resolves with every stream fully configured.
 */
async function connect(address: string, n: number, variant: "delta" | "sotw", prefix: string, services: number, wave: number, metadata?: Record<string, unknown>) {
  const clients: grpc.Client[] = [];
  const streams: BenchStream[] = [];
  const names = clusterNames(services);
  for (let first = 0; first < n; first += wave) {
    const batch: BenchStream[] = [];
    for (let i = first; i < Math.min(n, first + wave); i++) {
      const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL);
      clients.push(client);
      const s = new BenchStream(client, variant, { id: `${prefix}-${i}`, ...(metadata ? { metadata } : {}) });
      if (variant === "sotw") s.subscribeEds(names);
      batch.push(s);
    }
    streams.push(...batch);
    await within(`${batch.length} ${variant} clients fully configured`, Promise.all(batch.map((s) => s.fullyConfigured)), 180_000, () => batch.find((s) => s.error)?.error);
  }
  return { clients, streams };
}

async function within<T>(what: string, p: Promise<T>, ms: number, failed?: () => Error | undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const check = new Promise<never>((_, reject) => {
    const t0 = Date.now();
    timer = setInterval(() => {
      const err = failed?.();
      if (err) reject(new Error(`${what}: ${err.message}`));
      else if (Date.now() - t0 > ms) reject(new Error(`${what}: not within ${ms} ms`));
    }, 50);
  });
  try {
    return await Promise.race([p, check]);
  } finally {
    clearInterval(timer);
  }
}

/**
 * `changes` registry changes (register then deregister an extra provider of service i): for each, the time
 * from the ZooKeeper request to the last stream's first EDS response after it, and the bytes of that response.
 */
async function measureChanges(writer: DubboZkWriter, streams: BenchStream[], services: number, changes: number, kind: "eds" | "mcp", seType?: string) {
  const latencies: number[] = [];
  const bytes: { delta: number[]; sotw: number[] } = { delta: [], sotw: [] };
  for (let c = 0; c < changes; c++) {
    const service = (c >> 1) * Math.max(1, Math.floor(services / (changes / 2))) % services;
    const url = providerUrl(service, 10);
    let left = streams.length;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    let last = 0;
    const t0 = performance.now();
    for (const s of streams) {
      let seen = false;
      const on = (r: Received) => {
        if (seen || r.at < t0) return;
        if (kind === "mcp" && r.typeUrl !== seType) return;
        seen = true;
        last = Math.max(last, r.at);
        bytes[s.variant].push(r.bytes);
        if (--left === 0) done();
      };
      if (kind === "eds") s.onEds = on;
      else s.onAny = on;
    }
    if (c % 2 === 0) await writer.register(url);
    else await writer.unregister(url);
    await within(`change ${c} reaching ${streams.length} clients`, all, 30_000);
    latencies.push(last - t0);
    for (const s of streams) s.onEds = s.onAny = undefined;
  }
  return {
    changes,
    changeMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: quantile(latencies, 1) },
    changeBytesPerClient: {
      ...(bytes.delta.length ? { delta: quantile(bytes.delta, 0.5) } : {}),
      ...(bytes.sotw.length ? { sotw: quantile(bytes.sotw, 0.5) } : {}),
    },
  };
}

function firstFull(streams: BenchStream[]) {
  const ms = streams.map((s) => s.firstFullMs!);
  return { p50: quantile(ms, 0.5), max: quantile(ms, 1) };
}

async function runSize(zk: ZooKeeperServer, writer: DubboZkWriter, rulesPath: string, services: number, changes: number, wave: number, populate: Record<string, unknown>) {
  const cp = await startControl(zk, rulesPath, false);
  const channels: grpc.Client[] = [];
  try {
    const rssIdleMB = cp.rssMB();
    const a = await connect(cp.xds, 10, "delta", "delta", services, wave);
    const b = await connect(cp.xds, 10, "sotw", "sotw", services, wave);
    channels.push(...a.clients, ...b.clients);
    const fullBytes = a.streams[0]!.bytes;
    const phase10 = {
      firstFullMs: { delta: firstFull(a.streams), sotw: firstFull(b.streams) },
      fullConfigBytesPerClient: { delta: MB(fullBytes), sotw: MB(b.streams[0]!.bytes) },
      ...(await measureChanges(writer, [...a.streams, ...b.streams], services, changes, "eds")),
    };
    const c = await connect(cp.xds, 90, "delta", "delta-more", services, wave);
    channels.push(...c.clients);
    const all = [...a.streams, ...c.streams, ...b.streams];
    const phase100 = {
      firstFullMs: { delta: firstFull(c.streams) },
      ...(await measureChanges(writer, all, services, changes, "eds")),
    };
    const rss110MB = cp.rssMB();
    const scopedServices = Array.from({ length: 10 }, (_, i) => iface(i));
    const scoped = await connect(cp.xds, 1, "delta", "scoped", services, 1, { DUBBO_MESH_SERVICES: scopedServices });
    channels.push(...scoped.clients);
    const s = scoped.streams[0]!;
    const f = a.streams[0]!;
    return {
      bench: "xds",
      services,
      endpointsPerService: 10,
      resources: { clusters: services * 3, clusterLoadAssignments: services * 3, listeners: 1 },
      zookeeper: populate,
      controlReadyMs: cp.readyMs,
      connectWave: wave,
      "10delta+10sotw": phase10,
      "100delta+10sotw": phase100,
      scoped: {
        services: 10,
        bytes: s.bytes,
        fullClientBytes: f.bytes,
        percentOfFull: round((100 * s.bytes) / f.bytes, 2),
        heldBytes: { scoped: s.heldBytes(), full: f.heldBytes() },
        listenerBytes: s.held.get(XdsTypeUrl.listener) ?? 0,
        firstFullMs: round(s.firstFullMs!),
      },
      controlRssMB: { idle: rssIdleMB, with110Clients: rss110MB, peak: cp.peakRssMB() },
      loadAverage1m: round(loadavg()[0]!, 2),
    };
  } finally {
    for (const ch of channels) ch.close();
    await cp.stop();
  }
}

async function runMcp(zk: ZooKeeperServer, writer: DubboZkWriter, rulesPath: string, services: number, changes: number) {
  const cp = await startControl(zk, rulesPath, true);
  const client = new grpc.Client(cp.xds, grpc.credentials.createInsecure(), CHANNEL);
  try {
    const stream = new BenchStream(client, "sotw", { id: "istiod-bench" }, ISTIOD_SUBSCRIBED_TYPE_URLS);
    await within("every MCP type answered", new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (ISTIOD_SUBSCRIBED_TYPE_URLS.every((t) => stream.answered.has(t))) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    }), 120_000, () => stream.error);
    const firstFullMs = round(performance.now() - stream.opened);
    const seType = ISTIOD_SUBSCRIBED_TYPE_URLS.find((t) => t.endsWith("/ServiceEntry"))!;
    const perType: Record<string, number> = {};
    for (const [t, n] of stream.answered) if (n > 0) perType[t.slice(t.lastIndexOf("/") + 1)] = n;
    const bytes = stream.bytes;
    const change = await measureChanges(writer, [stream], services, changes, "mcp", seType);
    return {
      bench: "xds-mcp",
      services,
      endpointsPerService: 10,
      client: "istiod-like SotW, all ISTIOD_SUBSCRIBED_TYPE_URLS at once",
      controlReadyMs: cp.readyMs,
      firstFullMs,
      firstFullMB: MB(bytes),
      resources: perType,
      changes: change.changes,
      changeMs: change.changeMs,
      serviceEntryResponseKB: kB(change.changeBytesPerClient.sotw ?? NaN),
      controlPeakRssMB: cp.peakRssMB(),
      loadAverage1m: round(loadavg()[0]!, 2),
    };
  } finally {
    client.close();
    await cp.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "1000,10000" },
      changes: { type: "string", default: "20" },
      "mcp-size": { type: "string", default: "10000" },
      profile: { type: "string" },
      wave: { type: "string", default: "10" },
    },
  });
  profileDir = values.profile;
  if (!existsSync(join(packageRoot, "dist", "cli", "index.js"))) throw new Error("dist/ is missing: run `npm run build:ts` (npm run bench:xds does)");
  const sizes = values.sizes!.split(",").map(Number);
  const changes = Number(values.changes);
  const mcpSize = Number(values["mcp-size"]);
  const dir = mkdtempSync(join(tmpdir(), "bench-xds-"));
  const rulesPath = join(dir, "rules.yaml");
  writeFileSync(rulesPath, BENCH_RULES);
  const zk = await ZooKeeperServer.start({ tickTimeMs: 2000, heapMb: 512 });
  const writer = await DubboZkWriter.connect(zk.connectString);
  let populated = 0;
  const populate = async (services: number) => {
    const urls: string[] = [];
    for (let s = populated; s < services; s++) for (let e = 0; e < 10; e++) urls.push(providerUrl(s, e));
    const t0 = performance.now();
    await writer.registerMany(urls, { batch: 200, inFlight: 16 });
    const ms = performance.now() - t0;
    populated = Math.max(populated, services);
    return { znodesCreated: urls.length, ms: round(ms), perSecond: Math.round(urls.length / (ms / 1000)), how: "multi-op transactions of 200 creates, 16 in flight" };
  };
  try {
    for (const size of sizes) {
      const p = await populate(size);
      process.stdout.write(`${JSON.stringify(await runSize(zk, writer, rulesPath, size, changes, Number(values.wave), p))}\n`);
    }
    if (mcpSize > 0) {
      await populate(mcpSize);
      process.stdout.write(`${JSON.stringify(await runMcp(zk, writer, rulesPath, mcpSize, changes))}\n`);
    }
  } finally {
    writer.close();
    await zk.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

// bounded: whatever happens, stop after 10 minutes (the ZooKeeper guard and the control plane die with us)
setTimeout(() => {
  process.stderr.write("bench:xds: still running after 10 minutes, giving up\n");
  process.exit(1);
}, 600_000).unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:xds: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
