/**
 * The EnvoyFilter that puts the .wasm filter into the sidecars' outbound Dubbo listeners, in two modes.
 *
 * dubbo-proxy (default; works with Istio's stock proxy): on the outbound filter chains of the Dubbo port,
 *   1. INSERT_BEFORE tcp_proxy: envoy.filters.network.wasm (our filter, rewrite on), then
 *   2. REPLACE tcp_proxy with envoy.filters.network.dubbo_proxy whose routes follow the attachment the
 *      filter writes into each request (per-request routing).
 * tcp: 1. INSERT_BEFORE tcp_proxy: the wasm filter (it sets envoy.tcp_proxy.cluster per connection), and
 *   2. MERGE into tcp_proxy: max_early_data_bytes + upstream_connect_mode ON_DOWNSTREAM_DATA, so tcp_proxy
 *      hands the first request to the filter before it picks the upstream (needs a recent Envoy, see docs).
 *
 * The two steps are two EnvoyFilters: `part: "wasm"` (priority -10, applied first: it inserts before
 * tcp_proxy, which the dubbo-proxy step then replaces) and `part: "mode"` (priority 0). The WasmPlugin
 * variant replaces the "wasm" one; the "mode" one is needed either way.
 */
import { TypeUrl } from "../xds/type-urls.js";
import { dubboProxyFilter } from "../xds/dubbo-proxy.js";
import { wasmNetworkFilter, type WasmSource } from "../xds/wasm-filter.js";
import { pluginConfigJson, type PluginConfig } from "../plugin-config.js";
import { GENERATED_BY } from "./resources.js";

export type Mode = "dubbo-proxy" | "tcp";
export const MODES: readonly Mode[] = ["dubbo-proxy", "tcp"];
export const ENVOY_FILTER_API = "networking.istio.io/v1alpha3";
/** Bytes tcp_proxy buffers before the upstream is connected (one Dubbo request header + a typical body). */
export const EARLY_DATA_BYTES = 65536;

export interface EnvoyFilterOptions {
  mode: Mode;
  port: number;
  wasm: WasmSource;
  namespace?: string;
  part: "wasm" | "mode";
}

export const WASM_FILTER_PRIORITY = -10;

/** The two tcp_proxy fields of the tcp mode that the grpc-js-xds Envoy protos predate. */
export function tcpProxyEarlyDataPatch(): Record<string, unknown> {
  return {
    "@type": TypeUrl.tcpProxy,
    max_early_data_bytes: EARLY_DATA_BYTES,
    upstream_connect_mode: "ON_DOWNSTREAM_DATA",
  };
}

/**
 * `configJson`: the configuration's JSON text when the caller has it already (the same as
 * `pluginConfigJson(config)`); `routeConfigs`: dubbo_proxy's routes when not the default ones (live mode).
 */
export function envoyFilter(config: PluginConfig, options: EnvoyFilterOptions, configJson?: string, routeConfigs?: readonly Record<string, unknown>[]): Record<string, unknown> {
  const match = {
    context: "SIDECAR_OUTBOUND",
    listener: { portNumber: options.port, filterChain: { filter: { name: "envoy.filters.network.tcp_proxy" } } },
  };
  const patches: Record<string, unknown>[] = [];
  if (options.part === "wasm") {
    patches.push({ applyTo: "NETWORK_FILTER", match, patch: { operation: "INSERT_BEFORE", value: wasmNetworkFilter(options.wasm, configJson ?? pluginConfigJson(config)) } });
  } else if (options.mode === "dubbo-proxy") {
    patches.push({ applyTo: "NETWORK_FILTER", match, patch: { operation: "REPLACE", value: dubboProxyFilter(config, routeConfigs) } });
  } else {
    patches.push({
      applyTo: "NETWORK_FILTER",
      match,
      patch: { operation: "MERGE", value: { name: "envoy.filters.network.tcp_proxy", typed_config: tcpProxyEarlyDataPatch() } },
    });
  }
  return {
    apiVersion: ENVOY_FILTER_API,
    kind: "EnvoyFilter",
    metadata: {
      name: options.part === "wasm" ? "dubbo-mesh-wasm" : `dubbo-mesh-${options.mode}`,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels: { ...GENERATED_BY },
    },
    spec: { ...(options.part === "wasm" ? { priority: WASM_FILTER_PRIORITY } : {}), configPatches: patches },
  };
}
