/**
 * The `envoy.filters.network.dubbo_proxy` filter (Envoy JSON) whose routes follow the filter's choice: the
 * .wasm filter in front of it writes the chosen cluster into each request as the attachment
 * `routeAttachment`, and each service's RouteConfiguration has one route per cluster the service's rules can
 * choose, matching that attachment exactly. After those come the same rules translated to dubbo_proxy's own
 * matchers (used when the attachment is missing, e.g. with `rewrite: false`) and a last route to the
 * service's default cluster.
 *
 * Deny rules have no dubbo_proxy equivalent: the filter marks a denied request by setting the attachment to
 * `!denied:RULE` (docs/filter.md, "Deny"). For a service with deny rules, the routes after the per-cluster
 * ones refuse that mark (an inverted prefix matcher that takes a missing attachment as ""), so no route
 * matches a marked request and dubbo_proxy answers it itself ("no route", status 60) without an upstream,
 * leaving the connection open.
 */
import { TypeUrl } from "./type-urls.js";
import { clustersOf, type PluginConfig, type PluginMatch, type PluginService } from "../plugin-config.js";
import type { StringMatch } from "../../rules/types.js";

export const DUBBO_PROXY_STAT_PREFIX = "dubbo_mesh";
export const DUBBO_ROUTE_CONFIG_NAME = "dubbo-mesh";
/** The prefix of the route attachment the filter writes into a denied request (assembly/filter/connection.ts). */
export const DENY_MARKER = "!denied:";

const anyMethod = { safe_regex: { regex: ".*" } };

function stringMatcher(m: StringMatch): Record<string, unknown> {
  if ("exact" in m) return { exact: m.exact };
  if ("prefix" in m) return { prefix: m.prefix };
  if ("suffix" in m) return { suffix: m.suffix };
  return { safe_regex: { regex: ".+" } };
}

function headerMatcher(name: string, m: StringMatch): Record<string, unknown> {
  if ("present" in m) return { name, present_match: true };
  return { name, string_match: stringMatcher(m) };
}

/** dubbo_proxy's own form of a rule match, or undefined when it cannot say it (argument prefix/suffix/present). */
function nativeMatch(match: PluginMatch | undefined): Record<string, unknown> | undefined {
  if (match === undefined) return { method: { name: anyMethod } };
  const method: Record<string, unknown> = { name: match.method ? stringMatcher(match.method) : anyMethod };
  if (match.arguments) {
    const params: Record<string, unknown> = {};
    for (const [index, m] of Object.entries(match.arguments)) {
      if (!("exact" in m)) return undefined;
      params[index] = { exact_match: m.exact };
    }
    method["params_match"] = params;
  }
  const out: Record<string, unknown> = { method };
  if (match.attachments) out["headers"] = Object.entries(match.attachments).map(([k, m]) => headerMatcher(k, m));
  return out;
}

/**
 * The RouteConfiguration of one compiled service, named `interface:version:group`: a route per cluster in
 * `clusters` (default: those the service's routes can choose, `clustersOf`) on the route attachment, then
 * the rules' own matchers, then the default cluster.
 */
export function dubboRouteConfiguration(entry: PluginService, routeAttachment: string, clusters: readonly string[] = clustersOf(entry)): Record<string, unknown> {
  const routes: Record<string, unknown>[] = clusters.map((cluster) => ({
    match: { method: { name: anyMethod }, headers: [{ name: routeAttachment, string_match: { exact: cluster } }] },
    route: { cluster },
  }));
  const notDenied =
    entry.deny.length > 0 ? [{ name: routeAttachment, string_match: { prefix: DENY_MARKER }, invert_match: true, treat_missing_header_as_empty: true }] : [];
  const guarded = (match: Record<string, unknown>) =>
    notDenied.length === 0 ? match : { ...match, headers: [...((match["headers"] as unknown[] | undefined) ?? []), ...notDenied] };
  for (const r of entry.routes) {
    const match = nativeMatch(r.match);
    if (!match) continue;
    const route =
      r.destinations.length === 1
        ? { cluster: r.destinations[0]!.cluster }
        : { weighted_clusters: { clusters: r.destinations.map((d) => ({ name: d.cluster, weight: d.weight })) } };
    routes.push({ match: guarded(match), route });
  }
  routes.push({ match: guarded({ method: { name: anyMethod } }), route: { cluster: entry.defaultCluster } });
  return {
    name: `${entry.interface}:${entry.version}:${entry.group}`,
    interface: entry.interface,
    ...(entry.version !== "" ? { version: entry.version } : {}),
    ...(entry.group !== "" ? { group: entry.group } : {}),
    routes,
  };
}

/** The dubbo_proxy network filter; `routes` is how it gets its routes: `multiple_route_config` (inline) or `drds`. */
export function dubboProxyNetworkFilter(routes: Record<string, unknown>): Record<string, unknown> {
  return {
    name: "envoy.filters.network.dubbo_proxy",
    typed_config: {
      "@type": TypeUrl.dubboProxy,
      stat_prefix: DUBBO_PROXY_STAT_PREFIX,
      protocol_type: "Dubbo",
      serialization_type: "Hessian2",
      ...routes,
    },
  };
}

/**
 * The dubbo_proxy network filter with every service's routes inline (`multiple_route_config`), for the
 * EnvoyFilter; `routeConfigs` are the services' RouteConfigurations in the configuration's order when the
 * caller has them (a per-service cache).
 */
export function dubboProxyFilter(config: PluginConfig, routeConfigs?: readonly Record<string, unknown>[]): Record<string, unknown> {
  return dubboProxyNetworkFilter({
    multiple_route_config: {
      name: DUBBO_ROUTE_CONFIG_NAME,
      route_config: routeConfigs ?? config.services.map((s) => dubboRouteConfiguration(s, config.routeAttachment)),
    },
  });
}
