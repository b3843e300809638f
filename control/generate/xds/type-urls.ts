/**
 * Type URLs of the Envoy messages the generators write (`@type` of an Any, xDS resource types). Plain
 * strings: importing them loads no protos (envoy-protos.ts does that).
 */
export const TypeUrl = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  clusterLoadAssignment: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  wasm: "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm",
  dubboProxy: "type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy",
  tcpProxy: "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  stringValue: "type.googleapis.com/google.protobuf.StringValue",
  multipleRouteConfiguration: "type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration",
  typedExtensionConfig: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
  httpProtocolOptions: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
} as const;
