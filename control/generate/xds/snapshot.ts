/**
 * The xDS resources a live Envoy needs, in Envoy's JSON form (proto field names, `@type` Anys, durations
 * as "1s"; `anyFromJson` / `encodeJson` of proto-json.ts turn one into protobuf), laid out so that no
 * registry or rules change ever touches the Listener — a changed Listener drains every connection, and
 * Dubbo consumers keep theirs for days:
 *
 *   Listener `dubbo_mesh_PORT`           [wasm filter by ECDS, dubbo_proxy by DRDS] (mode dubbo-proxy) or
 *                                        [wasm filter by ECDS, tcp_proxy] (mode tcp); depends on the
 *                                        options and the port only
 *   TypedExtensionConfig `dubbo-mesh.filter`   the wasm filter's config: the plugin configuration (rules)
 *   MultipleRouteConfiguration `dubbo-mesh`    dubbo_proxy's routes (dubbo-proxy mode): rules and services
 *   Cluster, ClusterLoadAssignment       per service and subset (clusters.ts); an endpoint change touches
 *                                        only its service's assignments
 *
 * DRDS and ECDS are fetched over the same ADS stream (`ads: {}`): Envoy's dubbo_proxy accepts nothing
 * else for DRDS (docs/control.md, "Live resources").
 *
 * Incremental: a service's pieces come from the `ServiceCache` (made once per Service object); a resource
 * whose content did not change is the previous snapshot's very object (a rebuilt service's clusters and
 * assignments are compared with the previous ones; the resources that aggregate every service, the routes
 * and the filter config, are reused when no service's plugin entry changed). So a caller tells what
 * changed by identity and re-encodes only that.
 */
import type { MeshModel, Service } from "../../model/model.js";
import { DEFAULT_MAX_BODY_BYTES, inPluginOrder, pluginConfigJson, pluginConfigOf } from "../plugin-config.js";
import type { Json } from "./clusters.js";
import { DUBBO_PROXY_STAT_PREFIX, DUBBO_ROUTE_CONFIG_NAME, dubboProxyNetworkFilter } from "./dubbo-proxy.js";
import type { ServiceCache } from "./service-cache.js";
import { TypeUrl } from "./type-urls.js";
import { WASM_ECDS_NAME, wasmDiscoveredFilter, wasmTypedConfig, type WasmSource } from "./wasm-filter.js";

export type XdsMode = "dubbo-proxy" | "tcp";
export const BLACKHOLE_CLUSTER = "dubbo_mesh_no_destination";
/** A Dubbo frame's header: the listener buffers one whole frame (header + body) per connection. */
export const DUBBO_HEADER_BYTES = 16;

export interface XdsSnapshotOptions {
  mode: XdsMode;
  wasm: WasmSource;
  /** listener address (default 127.0.0.1) */
  listenAddress?: string;
  /** the plugin configuration's maxBodyBytes (default 8 MiB); sizes the listener's buffer */
  maxBodyBytes?: number;
}

export interface XdsResource {
  /** the resource in Envoy JSON, with its `@type` */
  readonly resource: Json;
  /** the Dubbo interface it belongs to (clusters and assignments), for scoped pushes */
  readonly service?: string;
}

/** type URL → resource name → resource. Never altered after it is made. */
export type XdsResources = ReadonlyMap<string, ReadonlyMap<string, XdsResource>>;

export interface XdsSnapshot {
  readonly resources: XdsResources;
  /** what it was made from, for the next snapshot's reuse */
  readonly basis: { readonly options: string; readonly services: readonly Service[]; readonly entryTexts: readonly string[] };
}

/** Every resource over the same ADS stream as the Listener. */
const ADS: Json = { ads: {}, resource_api_version: "V3" };

/** The Listener: the same for the same options and port, whatever the rules and endpoints. */
export function dubboListener(port: number, options: XdsSnapshotOptions): Json {
  const last =
    options.mode === "dubbo-proxy"
      ? dubboProxyNetworkFilter({ drds: { config_source: ADS, route_config_name: DUBBO_ROUTE_CONFIG_NAME } })
      : {
          name: "envoy.filters.network.tcp_proxy",
          typed_config: { "@type": TypeUrl.tcpProxy, stat_prefix: DUBBO_PROXY_STAT_PREFIX, cluster: BLACKHOLE_CLUSTER },
        };
  return {
    "@type": TypeUrl.listener,
    name: `dubbo_mesh_${port}`,
    address: { socket_address: { address: options.listenAddress ?? "127.0.0.1", port_value: port } },
    // the filter reads one whole frame before it decides: room for the largest one it accepts
    per_connection_buffer_limit_bytes: (options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) + DUBBO_HEADER_BYTES,
    filter_chains: [{ filters: [wasmDiscoveredFilter(ADS), last] }],
  };
}

/**
 * `entry`, or the previous snapshot's entry for `name` when that holds the same content (a rebuilt
 * service's pieces: only those are compared), so unchanged resources keep their identity.
 */
function unchanged(previous: ReadonlyMap<string, XdsResource> | undefined, name: string, entry: XdsResource): XdsResource {
  const old = previous?.get(name);
  if (old === undefined || old === entry) return entry;
  return JSON.stringify(old.resource) === JSON.stringify(entry.resource) ? old : entry;
}

