/**
 * Compiles the model (services + the rules that apply to them) into the filter's plugin configuration,
 * exactly the JSON of docs/contracts.md §1 (version 1). Used by the Istio/Envoy generators (as the Wasm
 * `configuration`) and by the fallback proxy.
 *
 * One `services` entry per registry service, with its exact interface, version and group. Entries are
 * ordered so that the filter's "first match wins" picks the most specific one: by interface, then entries
 * with both version and group, then one of them, then neither; then by version and group.
 */
import { istioClusterName } from "../model/service-host.js";
import type { MeshModel, Service } from "../model/model.js";
import type { RequestMatch, StringMatch } from "../rules/types.js";

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

/** Istio's cluster name `outbound|PORT|SUBSET|HOST` ("" = the whole service). */
export function defaultClusterName(service: Service, subset: string): string {
  return istioClusterName(service.port, subset, service.host);
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

/** The `services` entry of one service. */
export function compileService(service: Service, clusterName: (service: Service, subset: string) => string = defaultClusterName): PluginService {
  const rule = service.rule;
  const routes: PluginService["routes"] = (rule?.routes ?? []).map((r) => {
    const destinations = r.route.map((d) => ({ cluster: clusterName(service, d.subset ?? ""), weight: d.weight }));
    return r.match ? { name: r.name, match: compileMatch(r.match), destinations } : { name: r.name, destinations };
  });
  const entry: PluginService = {
    interface: service.interface,
    version: service.version,
    group: service.group,
    defaultCluster: clusterName(service, ""),
    deny: (rule?.deny ?? []).map((d) => ({ name: d.name, match: compileMatch(d.match) })),
    routes,
  };
  const lb = rule?.loadBalancer;
  if (lb && "consistentHash" in lb) entry.hashKey = { ...lb.consistentHash };
  return entry;
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

/** The model's services in lookup order (see the file comment). */
export function inPluginOrder(services: readonly Service[]): Service[] {
  return [...services].sort(pluginServiceOrder);
}

export function compilePluginConfig(model: MeshModel, options: PluginConfigOptions = {}): PluginConfig {
  const clusterName = options.clusterName ?? defaultClusterName;
  return pluginConfigOf(inPluginOrder(model.services).map((s) => compileService(s, clusterName)), options);
}

/** The configuration of entries already compiled and in lookup order (e.g. from a per-service cache). */
export function pluginConfigOf(services: PluginService[], options: Omit<PluginConfigOptions, "clusterName"> = {}): PluginConfig {
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

/** Every cluster a service's compiled entry can choose: the default first, then the others its routes name, sorted. */
export function clustersOf(entry: PluginService): string[] {
  const others = new Set<string>();
  for (const r of entry.routes) for (const d of r.destinations) if (d.cluster !== entry.defaultCluster) others.add(d.cluster);
  return [entry.defaultCluster, ...[...others].sort()];
}

export interface PluginConfigJsonOptions {
  /** one service per line (for files people read) */
  lines?: boolean;
  /** `JSON.stringify` of each entry, in order, when the caller has them (a per-service cache) */
  entryTexts?: readonly string[];
}

/** The configuration as JSON text: `JSON.stringify(config)`, or with `lines` the same with one service per line. */
export function pluginConfigJson(config: PluginConfig, options: PluginConfigJsonOptions = {}): string {
  const { services, ...top } = config;
  const head = JSON.stringify({ ...top, services: [] });
  if (services.length === 0) return head;
  const texts = options.entryTexts ?? services.map((e) => JSON.stringify(e));
  if (texts.length !== services.length) throw new Error("pluginConfigJson: entryTexts and services differ in length");
  const [open, separator, close] = options.lines ? [`${head.slice(0, -2)}\n`, ",\n", "\n]}"] : [head.slice(0, -2), ",", "]}"];
  return open + texts.join(separator) + close;
}
