/**
 * `npm run bench:control` — control-plane generation cost. Prints one JSON object per line:
 *
 *   {"bench":"control","services":N,"endpointsPerService":10, "ms":{...}, "peakRssMB":..., ...}
 *
 * For each size (1k and 10k services × 10 endpoints, a rule with two subsets and three routes applying to
 * every service) a fresh child process (so peak RSS is its own) times:
 *   parse         provider URLs → providers
 *   model         providers + rules → model
 *   istioYaml     all Istio YAML text (ServiceEntries, DestinationRules, EnvoyFilter, WasmPlugin, plugin config)
 *   envoy         all Envoy resources (Listener, Clusters, ClusterLoadAssignments) as objects
 *   generate      model + istioYaml + envoy: what a registry change triggers, from the providers the
 *                 registry holds (it parses each provider URL once, when the URL appears)
 *   total         the sum with parse: everything from URLs to YAML and Envoy objects (wall clock)
 *   totalCpu      CPU time of the same (user + system, all threads: includes GC helper threads)
 *   encodeEnvoy   (extra) strict protobuf encoding of every Envoy resource (what an xDS server sends)
 * then one endpoint of one service changes and it times the rebuild (`changeOne`): model + Envoy objects
 * (`changeOneEnvoy`, what an xDS server would push) + all YAML, where only the changed service's objects are
 * rebuilt (per-service caches) and the aggregate objects (EnvoyFilter, WasmPlugin, Listener, file texts)
 * are re-assembled from cached pieces.
 * Memory: `peakRssCoreMB` = peak RSS after the core phases (parse, model, YAML, Envoy objects),
 * `peakRssMB` = peak of the whole run (with protobuf encoding and the change), `baselineRssMB` = before
 * the core phases (node, tsx, the loaded Envoy protos, the input URLs).
 *
 * Options: --sizes 1000,10000   --endpoints 10
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateIstio } from "../control/generate/istio/index.js";
import { encodeJson } from "../control/generate/xds/proto-json.js";
import { buildXdsResources, type Json } from "../control/generate/xds/resources.js";
import { ServiceCache } from "../control/generate/xds/service-cache.js";
import { parseWasmSource } from "../control/generate/xds/wasm-filter.js";
import { ModelBuilder } from "../control/model/model.js";
import { parseProviderUrl, type Provider } from "../control/registry/provider-url.js";
import { parseRules } from "../control/rules/load.js";

const RULES = `
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: bench}
spec:
  interface: com.example.bench.*
  subsets:
    - {name: v1, labels: {revision: v1}}
    - {name: v2, labels: {revision: v2}}
  routes:
    - {name: gray, match: {attachments: {dubbo.tag: {exact: gray}}}, route: [{subset: v2}]}
    - {name: method, match: {method: {prefix: get}}, route: [{subset: v1}]}
    - {name: split, route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]}
  deny: [{method: {prefix: delete}}]
`;

function url(service: number, endpoint: number, port: number): string {
  const iface = `com.example.bench.Service${service}`;
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
  const rules = parseRules(RULES, "bench");
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
  const yamlBytes = files.reduce((n, f) => n + f.text.length, 0);

  t = process.hrtime.bigint();
  const cache = new ServiceCache(); // what the long-running control plane keeps
  const res = buildXdsResources(model, { mode: "dubbo-proxy", wasm }, cache);
  const envoy = ms(t);
  const cpu1 = process.cpuUsage(cpu0);
  const peakCore = process.resourceUsage().maxRSS; // peak so far: parse + model + YAML + Envoy objects
  const all: Json[] = [...res.listeners, ...res.clusters, ...res.clusterLoadAssignments];

  t = process.hrtime.bigint();
  let encodedBytes = 0;
  for (const r of all) {
    const body = { ...r };
    const typeUrl = body["@type"] as string;
    delete body["@type"];
    encodedBytes += encodeJson(typeUrl, body).length;
  }
  const encodeEnvoy = ms(t);
  const peakAfterFull = process.memoryUsage().rss;

  // One endpoint of one service changes (its port): rebuild model, YAML and Envoy objects.
  const changed = providers.slice();
  const idx = Math.floor(services / 2) * endpoints;
  const moved = parseProviderUrl(url(Math.floor(services / 2), 0, 30000));
  if (!moved.ok) throw new Error(moved.error);
  changed[idx] = moved.provider;
  t = process.hrtime.bigint();
  const model2 = builder.build(changed, rules);
  const res2 = buildXdsResources(model2, { mode: "dubbo-proxy", wasm }, cache);
  const changeOneEnvoy = ms(t);
  const files2 = generateIstio(model2, { mode: "dubbo-proxy", wasm });
  const changeOne = ms(t);
  const reused = model2.services.filter((s, i) => s === model.services[i]).length;
  const changedClusters = res2.clusterLoadAssignments.filter((c, i) => c !== res.clusterLoadAssignments[i]).length;
  if (files2.length !== files.length) throw new Error("file count changed");

  return {
    bench: "control",
    services,
    endpointsPerService: endpoints,
    ms: {
      parse,
      model: modelMs,
      istioYaml,
      envoy,
      generate: Math.round((modelMs + istioYaml + envoy) * 100) / 100,
      total: Math.round((parse + modelMs + istioYaml + envoy) * 100) / 100,
      totalCpu: Math.round((cpu1.user + cpu1.system) / 1000),
      encodeEnvoy,
      changeOne,
      changeOneEnvoy,
    },
    peakRssCoreMB: Math.round(peakCore / 1024),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    baselineRssMB: Math.round(rssBefore / 1048576),
    rssGrowthMB: Math.round((peakAfterFull - rssBefore) / 1048576),
    yamlMB: Math.round((yamlBytes / 1048576) * 10) / 10,
    envoyResources: all.length,
    envoyEncodedMB: Math.round((encodedBytes / 1048576) * 10) / 10,
    changeOneReusedServices: reused,
    changeOneRebuiltAssignments: changedClusters,
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
