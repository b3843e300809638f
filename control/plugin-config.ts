/**
 * Compiles the model (services + the rules that apply to them) into the filter's plugin configuration,
 * exactly the JSON of docs/contracts.md §1 (version 1). Used by the Istio/Envoy generators (as the Wasm
 * `configuration`) and by the fallback proxy.
 *
 * One `services` entry per registry service, with its exact interface, version and group. Entries are
 * ordered so that the filter's "first match wins" picks the most specific one: by interface, then entries
 * with both version and group, then one of them, then neither; then by version and group.
 */
import { istioClusterName } from "./model/service-host.js";
import type { MeshModel, Service } from "./model/model.js";
import type { DubboRoute, RequestMatch, StringMatch } from "./rules/types.js";
import { fewGet, type Few } from "./util/few.js";
import { boundedMemo } from "./util/memo.js";

export const PLUGIN_CONFIG_VERSION = 1;
export const DEFAULT_ROUTE_ATTACHMENT = "x-dubbo-mesh-cluster";
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface PluginMatch {
  method?: StringMatch;
  attachments?: Record<string, StringMatch>;
  arguments?: Record<string, StringMatch>;
}

export interface PluginService {
  interface: string;
  version: string;
  group: string;
  defaultCluster: string;
  hashKey?: { attachment: string } | { argument: number };
  deny: { name: string; match: PluginMatch }[];
  routes: { name: string; match?: PluginMatch; destinations: { cluster: string; weight: number }[] }[];
}

export interface PluginConfig {
  version: 1;
  routeAttachment: string;
  rewrite: boolean;
  nonDubbo: "close" | "passthrough";
  maxBodyBytes: number;
  defaultCluster: string;
  services: PluginService[];
}

export interface PluginConfigOptions {
  /** cluster name of a service or one of its subsets ("" = whole service); default: Istio's outbound|PORT|SUBSET|HOST */
  clusterName?: (service: Service, subset: string) => string;
  routeAttachment?: string;
  /** write the route attachment into each request (default true) */
  rewrite?: boolean;
  nonDubbo?: "close" | "passthrough";
  maxBodyBytes?: number;
  /** cluster for requests no service matches ("" = no destination) */
  defaultCluster?: string;
}

/**
 * What is kept per Service for the default cluster names (one WeakMap entry per service instead of one per
 * cache): the whole-service cluster name then one per subset (in `service.subsets` order), and the compiled
 * entry.
 */
interface ServiceCache {
  names?: string[];
  entry?: PluginService;
}
const serviceCaches = new WeakMap<Service, ServiceCache>();

function serviceCacheOf(service: Service): ServiceCache {
  let c = serviceCaches.get(service);
  if (c === undefined) serviceCaches.set(service, (c = {}));
  return c;
}

/**
 * Istio's cluster name `outbound|PORT|SUBSET|HOST` ("" = the whole service). Computed once per service
 * (a Service never changes) and shared by the plugin configuration, routes, clusters and assignments.
 */
export function defaultClusterName(service: Service, subset: string): string {
  const cache = serviceCacheOf(service);
  let names = cache.names;
  if (!names) {
    names = [istioClusterName(service.port, "", service.host)];
    for (const s of service.subsets) names.push(istioClusterName(service.port, s.name, service.host));
    cache.names = names;
  }
  if (subset === "") return names[0]!;
  for (let i = 0; i < service.subsets.length; i++) if (service.subsets[i]!.name === subset) return names[i + 1]!;
  return istioClusterName(service.port, subset, service.host); // not one of its subsets: not cached
}

/** One compiled match per rule match: services under the same rule share it (read-only, like the rule). */
const matchCache = new WeakMap<RequestMatch, PluginMatch>();

function copyMatch(m: RequestMatch): PluginMatch {
  let out = matchCache.get(m);
  if (out === undefined) matchCache.set(m, (out = compileMatch(m)));
  return out;
}

