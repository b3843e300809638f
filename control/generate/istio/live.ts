/**
 * Istio live mode (`dubbo-mesh generate --xds-address HOST:PORT`): the sidecars' wasm filter takes its
 * plugin configuration by ECDS from the dubbo-mesh control plane, so rule edits reach every sidecar
 * without `kubectl`. `envoy-filter-xds.yaml` holds one EnvoyFilter with two patches:
 *
 *   1. applyTo CLUSTER, ADD: `dubbo-mesh-xds`, the control plane (STATIC for an IP, STRICT_DNS for a host
 *      name: a gRPC config source needs a primary cluster, not an EDS one), HTTP/2;
 *   2. applyTo NETWORK_FILTER, INSERT_BEFORE tcp_proxy: the wasm filter with `config_discovery` from that
 *      cluster, the generated configuration as its `default_config` (used until the first answer, and
 *      whenever the control plane cannot be reached).
 *
 * It replaces envoy-filter-wasm.yaml and wasm-plugin.yaml (each would insert a second wasm filter).
 * dubbo_proxy's routes stay inline in envoy-filter-dubbo-proxy.yaml: Envoy's dubbo_proxy takes DRDS only
 * over the bootstrap's ADS stream, which in a sidecar is istiod (docs/control.md, "Live resources"). In
 * this mode each service's inline routes follow the attachment for every subset of its rule, so a rule
 * edit that moves traffic among existing subsets needs no new routes.
 */
import { isIP } from "node:net";
import type { Service } from "../../model/model.js";
import { clustersOf, defaultClusterName, type PluginService } from "../plugin-config.js";
import { TypeUrl } from "../xds/type-urls.js";
import { wasmDiscoveredFilter, wasmTypedConfig, type WasmSource } from "../xds/wasm-filter.js";
import { ENVOY_FILTER_API, WASM_FILTER_PRIORITY } from "./envoy-filter.js";
import { GENERATED_BY } from "./resources.js";

export const XDS_CLUSTER = "dubbo-mesh-xds";

export interface XdsAddress {
  host: string;
  port: number;
}

/** Validates `--xds-address HOST:PORT` (an IPv6 address in brackets). Throws with the expected shape. */
export function parseXdsAddress(text: string): XdsAddress {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new Error(`--xds-address: expected HOST:PORT (port 1..65535), got ${JSON.stringify(text)}`);
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  if (m[1]!.startsWith("[") && isIP(host) !== 6) throw new Error(`--xds-address: '${host}' is not an IPv6 address`);
  return { host, port };
}

/** The control plane's cluster (Envoy JSON, a `Cluster`). */
export function xdsCluster(address: XdsAddress): Record<string, unknown> {
  return {
    name: XDS_CLUSTER,
    type: isIP(address.host) !== 0 ? "STATIC" : "STRICT_DNS",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: address.host, port_value: address.port } } } }] }],
    },
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": TypeUrl.httpProtocolOptions,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
}

/** A gRPC config source on the control plane's cluster. */
export const XDS_CONFIG_SOURCE: Record<string, unknown> = {
  api_config_source: { api_type: "GRPC", transport_api_version: "V3", grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }] },
  resource_api_version: "V3",
};

export interface LiveEnvoyFilterOptions {
  port: number;
  wasm: WasmSource;
  xdsAddress: XdsAddress;
  namespace?: string;
}

/** The EnvoyFilter of envoy-filter-xds.yaml; `configJson` is the generated plugin configuration (the default config). */
export function liveEnvoyFilter(configJson: string, options: LiveEnvoyFilterOptions): Record<string, unknown> {
  const listener = { portNumber: options.port, filterChain: { filter: { name: "envoy.filters.network.tcp_proxy" } } };
  return {
    apiVersion: ENVOY_FILTER_API,
    kind: "EnvoyFilter",
    metadata: { name: "dubbo-mesh-xds", ...(options.namespace ? { namespace: options.namespace } : {}), labels: { ...GENERATED_BY } },
    spec: {
      priority: WASM_FILTER_PRIORITY, // before the mode's EnvoyFilter, which replaces tcp_proxy
      configPatches: [
        { applyTo: "CLUSTER", match: { context: "SIDECAR_OUTBOUND" }, patch: { operation: "ADD", value: xdsCluster(options.xdsAddress) } },
        {
          applyTo: "NETWORK_FILTER",
          match: { context: "SIDECAR_OUTBOUND", listener },
          patch: { operation: "INSERT_BEFORE", value: wasmDiscoveredFilter(XDS_CONFIG_SOURCE, wasmTypedConfig(options.wasm, configJson)) },
        },
      ],
    },
  };
}

/** The clusters a service's inline routes follow in live mode: those its routes name and every subset's. */
export function liveClusters(entry: PluginService, service: Service): string[] {
  const others = new Set(clustersOf(entry).slice(1));
  for (const s of service.subsets) others.add(defaultClusterName(service, s.name));
  others.delete(entry.defaultCluster);
  return [entry.defaultCluster, ...[...others].sort()];
}
