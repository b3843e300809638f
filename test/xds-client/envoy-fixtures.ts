/**
 * Test builders of real Envoy resources, checked and encoded with the Envoy protos (strict proto3 JSON →
 * protobuf, `control/generate/xds/proto-json.ts`): EDS Clusters, ClusterLoadAssignments, a Listener whose
 * dubbo_proxy filter takes its routes by DRDS and whose wasm filter takes its configuration by ECDS, the DRDS
 * MultipleRouteConfiguration and the ECDS TypedExtensionConfig.
 */
import { anyFromJson } from "../../control/generate/xds/proto-json.js";
import type { AnyMessage } from "../../proxy/xds/ads-proto.js";
import { XdsType } from "../../proxy/xds/xds-resources.js";

const ADS = { ads: {}, resource_api_version: "V3" };
const WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";

export function anyOf(json: Record<string, unknown>): AnyMessage {
  const any = anyFromJson(json);
  return { type_url: any.type_url, value: Buffer.from(any.value) };
}

export function edsCluster(name: string, serviceName = ""): AnyMessage {
  return anyOf({
    "@type": XdsType.cluster,
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: ADS, ...(serviceName ? { service_name: serviceName } : {}) },
    connect_timeout: "1s",
    lb_policy: "ROUND_ROBIN",
  });
}

export function staticCluster(name: string, port: number): AnyMessage {
  return anyOf({
    "@type": XdsType.cluster,
    name,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }] },
  });
}

export function loadAssignment(name: string, ports: number[]): AnyMessage {
  return anyOf({
    "@type": XdsType.clusterLoadAssignment,
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: ports.map((port) => ({
          endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } },
          load_balancing_weight: 1,
        })),
      },
    ],
  });
}

/** A Listener with [wasm filter by ECDS named `ecdsName`, dubbo_proxy with DRDS `routeConfigName`]. */
export function dubboListener(name: string, routeConfigName: string, ecdsName: string, port = 20880): AnyMessage {
  return anyOf({
    "@type": XdsType.listener,
    name,
    address: { socket_address: { address: "127.0.0.1", port_value: port } },
    filter_chains: [
      {
        filters: [
          { name: ecdsName, config_discovery: { config_source: ADS, type_urls: [WASM_TYPE] } },
          {
            name: "envoy.filters.network.dubbo_proxy",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy",
              stat_prefix: "dubbo_mesh",
              drds: { config_source: ADS, route_config_name: routeConfigName },
            },
          },
        ],
      },
    ],
  });
}

export function dubboRoutes(name: string, iface: string, cluster: string): AnyMessage {
  return anyOf({
    "@type": XdsType.dubboRoutes,
    name,
    route_config: [
      {
        name: iface,
        interface: iface,
        routes: [{ match: { method: { name: { exact: "sayHello" } } }, route: { cluster } }],
      },
    ],
  });
}

/** The wasm filter's configuration as ECDS delivers it; `configuration` is the plugin configuration string. */
export function wasmExtensionConfig(name: string, configuration: string): AnyMessage {
  return anyOf({
    "@type": XdsType.extensionConfig,
    name,
    typed_config: {
      "@type": WASM_TYPE,
      config: {
        name: "dubbo-mesh",
        root_id: "dubbo_mesh",
        vm_config: { vm_id: "dubbo_mesh", runtime: "envoy.wasm.runtime.v8", code: { local: { filename: "/tmp/dubbo_filter.wasm" } } },
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: configuration },
      },
    },
  });
}
