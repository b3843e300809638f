/**
 * The fallback proxy's configuration from the Envoy resources a sidecar receives — the one configuration path:
 * the proxy configures its listeners, clusters and filter from the same Listener, Cluster,
 * ClusterLoadAssignment and TypedExtensionConfig (ECDS) resources that configure Envoy, read field by field
 * as Envoy reads them. Resources are in the decoded shape of `xds-resources.ts` (proto field names, enums as
 * names, 64-bit integers as strings, nested `Any`s with "@type", durations and wrappers as messages).
 *
 * What each Envoy field means here:
 *   Listener  address.socket_address → the listen address; the filter chain's wasm filter (typed_config, or
 *             config_discovery → the TypedExtensionConfig of that name) → the plugin; tcp_proxy's `cluster`
 *             → the default cluster (used when the filter names none). DubboProxy routes (DRDS) are not read:
 *             the filter routes every request itself through the host's routing extension.
 *   Cluster   lb_policy (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV), connect_timeout,
 *             circuit_breakers (the DEFAULT priority's max_connections / max_pending_requests / max_requests),
 *             outlier_detection (consecutive_5xx → consecutive errors, base/max ejection time, max ejection
 *             percent; absent = off, as in Envoy), metadata.filter_metadata["dubbo-mesh"].request_timeout_ms
 *             (Envoy's dubbo_proxy has no request timeout; Envoy ignores this metadata).
 *   ClusterLoadAssignment  every lb_endpoint's socket address and load_balancing_weight (default 1).
 * Settings Envoy has no field for (connections per endpoint, connect retries) come from the proxy's defaults.
 *
 * Anything the proxy cannot use throws an `XdsConfigError` naming the resource and the field, which the ADS
 * client turns into a NACK; the last good configuration stays in force.
 */
import type { ClusterConfig, ClusterSettings, EndpointConfig, HostPort } from "../server/config.js";
import { LB_POLICIES, type LbPolicy } from "../server/load-balancer.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";

export class XdsConfigError extends Error {
  override name = "XdsConfigError";
}

type Plain = Record<string, unknown>;

/** A resource as the ADS client keeps it (only its decoded message is read here). */
export interface DecodedResource {
  resource: Plain;
}
export type ResourceMap = ReadonlyMap<string, DecodedResource>;

export interface XdsInputs {
  listeners: ResourceMap;
  clusters: ResourceMap;
  /** by cluster_name */
  assignments: ResourceMap;
  /** ECDS, by filter name */
  extensionConfigs: ResourceMap;
}

export interface XdsListener {
  name: string;
  address: HostPort;
  defaultCluster: string;
  /** the ECDS name of its wasm filter, or "" when the filter is configured inline */
  filterConfigName: string;
}

export interface XdsFilter {
  /** the plugin's name, root id, vm id and configuration (the JSON the filter reads) */
  name: string;
  rootId: string;
  vmId: string;
  pluginConfig: string;
  /** the VM configuration (part of the VM's key in Envoy) */
  vmConfig: string;
}

export interface XdsProxyConfig {
  listeners: XdsListener[];
  clusters: ClusterConfig[];
  /** the wasm filter of the listeners (they must agree); null when no listener has one yet */
  filter: XdsFilter | null;
}

const WASM_FILTER_TYPE = TypeUrl.wasm;
const TCP_PROXY_TYPE = TypeUrl.tcpProxy;
const STRING_VALUE_TYPE = TypeUrl.stringValue;