function compileMatch(m: RequestMatch): PluginMatch {
  const out: PluginMatch = {};
  if (m.method) out.method = { ...m.method };
  if (m.attachments) out.attachments = sortedRecord(m.attachments);
  if (m.arguments) out.arguments = sortedRecord(m.arguments);
  return out;
}

function sortedRecord(r: Record<string, StringMatch>): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = {};
  for (const k of Object.keys(r).sort()) out[k] = { ...r[k]! };
  return out;
}

/**
 * What is kept per compiled entry, in one WeakMap entry: `compiled` when `compileService` made it (keys in
 * its order, interface … routes then hashKey, never altered), its clusters and JSON text, and a slot the
 * dubbo_proxy generator fills.
 */
export interface EntryCache {
  readonly compiled: boolean;
  clusters?: readonly string[];
  json?: string;
  /** dubbo-proxy.ts: the RouteConfiguration by route attachment */
  routeConfigs?: Few<Record<string, unknown>>;
}
const entryCaches = new WeakMap<PluginService, EntryCache>();

/** The cache of an entry (one is made for entries `compileService` did not make, marked so). */
export function entryCacheOf(entry: PluginService): EntryCache {
  let c = entryCaches.get(entry);
  if (c === undefined) entryCaches.set(entry, (c = { compiled: false }));
  return c;
}

type ClusterNameFn = (service: Service, subset: string) => string;
/** other cluster-name functions → Service → compiled entry; a Service object never changes, so entries stay valid */
const compiledCache = new WeakMap<ClusterNameFn, WeakMap<Service, PluginService>>();

/** The `services` entry of one service (cached per Service object and cluster-name function). */
export function compileService(service: Service, clusterName: (service: Service, subset: string) => string = defaultClusterName): PluginService {
  let cache: WeakMap<Service, PluginService> | undefined;
  let own: ServiceCache | undefined;
  if (clusterName === defaultClusterName) {
    own = serviceCacheOf(service);
    if (own.entry) return own.entry;
  } else {
    cache = compiledCache.get(clusterName);
    if (!cache) compiledCache.set(clusterName, (cache = new WeakMap()));
    const hit = cache.get(service);
    if (hit) return hit;
  }
  const rule = service.rule;
  const routes: PluginService["routes"] = [];
  if (rule) {
    for (const r of rule.routes) {
      const destinations: PluginService["routes"][number]["destinations"] = [];
      for (const d of r.route) destinations.push({ cluster: clusterName(service, d.subset ?? ""), weight: d.weight });
      routes.push(r.match ? { name: r.name, match: copyMatch(r.match), destinations } : { name: r.name, destinations });
    }
  }
  const entry: PluginService = {
    interface: service.interface,
    version: service.version,
    group: service.group,
    defaultCluster: clusterName(service, ""),
    deny: rule ? denyOf(rule) : NO_DENY,
    routes,
  };
  const lb = rule?.loadBalancer;
  if (lb && "consistentHash" in lb) entry.hashKey = { ...lb.consistentHash };
  entryCaches.set(entry, { compiled: true });
  if (own) own.entry = entry;
  else cache!.set(service, entry);
  return entry;
}

/** The deny list of services without a rule (shared, read-only). */
const NO_DENY: PluginService["deny"] = [];

/** A rule's deny list, compiled once and shared by the services under the rule (read-only). */
const denyCache = new WeakMap<DubboRoute, PluginService["deny"]>();

function denyOf(rule: DubboRoute): PluginService["deny"] {
  let out = denyCache.get(rule);
  if (out === undefined) denyCache.set(rule, (out = rule.deny.map((d) => ({ name: d.name, match: copyMatch(d.match) }))));
  return out;
}

function specificity(s: Service): number {
  return (s.version !== "" ? 0 : 1) + (s.group !== "" ? 0 : 1);
}

/** Orders services for first-match-wins lookup (see the file comment). */
export function pluginServiceOrder(a: Service, b: Service): number {
  if (a.interface !== b.interface) return a.interface < b.interface ? -1 : 1;
  const d = specificity(a) - specificity(b);
  if (d !== 0) return d;
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  return a.group < b.group ? -1 : a.group > b.group ? 1 : 0;
}

