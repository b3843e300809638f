/**
 * The xDS type URLs the server knows, the order it pushes them in, and which are full-state in SotW.
 */

import { TypeUrl } from "../generate/xds/type-urls.js";

export const XdsTypeUrl = {
  listener: TypeUrl.listener,
  cluster: TypeUrl.cluster,
  endpoint: TypeUrl.clusterLoadAssignment,
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  scopedRoute: "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration",
  virtualHost: "type.googleapis.com/envoy.config.route.v3.VirtualHost",
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  runtime: "type.googleapis.com/envoy.service.runtime.v3.Runtime",
  /** DRDS: the routes of `DubboProxy.drds`. */
  dubboRoute: TypeUrl.multipleRouteConfiguration,
  /** ECDS: a filter's `config_discovery`. */
  extensionConfig: TypeUrl.typedExtensionConfig,
} as const;

/**
 * Types whose SotW responses name the resources they carry and may be partial (a client asks for them by
 * name; a missing one is not deleted). Every other type, Listener and Cluster and any type the server does
 * not know (Istio's MCP GVKs among them), is full-state: each response carries all of it.
 */
const namedTypes: ReadonlySet<string> = new Set([
  XdsTypeUrl.endpoint,
  XdsTypeUrl.route,
  XdsTypeUrl.scopedRoute,
  XdsTypeUrl.virtualHost,
  XdsTypeUrl.secret,
  XdsTypeUrl.runtime,
  XdsTypeUrl.dubboRoute,
  XdsTypeUrl.extensionConfig,
]);

export function isFullStateType(typeUrl: string): boolean {
  return !namedTypes.has(typeUrl);
}

/** Make-before-break: clusters, then their endpoints, then listeners, then what listeners refer to. */
const pushRank = new Map<string, number>([
  [XdsTypeUrl.cluster, 0],
  [XdsTypeUrl.endpoint, 1],
  [XdsTypeUrl.listener, 2],
  [XdsTypeUrl.route, 3],
  [XdsTypeUrl.scopedRoute, 4],
  [XdsTypeUrl.virtualHost, 5],
  [XdsTypeUrl.dubboRoute, 6],
  [XdsTypeUrl.extensionConfig, 7],
  [XdsTypeUrl.secret, 8],
  [XdsTypeUrl.runtime, 9],
]);

/** Sorts type URLs in push order: CDS, EDS, LDS, RDS, SRDS, VHDS, DRDS, ECDS, SDS, RTDS, then others by name. */
export function inPushOrder(typeUrls: Iterable<string>): string[] {
  const rank = (t: string) => pushRank.get(t) ?? pushRank.size;
  return [...typeUrls].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}