function sameTexts(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The resources for `model`. `cache` must be the one `previous` was made with (its route attachment is
 * the configuration's); `previous` (the last snapshot) lends its unchanged resources.
 */
export function xdsSnapshot(model: MeshModel, options: XdsSnapshotOptions, cache: ServiceCache, previous?: XdsSnapshot): XdsSnapshot {
  const optionsKey = JSON.stringify([options, model.port, cache.routeAttachment]);
  if (previous !== undefined && previous.basis.options === optionsKey) {
    const next = fromPrevious(model, cache, previous);
    if (next !== undefined) return next;
  }
  return fullSnapshot(model, options, optionsKey, cache, previous);
}

/**
 * The snapshot made from the previous one when no service's routing changed (every service that is not the
 * previous snapshot's replaces one of the same key with the same plugin entry: endpoint changes): only the
 * replaced services' clusters and assignments are looked at. Undefined otherwise.
 */
function fromPrevious(model: MeshModel, cache: ServiceCache, previous: XdsSnapshot): XdsSnapshot | undefined {
  // services are sorted by host: when only endpoints changed, old and new line up one by one
  const before = previous.basis.services;
  const now = model.services;
  if (before.length !== now.length) return undefined;
  const replaced: [Service, Service][] = [];
  for (let i = 0; i < now.length; i++) {
    const [old, s] = [before[i]!, now[i]!];
    if (old === s) continue;
    if (old.key !== s.key || cache.pieces(old).entryJson !== cache.pieces(s).entryJson) return undefined;
    replaced.push([old, s]);
  }
  const resources = new Map(previous.resources);
  for (const [type, entries] of [[TypeUrl.cluster, "clusterEntries"], [TypeUrl.clusterLoadAssignment, "assignmentEntries"]] as const) {
    const last = previous.resources.get(type)!;
    const byName = new Map(last);
    for (const [old] of replaced) for (const [name] of cache.pieces(old)[entries]) byName.delete(name);
    for (const [, s] of replaced) for (const [name, entry] of cache.pieces(s)[entries]) byName.set(name, unchanged(last, name, entry));
    resources.set(type, byName);
  }
  return { resources, basis: { ...previous.basis, services: now } };
}

function fullSnapshot(model: MeshModel, options: XdsSnapshotOptions, optionsKey: string, cache: ServiceCache, previous: XdsSnapshot | undefined): XdsSnapshot {
  const pieces = inPluginOrder(model.services).map((s) => cache.pieces(s));
  const entryTexts = pieces.map((p) => p.entryJson);
  const clusters = new Map<string, XdsResource>();
  const assignments = new Map<string, XdsResource>();
  const previousClusters = previous?.resources.get(TypeUrl.cluster);
  const previousAssignments = previous?.resources.get(TypeUrl.clusterLoadAssignment);
  for (const s of model.services) {
    const p = cache.pieces(s);
    for (const [name, entry] of p.clusterEntries) clusters.set(name, unchanged(previousClusters, name, entry));
    for (const [name, entry] of p.assignmentEntries) assignments.set(name, unchanged(previousAssignments, name, entry));
  }
  if (options.mode === "tcp") {
    const blackhole = { "@type": TypeUrl.cluster, name: BLACKHOLE_CLUSTER, type: "STATIC", connect_timeout: "1s" };
    clusters.set(BLACKHOLE_CLUSTER, unchanged(previousClusters, BLACKHOLE_CLUSTER, { resource: blackhole }));
  }

  const reuse = previous !== undefined && previous.basis.options === optionsKey;
  const resources = new Map<string, ReadonlyMap<string, XdsResource>>();
  const listenerName = `dubbo_mesh_${model.port}`;
  resources.set(TypeUrl.listener, reuse ? previous.resources.get(TypeUrl.listener)! : new Map([[listenerName, { resource: dubboListener(model.port, options) }]]));
  resources.set(TypeUrl.cluster, clusters);
  resources.set(TypeUrl.clusterLoadAssignment, assignments);
  if (reuse && sameTexts(previous.basis.entryTexts, entryTexts)) {
    // no service's routes or plugin entry changed: the very same aggregate resources
    for (const type of [TypeUrl.typedExtensionConfig, TypeUrl.multipleRouteConfiguration]) {
      const same = previous.resources.get(type);
      if (same) resources.set(type, same);
    }
  } else {
    const config = pluginConfigOf(
      pieces.map((p) => p.entry),
      { rewrite: options.mode === "dubbo-proxy", routeAttachment: cache.routeAttachment, ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}) },
    );
    const filterConfig = {
      "@type": TypeUrl.typedExtensionConfig,
      name: WASM_ECDS_NAME,
      typed_config: wasmTypedConfig(options.wasm, pluginConfigJson(config, { entryTexts })),
    };
    resources.set(TypeUrl.typedExtensionConfig, new Map([[WASM_ECDS_NAME, { resource: filterConfig }]]));
    if (options.mode === "dubbo-proxy") {
      const routes = { "@type": TypeUrl.multipleRouteConfiguration, name: DUBBO_ROUTE_CONFIG_NAME, route_config: pieces.map((p) => p.routeConfig) };
      resources.set(TypeUrl.multipleRouteConfiguration, new Map([[DUBBO_ROUTE_CONFIG_NAME, { resource: routes }]]));
    }
  }
  return { resources, basis: { options: optionsKey, services: model.services, entryTexts } };
}