/**
 * A model's compiled entries in lookup order, per cluster-name function: the generators of one build (Istio
 * YAML, Envoy resources) compile the same model, and sorting 10^4 services costs more than the lookups.
 */
const modelEntries = new WeakMap<MeshModel, Few<readonly PluginService[], ClusterNameFn>>();

function entriesOf(model: MeshModel, clusterName: ClusterNameFn): readonly PluginService[] {
  let few = modelEntries.get(model);
  if (!few) modelEntries.set(model, (few = []));
  if (few.length >= 8) few.length = 0; // callers that pass a new function each time: keep a few only
  let entries = fewGet(few, clusterName);
  if (entries === undefined) few.push(clusterName, (entries = [...model.services].sort(pluginServiceOrder).map((s) => compileService(s, clusterName))));
  return entries;
}

export function compilePluginConfig(model: MeshModel, options: PluginConfigOptions = {}): PluginConfig {
  const clusterName = options.clusterName ?? defaultClusterName;
  const services = entriesOf(model, clusterName).slice();
  return {
    version: PLUGIN_CONFIG_VERSION,
    routeAttachment: options.routeAttachment ?? DEFAULT_ROUTE_ATTACHMENT,
    rewrite: options.rewrite ?? true,
    nonDubbo: options.nonDubbo ?? "close",
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    defaultCluster: options.defaultCluster ?? "",
    services,
  };
}

/** Every cluster a service's compiled entry can choose, sorted, the default first (one shared read-only list per entry). */
export function clustersOf(entry: PluginService): readonly string[] {
  const cache = entryCacheOf(entry);
  return (cache.clusters ??= listClusters(entry));
}

function listClusters(entry: PluginService): string[] {
  const others: string[] = []; // a few: a list, not a Set
  for (const r of entry.routes) for (const d of r.destinations) if (d.cluster !== entry.defaultCluster && !others.includes(d.cluster)) others.push(d.cluster);
  // insertion sort (a few names; the order of sort(), UTF-16 code units)
  for (let i = 1; i < others.length; i++) {
    const c = others[i]!;
    let j = i - 1;
    for (; j >= 0 && others[j]! > c; j--) others[j + 1] = others[j]!;
    others[j + 1] = c;
  }
  const out = [entry.defaultCluster];
  for (const c of others) out.push(c);
  return out;
}

function entryJson(entry: PluginService): string {
  const cache = entryCacheOf(entry);
  return (cache.json ??= writeEntryJson(entry, cache.compiled));
}

/** JSON text of objects shared by many entries (a rule's compiled matches and deny list), once each. */
const sharedJson = new WeakMap<object, string>();

function sharedJsonOf(obj: object): string {
  let t = sharedJson.get(obj);
  if (t === undefined) sharedJson.set(obj, (t = JSON.stringify(obj)));
  return t;
}

/**
 * `{"name":…,"match":…,"destinations":[` of a route: the same for every service under a rule (the name and the
 * shared match object), by match object (or name alone, without one).
 */
const routeHeads = new WeakMap<PluginMatch, { name: string; text: string }>();
const unmatchedRouteHead = boundedMemo(1000, (name: string) => `{"name":${jsonString(name)},"destinations":[`);

function routeHeadJson(name: string, match: PluginMatch | undefined): string {
  if (match === undefined) return unmatchedRouteHead(name);
  const hit = routeHeads.get(match);
  if (hit !== undefined && hit.name === name) return hit.text;
  const text = `{"name":${jsonString(name)},"match":${sharedJsonOf(match)},"destinations":[`;
  routeHeads.set(match, { name, text });
  return text;
}

/** `,"weight":N}` per weight (rules have a few distinct ones) */
const weightTailJson = boundedMemo(1000, (weight: number) => `,"weight":${JSON.stringify(weight)}}`);

