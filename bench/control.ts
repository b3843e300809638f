/**
 * `npm run bench:control` — control-plane generation cost. Prints one JSON object per line:
 *
 *   {"bench":"control","services":N,"endpointsPerService":10, "ms":{...}, "peakRssGenerateMB":..., ...}
 *
 * For each size (1k and 10k services × 10 endpoints, a rule with two subsets and three routes applying to
 * every service) a fresh child process (so peak RSS is its own) times:
 *   parse         provider URLs → providers
 *   model         providers + rules → model
 *   istioYaml     all Istio YAML text (ServiceEntries, DestinationRules, EnvoyFilters, WasmPlugin, plugin config)
 *   generate      parse + model + istioYaml: a one-shot `dubbo-mesh generate` from the registry's URLs
 *                 (wall clock; `generateCpu` its CPU time, GC helper threads included)
 *   envoy         the xDS snapshot (Listener, Clusters, ClusterLoadAssignments, the DRDS routes, the ECDS
 *                 filter config) as objects, through a fresh per-service cache: the control plane's first build
 *   encodeEnvoy   (extra) strict protobuf encoding of every Envoy resource (what an xDS server sends)
 *   changeOne     then, five times, one endpoint of one service changes: the model rebuild + the Envoy
 *                 snapshot through the warm cache and the previous snapshot (`changeOneModel` +
 *                 `changeOneEnvoy`): what the control plane redoes per registry change; the median of the
 *                 five, and each; `changeOneChangedResources`: resources that are not the previous
 *                 snapshot's objects (what an xDS server re-encodes)
 * Memory: `peakRssGenerateMB` = peak RSS after the generate phases (what the one-shot command needs),
 * `peakRssMB` = peak of the whole run (Envoy objects, encoding and the changes too), `baselineRssMB` =
 * before the timed phases (Node, tsx, the loaded Envoy protos, the input URLs).
 *
 * Options: --sizes 1000,10000   --endpoints 10
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateIstio } from "../control/generate/istio/index.js";
import { encodeJson } from "../control/generate/xds/proto-json.js";
import { ServiceCache } from "../control/generate/xds/service-cache.js";
import { xdsSnapshot, type XdsSnapshot } from "../control/generate/xds/snapshot.js";
import { parseWasmSource } from "../control/generate/xds/wasm-filter.js";
import { ModelBuilder } from "../control/model/model.js";
import { parseProviderUrl, type Provider } from "../control/registry/provider-url.js";
import { parseRules } from "../control/rules/load.js";
import { BENCH_RULES, benchInterface } from "../dev/bench-mesh.js";


function url(service: number, endpoint: number, port: number): string {
  const iface = benchInterface(service);
  const host = `127.${(service >> 8) & 255}.${service & 255}.${endpoint + 1}`;
  return (
    `dubbo://${host}:${port}/${iface}?anyhost=true&application=app${service}&dubbo=2.0.2&dynamic=true&interface=${iface}` +
    `&methods=getUser,sayHello,deleteUser&pid=${1000 + endpoint}&revision=v${(endpoint % 2) + 1}&side=provider&timestamp=1618918522655&version=1.0.0&weight=100`
  );
}

function ms(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
}

function runOne(services: number, endpoints: number): Record<string, unknown> {
  const rules = parseRules(BENCH_RULES, "bench");
  const wasm = parseWasmSource();
  const built: string[] = [];
  for (let s = 0; s < services; s++) for (let e = 0; e < endpoints; e++) built.push(url(s, e, 20881 + e));
  // Registries deliver flat strings (decoded from ZooKeeper's bytes, read from a file); the strings built
  // above are V8 ropes whose flattening on first read would be timed as parsing. Flatten them here, as a
  // registry read would: one JSON round trip of the list.
  const urls = JSON.parse(JSON.stringify(built)) as string[];
  built.length = 0;
  // baseline: node + tsx + the Envoy protos (loaded here, as a generator would) + the input URLs
  encodeJson("envoy.config.cluster.v3.Cluster", { name: "warm-up" });
  const rssBefore = process.memoryUsage().rss;

  const cpu0 = process.cpuUsage();
  let t = process.hrtime.bigint();
  const providers: Provider[] = [];
  for (const u of urls) {
    const p = parseProviderUrl(u);
    if (p.ok) providers.push(p.provider);
  }
  const parse = ms(t);

  const builder = new ModelBuilder();
  t = process.hrtime.bigint();
  const model = builder.build(providers, rules);
  const modelMs = ms(t);

  t = process.hrtime.bigint();
  const files = generateIstio(model, { mode: "dubbo-proxy", wasm });
  const istioYaml = ms(t);
  const generateCpu = process.cpuUsage(cpu0);
  const peakGenerate = process.resourceUsage().maxRSS;
  const yamlBytes = files.reduce((n, f) => n + f.chunks.reduce((m, c) => m + c.length, 0), 0);

  t = process.hrtime.bigint();
  const cache = new ServiceCache(); // what the long-running control plane keeps
  const snapshot = xdsSnapshot(model, { mode: "dubbo-proxy", wasm }, cache);
  const envoy = ms(t);
  const all = [...snapshot.resources.values()].flatMap((byName) => [...byName.values()].map((r) => r.resource));

  t = process.hrtime.bigint();
  let encodedBytes = 0;
  for (const r of all) {
    const body = { ...r };
    const typeUrl = body["@type"] as string;
    delete body["@type"];
    encodedBytes += encodeJson(typeUrl, body).length;
  }
  const encodeEnvoy = ms(t);

  // One endpoint of one service changes (its port), five times in a row (a different service each time):
  // rebuild the model and the Envoy resources through the warm cache.
  const changes: { model: number; envoy: number }[] = [];
  let current = providers;
  let before = model;
  let last: XdsSnapshot = snapshot;
  let reused = 0;
  let changedResources = 0;
  for (let i = 0; i < 5; i++) {
    const service = Math.floor(services / 2) + i;
    const next = current.slice();
    const moved = parseProviderUrl(url(service, 0, 30000 + i));
    if (!moved.ok) throw new Error(moved.error);
    next[service * endpoints] = moved.provider;
    t = process.hrtime.bigint();
    const after = builder.build(next, rules);
    const changeModel = ms(t);
    t = process.hrtime.bigint();
    const snapshot2 = xdsSnapshot(after, { mode: "dubbo-proxy", wasm }, cache, last);
    changes.push({ model: changeModel, envoy: ms(t) });
    reused = after.services.filter((s, j) => s === before.services[j]).length;
    // resources that are not the previous snapshot's very objects: what an xDS server re-encodes and pushes
    changedResources = 0;
    for (const [type, byName] of snapshot2.resources) {
      for (const [name, r] of byName) if (last.resources.get(type)?.get(name) !== r) changedResources++;
    }
    current = next;
    before = after;
    last = snapshot2;
  }
  const totals = changes.map((c) => Math.round((c.model + c.envoy) * 100) / 100);
  const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

  return {
    bench: "control",
    services,
    endpointsPerService: endpoints,
    ms: {
      parse,
      model: modelMs,
      istioYaml,
      generate: Math.round((parse + modelMs + istioYaml) * 100) / 100,
      generateCpu: Math.round((generateCpu.user + generateCpu.system) / 1000),
      envoy,
      encodeEnvoy,
      changeOne: median(totals),
      changeOneModel: median(changes.map((c) => c.model)),
      changeOneEnvoy: median(changes.map((c) => c.envoy)),
      changeOneEach: totals,
    },
    peakRssGenerateMB: Math.round(peakGenerate / 1024),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    baselineRssMB: Math.round(rssBefore / 1048576),
    yamlMB: Math.round((yamlBytes / 1048576) * 10) / 10,
    envoyResources: all.length,
    envoyEncodedMB: Math.round((encodedBytes / 1048576) * 10) / 10,
    changeOneReusedServices: reused,
    changeOneChangedResources: changedResources,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    node: process.version,
  };
}

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000" },
    endpoints: { type: "string", default: "10" },
    child: { type: "string" },
  },
});

const endpoints = Number(values.endpoints);
if (values.child !== undefined) {
  process.stdout.write(`${JSON.stringify(runOne(Number(values.child), endpoints))}\n`);
} else {
  for (const size of values.sizes!.split(",").map(Number)) {
    // A child per size: its peak RSS is its own.
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", String(size), "--endpoints", String(endpoints)], {
      encoding: "utf8",
      maxBuffer: 1 << 20,
    });
    process.stdout.write(out);
  }
}
