/**
 * Envoy resources for the model, in Envoy's JSON form (proto field names, `@type` Anys, durations as "1s"):
 * one Listener on the Dubbo port with [wasm filter, dubbo_proxy] (mode dubbo-proxy) or [wasm filter,
 * tcp_proxy] (mode tcp), and per service and subset an EDS Cluster with its ClusterLoadAssignment
 * (clusters.ts). `encodeJson` / `anyFromJson` (proto-json.ts) turn them into protobuf.
 *
 * With a `ServiceCache`, a service's clusters, assignments, routes and plugin entry are made once per
 * Service object: after one endpoint changes only that service's are rebuilt.
 */
import type { MeshModel } from "../../model/model.js";
import { inPluginOrder, pluginConfigJson, pluginConfigOf, type PluginConfig } from "../../plugin-config.js";
import type { Json } from "./clusters.js";
import { dubboProxyFilter } from "./dubbo-proxy.js";
import { ServiceCache } from "./service-cache.js";
import { TypeUrl } from "./type-urls.js";
import { wasmNetworkFilter, type WasmSource } from "./wasm-filter.js";

export type { Json } from "./clusters.js";
export type XdsMode = "dubbo-proxy" | "tcp";
export const BLACKHOLE_CLUSTER = "dubbo_mesh_no_destination";

export interface XdsOptions {
  mode: XdsMode;
  wasm: WasmSource;
  /** listener address (default 127.0.0.1) */
  listenAddress?: string;
}

export interface XdsResources {
  listeners: Json[];
  clusters: Json[];
  clusterLoadAssignments: Json[];
}

function dubboListener(config: PluginConfig, configJson: string, routeConfigs: readonly Json[], port: number, options: XdsOptions): Json {
  const last =
    options.mode === "dubbo-proxy"
      ? dubboProxyFilter(config, routeConfigs)
      : {
          name: "envoy.filters.network.tcp_proxy",
          typed_config: { "@type": TypeUrl.tcpProxy, stat_prefix: "dubbo_mesh", cluster: BLACKHOLE_CLUSTER },
        };
  return {
    "@type": TypeUrl.listener,
    name: `dubbo_mesh_${port}`,
    address: { socket_address: { address: options.listenAddress ?? "127.0.0.1", port_value: port } },
    filter_chains: [{ filters: [wasmNetworkFilter(options.wasm, configJson), last] }],
  };
}

export function buildXdsResources(model: MeshModel, options: XdsOptions, cache: ServiceCache = new ServiceCache()): XdsResources {
  const clusters: Json[] = [];
  const clusterLoadAssignments: Json[] = [];
  for (const s of model.services) {
    const p = cache.pieces(s);
    clusters.push(...p.clusters);
    clusterLoadAssignments.push(...p.assignments);
  }
  if (options.mode === "tcp") {
    clusters.push({ "@type": TypeUrl.cluster, name: BLACKHOLE_CLUSTER, type: "STATIC", connect_timeout: "1s" });
  }
  const pieces = inPluginOrder(model.services).map((s) => cache.pieces(s));
  const config = pluginConfigOf(pieces.map((p) => p.entry), { rewrite: options.mode === "dubbo-proxy", routeAttachment: cache.routeAttachment });
  const json = pluginConfigJson(config, { entryTexts: pieces.map((p) => p.entryJson) });
  const listener = dubboListener(config, json, pieces.map((p) => p.routeConfig), model.port, options);
  return { listeners: [listener], clusters, clusterLoadAssignments };
}