/** An entry's cluster names as JSON strings: they recur in it (the default, a subset in several routes). Reset per entry. */
const clusterTexts: Few<string> = [];

function clusterJson(name: string): string {
  let out = fewGet(clusterTexts, name);
  if (out === undefined) clusterTexts.push(name, (out = jsonString(name)));
  return out;
}

/** JSON strings of values many entries share (versions, groups) */
const repeatedJsonString = boundedMemo(10_000, jsonString);

/** Characters JSON.stringify escapes in a string (any surrogate: lone ones are escaped; it decides). */
const jsonEscaped = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(s: string): string {
  return jsonEscaped.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * `JSON.stringify(entry)` (tested equal) for entries made by `compileService` (their keys and order are
 * known), written from that fixed shape with the shared parts' text reused: 10^4 entries under one rule
 * differ only in names. Other objects go to JSON.stringify.
 */
function writeEntryJson(entry: PluginService, compiled: boolean): string {
  if (!compiled) return JSON.stringify(entry);
  const parts = ['{"interface":', jsonString(entry.interface), ',"version":', repeatedJsonString(entry.version), ',"group":', repeatedJsonString(entry.group)];
  clusterTexts.length = 0;
  parts.push(',"defaultCluster":', clusterJson(entry.defaultCluster), ',"deny":', sharedJsonOf(entry.deny), ',"routes":[');
  for (let i = 0; i < entry.routes.length; i++) {
    const r = entry.routes[i]!;
    parts.push(i === 0 ? "" : ",", routeHeadJson(r.name, r.match));
    for (let j = 0; j < r.destinations.length; j++) {
      const d = r.destinations[j]!;
      parts.push(j === 0 ? '{"cluster":' : ',{"cluster":', clusterJson(d.cluster), weightTailJson(d.weight));
    }
    parts.push("]}");
  }
  parts.push("]");
  if (entry.hashKey !== undefined) parts.push(',"hashKey":', JSON.stringify(entry.hashKey));
  parts.push("}");
  return parts.join("");
}

/**
 * The configuration as JSON text, equal to `JSON.stringify(config)`, assembled from per-service text cached
 * on the (reused) service entries. With `lines`, the same JSON with one service per line (for files people
 * read; `pluginConfigJsonChunks` gives that text in pieces without joining it).
 */
export function pluginConfigJson(config: PluginConfig, lines = false): string {
  if (lines) return pluginConfigJsonChunks(config).join("");
  const { services, ...top } = config;
  const head = JSON.stringify({ ...top, services: [] });
  if (services.length === 0) return head;
  // The generators ask for the same configuration's text several times per build (the Wasm filter of the
  // EnvoyFilter and of the Listener, the WasmPlugin): the last text is kept while the entries are the same.
  if (lastJson && lastJson.head === head && sameEntries(lastJson.services, services)) return lastJson.text;
  const parts: string[] = [head.slice(0, -2)]; // without "]}"
  for (let i = 0; i < services.length; i++) {
    if (i > 0) parts.push(",");
    parts.push(entryJson(services[i]!));
  }
  parts.push("]}");
  const text = parts.join(""); // one flat string (a rope would be flattened by each reader)
  lastJson = { head, services: services.slice(), text };
  return text;
}

/** The configuration's JSON with one service per line, in pieces (the per-service texts are shared, not copied). */
export function pluginConfigJsonChunks(config: PluginConfig): string[] {
  const { services, ...top } = config;
  const head = JSON.stringify({ ...top, services: [] });
  if (services.length === 0) return [head];
  const parts: string[] = [`${head.slice(0, -2)}\n`];
  for (let i = 0; i < services.length; i++) {
    if (i > 0) parts.push(",\n");
    parts.push(entryJson(services[i]!));
  }
  parts.push("\n]}");
  return parts;
}

let lastJson: { head: string; services: readonly PluginService[]; text: string } | undefined;

function sameEntries(a: readonly PluginService[], b: readonly PluginService[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
