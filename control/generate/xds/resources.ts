/**
 * Envoy resources for the model, in Envoy's JSON form (proto field names, `@type` Anys, durations as "1s"):
 * one Listener on the Dubbo port with [wasm filter, dubbo_proxy] (mode dubbo-proxy) or [wasm filter,
 * tcp_proxy] (mode tcp), and per service and subset an EDS Cluster named like Istio's
 * (`outbound|PORT|SUBSET|HOST`) with its ClusterLoadAssignment. `encodeJson` / `anyFromJson`
 * (proto-json.ts) turn them into protobuf; the xDS server serves them.
 *
 * Clusters and assignments are cached per `Service` object: after one endpoint changes only that service's
 * objects are rebuilt. The Listener embeds every service's routes and is rebuilt on every build.
 */
import { endpointInSubset, type MeshModel, type Service } from "../../model/model.js";
import type { Subset } from "../../rules/types.js";
import { compilePluginConfig, defaultClusterName, type PluginConfig } from "../../plugin-config.js";
import { dubboProxyFilter } from "./dubbo-proxy.js";
import { TypeUrl } from "./envoy-protos.js";
import { wasmNetworkFilter, type WasmSource } from "./wasm-filter.js";

export type XdsMode = "dubbo-proxy" | "tcp";
export const BLACKHOLE_CLUSTER = "dubbo_mesh_no_destination";

export interface XdsOptions {
  mode: XdsMode;
  wasm: WasmSource;
  /** listener address (default 127.0.0.1) */
  listenAddress?: string;
  /** plugin configuration to embed (default: compiled from the model, rewrite on in dubbo-proxy mode) */
  pluginConfig?: PluginConfig;
}

export type Json = Record<string, unknown>;

export interface XdsResources {
  listeners: Json[];
  clusters: Json[];
  clusterLoadAssignments: Json[];
}

function lbPolicy(service: Service): string {
  const lb = service.rule?.loadBalancer;
  if (lb && "simple" in lb) return lb.simple === "RANDOM" ? "RANDOM" : lb.simple === "LEAST_REQUEST" ? "LEAST_REQUEST" : "ROUND_ROBIN";
  return "ROUND_ROBIN";
}

/** Every EDS cluster's config source: the ADS stream (one shared read-only object). */
const EDS_OVER_ADS: Json = { ads: {}, resource_api_version: "V3" };

export function edsCluster(name: string, lb: string): Json {
  return {
    "@type": TypeUrl.cluster,
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: EDS_OVER_ADS, service_name: name },
    connect_timeout: "1s",
    lb_policy: lb,
  };
}

/** lb_endpoints of a service, one object per endpoint, shared by the whole-service and subset assignments. */
function lbEndpointsOf(service: Service): Json[] {
  return service.endpoints.map((e) => ({
    endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
    load_balancing_weight: e.weight,
  }));
}

export function loadAssignment(name: string, service: Service, subset: string, shared: Json[] = lbEndpointsOf(service)): Json {
  let def: Subset | undefined;
  if (subset !== "") for (const s of service.subsets) if (s.name === subset) def = def ?? s;
  let lbEndpoints: Json[] = [];
  const endpoints = service.endpoints;
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i]!;
    if (e.weight === 0) continue; // Dubbo weight 0: no traffic; Envoy wants weights >= 1
    if (def === undefined || endpointInSubset(e, def)) lbEndpoints.push(shared[i]!);
  }
  if (lbEndpoints.length === shared.length) lbEndpoints = shared; // every endpoint, in order: the shared list itself
  return {
    "@type": TypeUrl.clusterLoadAssignment,
    cluster_name: name,
    endpoints: lbEndpoints.length > 0 ? [{ lb_endpoints: lbEndpoints }] : [],
  };
}

/** "" (the whole service) and the subsets' names sorted, per subsets array (a rule's, shared by its services). */
const namesOfSubsets = new WeakMap<readonly Subset[], readonly string[]>();

function subsetNames(subsets: readonly Subset[]): readonly string[] {
  let names = namesOfSubsets.get(subsets);
  if (names === undefined) namesOfSubsets.set(subsets, (names = ["", ...subsets.map((s) => s.name).sort()]));
  return names;
}

const perService = new WeakMap<Service, { clusters: Json[]; assignments: Json[] }>();

/** Clusters + assignments of one service (whole service first, then its subsets by name). */
export function serviceResources(service: Service): { clusters: Json[]; assignments: Json[] } {
  const hit = perService.get(service);
  if (hit) return hit;
  const lb = lbPolicy(service);
  const subsets = subsetNames(service.subsets);
  const out = { clusters: [] as Json[], assignments: [] as Json[] };
  const shared = lbEndpointsOf(service);
  for (const subset of subsets) {
    const name = defaultClusterName(service, subset);
    out.clusters.push(edsCluster(name, lb));
    out.assignments.push(loadAssignment(name, service, subset, shared));
  }
  perService.set(service, out);
  return out;
}

export function dubboListener(config: PluginConfig, port: number, options: XdsOptions): Json {
  const last =
    options.mode === "dubbo-proxy"
      ? dubboProxyFilter(config)
      : {
          name: "envoy.filters.network.tcp_proxy",
          typed_config: { "@type": TypeUrl.tcpProxy, stat_prefix: "dubbo_mesh", cluster: BLACKHOLE_CLUSTER },
        };
  return {
    "@type": TypeUrl.listener,
    name: `dubbo_mesh_${port}`,
    address: { socket_address: { address: options.listenAddress ?? "127.0.0.1", port_value: port } },
    filter_chains: [{ filters: [wasmNetworkFilter(options.wasm, config), last] }],
  };
}

export function buildXdsResources(model: MeshModel, options: XdsOptions): XdsResources {
  const resolved = options.pluginConfig ?? compilePluginConfig(model, { rewrite: options.mode === "dubbo-proxy" });
  const clusters: Json[] = [];
  const clusterLoadAssignments: Json[] = [];
  for (const s of model.services) {
    const r = serviceResources(s);
    clusters.push(...r.clusters);
    clusterLoadAssignments.push(...r.assignments);
  }
  if (options.mode === "tcp") {
    clusters.push({ "@type": TypeUrl.cluster, name: BLACKHOLE_CLUSTER, type: "STATIC", connect_timeout: "1s" });
  }
  return { listeners: [dubboListener(resolved, model.port, options)], clusters, clusterLoadAssignments };
}