function isPlain(v: unknown): v is Plain {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function obj(v: unknown, where: string): Plain {
  if (v === undefined) return {};
  if (!isPlain(v)) throw new XdsConfigError(`${where}: expected a message`);
  return v;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** A Duration message ({seconds, nanos}, seconds possibly a string) or its JSON text ("1.5s") in ms. */
export function durationMs(v: unknown, fallback: number, where: string): number {
  if (v === undefined) return fallback;
  if (typeof v === "string") {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
    if (!m) throw new XdsConfigError(`${where}: expected a duration, got ${JSON.stringify(v)}`);
    return Number(m[1]) * 1000;
  }
  const d = obj(v, where);
  const ms = Number(d["seconds"] ?? 0) * 1000 + Number(d["nanos"] ?? 0) / 1e6;
  if (!Number.isFinite(ms) || ms < 0) throw new XdsConfigError(`${where}: expected a non-negative duration`);
  return ms;
}

/** A wrapper message ({value}) or a plain number. */
function wrapped(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(isPlain(v) ? (v["value"] ?? 0) : v);
  return Number.isFinite(n) ? n : fallback;
}

function socketAddress(address: unknown, where: string): HostPort {
  const sa = obj(obj(address, where)["socket_address"], `${where}.socket_address`);
  const host = str(sa["address"]);
  const port = Number(sa["port_value"] ?? 0);
  if (host === "") throw new XdsConfigError(`${where}.socket_address.address: required`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new XdsConfigError(`${where}.socket_address.port_value: expected 0-65535, got ${port}`);
  return { host, port };
}

function lbPolicy(cluster: Plain, where: string): LbPolicy {
  const p = cluster["lb_policy"] === undefined ? "ROUND_ROBIN" : str(cluster["lb_policy"]);
  if (!(LB_POLICIES as readonly string[]).includes(p)) {
    throw new XdsConfigError(`${where}.lb_policy: ${JSON.stringify(p)} is not supported (allowed: ${LB_POLICIES.join(", ")})`);
  }
  return p as LbPolicy;
}

/** Envoy's default connect timeout is 5 s; Envoy requires it to be positive (`gt: {}` in cluster.proto). */
function connectTimeoutMs(cluster: Plain, where: string): number {
  const ms = durationMs(cluster["connect_timeout"], 5000, `${where}.connect_timeout`);
  if (ms <= 0) throw new XdsConfigError(`${where}.connect_timeout: must be positive`);
  return Math.max(1, Math.round(ms));
}

function clusterSettings(cluster: Plain, defaults: ClusterSettings, where: string): ClusterSettings {
  const thresholds = list(obj(cluster["circuit_breakers"], `${where}.circuit_breakers`)["thresholds"]).filter(
    (t) => isPlain(t) && (t["priority"] === undefined || t["priority"] === "DEFAULT"),
  ) as Plain[];
  const t = thresholds[0] ?? {};
  const od = cluster["outlier_detection"];
  const odp = obj(od, `${where}.outlier_detection`);
  const filterMeta = obj(obj(obj(cluster["metadata"], `${where}.metadata`)["filter_metadata"], `${where}.metadata.filter_metadata`)["dubbo-mesh"], `${where}.metadata.filter_metadata.dubbo-mesh`);
  return {
    ...defaults,
    lbPolicy: lbPolicy(cluster, where),
    connectTimeoutMs: connectTimeoutMs(cluster, where),
    requestTimeoutMs: structPositiveInt(filterMeta, "request_timeout_ms", `${where}.metadata.filter_metadata.dubbo-mesh`) ?? defaults.requestTimeoutMs,
    circuitBreakers: {
      maxConnections: wrapped(t["max_connections"], 1024),
      maxPendingRequests: wrapped(t["max_pending_requests"], 1024),
      maxRequests: wrapped(t["max_requests"], 1024),
    },
    outlierDetection:
      od === undefined
        ? { ...defaults.outlierDetection, consecutiveErrors: 0 }
        : {
            consecutiveErrors: wrapped(odp["consecutive_5xx"], 5),
            baseEjectionTimeMs: durationMs(odp["base_ejection_time"], 30_000, `${where}.outlier_detection.base_ejection_time`),
            maxEjectionTimeMs: durationMs(odp["max_ejection_time"], 300_000, `${where}.outlier_detection.max_ejection_time`),
            maxEjectionPercent: wrapped(odp["max_ejection_percent"], 10),
          },
  };
}

/**
 * A positive integer field of a `google.protobuf.Struct` as protobufjs decodes it: `{fields: {k: {numberValue}}}`
 * (the well-known types come with camelCase field names). Absent: undefined; anything else is an error.
 */
function structPositiveInt(struct: Plain, key: string, where: string): number | undefined {
  const fields = struct["fields"];
  if (!isPlain(fields) || fields[key] === undefined) return undefined;
  const v = obj(fields[key], `${where}.${key}`);
  const n = v["numberValue"] ?? v["number_value"];
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new XdsConfigError(`${where}.${key}: expected a positive integer number, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * An endpoint's labels: the string fields of its `metadata.filter_metadata["envoy.lb"]` (where Envoy's subset
 * load balancer reads them). Shown in /clusters; other values are ignored.
 */
function endpointLabels(lbEndpoint: Plain, where: string): Record<string, string> {
  const meta = obj(obj(obj(lbEndpoint["metadata"], `${where}.metadata`)["filter_metadata"], `${where}.metadata.filter_metadata`)["envoy.lb"], `${where}.metadata.filter_metadata.envoy.lb`);
  const fields = meta["fields"];
  const out: Record<string, string> = {};
  if (!isPlain(fields)) return out;
  for (const [k, v] of Object.entries(fields)) {
    const text = isPlain(v) ? (v["stringValue"] ?? v["string_value"]) : undefined;
    if (typeof text === "string") out[k] = text;
  }
  return out;
}

const UNUSABLE_HEALTH = new Set(["UNHEALTHY", "DRAINING", "TIMEOUT"]);

function endpointsOf(assignment: Plain | undefined, where: string): EndpointConfig[] {
  if (assignment === undefined) return [];
  const out: EndpointConfig[] = [];
  list(assignment["endpoints"]).forEach((locality, i) => {
    list(obj(locality, `${where}.endpoints[${i}]`)["lb_endpoints"]).forEach((lbe, j) => {
      const at = `${where}.endpoints[${i}].lb_endpoints[${j}]`;
      const e = obj(lbe, at);
      // as Envoy: only HEALTHY, UNKNOWN (and DEGRADED) hosts take traffic (EDS health_status)
      if (UNUSABLE_HEALTH.has(str(e["health_status"]))) return;
      const endpoint = obj(e["endpoint"], `${at}.endpoint`);
      const weight = wrapped(e["load_balancing_weight"], 1);
      if (!Number.isInteger(weight) || weight < 1) throw new XdsConfigError(`${at}.load_balancing_weight: expected a positive integer, got ${weight}`);
      out.push({ address: socketAddress(endpoint["address"], `${at}.endpoint.address`), weight, labels: endpointLabels(e, at) });
    });
  });
  return out;
}

/** Clusters: EDS clusters take their endpoints from the assignment of their service name; STATIC ones from load_assignment. */
export function clustersFromXds(inputs: Pick<XdsInputs, "clusters" | "assignments">, defaults: ClusterSettings): ClusterConfig[] {
  const out: ClusterConfig[] = [];
  for (const [name, { resource: cluster }] of inputs.clusters) {
    const where = `Cluster ${name}`;
    const type = cluster["type"] === undefined ? "STATIC" : str(cluster["type"]);
    let endpoints: EndpointConfig[];
    if (type === "EDS") {
      const eds = str(obj(cluster["eds_cluster_config"], `${where}.eds_cluster_config`)["service_name"]) || name;
      endpoints = endpointsOf(inputs.assignments.get(eds)?.resource, `ClusterLoadAssignment ${eds}`);
    } else if (type === "STATIC") {
      endpoints = endpointsOf(cluster["load_assignment"] === undefined ? undefined : obj(cluster["load_assignment"], `${where}.load_assignment`), `${where}.load_assignment`);
    } else {
      throw new XdsConfigError(`${where}.type: ${JSON.stringify(type)} is not supported (allowed: EDS, STATIC)`);
    }
    out.push({ ...clusterSettings(cluster, defaults, where), name, endpoints });
  }
  return out;
}

interface ListenerFilters {
  wasm: { inline: Plain | null; discoveryName: string } | null;
  defaultCluster: string;
}

function listenerFilters(listener: Plain, where: string): ListenerFilters {
  const chains = list(listener["filter_chains"]);
  if (chains.length !== 1) throw new XdsConfigError(`${where}.filter_chains: expected exactly one filter chain, got ${chains.length}`);
  const out: ListenerFilters = { wasm: null, defaultCluster: "" };
  list(obj(chains[0], `${where}.filter_chains[0]`)["filters"]).forEach((f, i) => {
    const at = `${where}.filter_chains[0].filters[${i}]`;
    const filter = obj(f, at);
    const typed = filter["typed_config"];
    const discovery = filter["config_discovery"];
    if (isPlain(typed) && typed["@type"] === WASM_FILTER_TYPE) {
      out.wasm = { inline: typed, discoveryName: "" };
    } else if (isPlain(discovery)) {
      const urls = list(discovery["type_urls"]);
      if (!urls.includes(WASM_FILTER_TYPE)) throw new XdsConfigError(`${at}.config_discovery.type_urls: the proxy discovers only ${WASM_FILTER_TYPE}`);
      out.wasm = { inline: null, discoveryName: str(filter["name"]) };
    } else if (isPlain(typed) && typed["@type"] === TCP_PROXY_TYPE) {
      out.defaultCluster = str(typed["cluster"]);
    }
  });
  return out;
}

/** The Wasm filter configuration (envoy.extensions.filters.network.wasm.v3.Wasm) as the proxy runs it. */
export function wasmFilterOf(wasm: Plain, where: string): XdsFilter {
  const config = obj(wasm["config"], `${where}.config`);
  const vm = obj(config["vm_config"], `${where}.config.vm_config`);
  const text = (v: unknown, at: string): string => {
    if (v === undefined) return "";
    const any = obj(v, at);
    if (any["@type"] !== STRING_VALUE_TYPE) throw new XdsConfigError(`${at}: expected a ${STRING_VALUE_TYPE}, got ${JSON.stringify(any["@type"])}`);
    return str(any["value"]);
  };
  return {
    name: str(config["name"]),
    rootId: str(config["root_id"]),
    vmId: str(vm["vm_id"]),
    pluginConfig: text(config["configuration"], `${where}.config.configuration`),
    vmConfig: text(vm["configuration"], `${where}.config.vm_config.configuration`),
  };
}

/**
 * The whole proxy configuration from the current resources. A listener whose ECDS configuration has not
 * arrived yet has no filter (`filter` null until it does), as Envoy's listener warms until then.
 */
export function proxyConfigFromXds(inputs: XdsInputs, defaults: ClusterSettings): XdsProxyConfig {
  const listeners: XdsListener[] = [];
  let filter: XdsFilter | null = null;
  for (const [name, { resource: listener }] of inputs.listeners) {
    const where = `Listener ${name}`;
    const f = listenerFilters(listener, where);
    if (f.wasm === null) throw new XdsConfigError(`${where}: no envoy.filters.network.wasm filter (the proxy runs the dubbo-mesh filter on every listener)`);
    listeners.push({ name, address: socketAddress(listener["address"], `${where}.address`), defaultCluster: f.defaultCluster, filterConfigName: f.wasm.discoveryName });
    let wasm = f.wasm.inline;
    if (wasm === null) {
      const ext = inputs.extensionConfigs.get(f.wasm.discoveryName)?.resource;
      if (ext === undefined) continue;
      const typed = obj(ext["typed_config"], `TypedExtensionConfig ${f.wasm.discoveryName}.typed_config`);
      if (typed["@type"] !== WASM_FILTER_TYPE) {
        throw new XdsConfigError(`TypedExtensionConfig ${f.wasm.discoveryName}.typed_config: expected ${WASM_FILTER_TYPE}, got ${JSON.stringify(typed["@type"])}`);
      }
      wasm = typed;
    }
    const next = wasmFilterOf(wasm, where);
    if (filter !== null && JSON.stringify(filter) !== JSON.stringify(next)) {
      throw new XdsConfigError(`${where}: its wasm filter differs from another listener's (the proxy runs one plugin for all listeners)`);
    }
    filter = next;
  }
  return { listeners, clusters: clustersFromXds(inputs, defaults), filter };
}
