/**
 * The `envoy.filters.network.dubbo_proxy` filter (Envoy JSON) whose routes follow the filter's choice: the
 * .wasm filter in front of it writes the chosen cluster into each request as the attachment
 * `routeAttachment`, and each service's RouteConfiguration has one route per cluster the service's rules can
 * choose, matching that attachment exactly. After those come the same rules translated to dubbo_proxy's own
 * matchers (used when the attachment is missing, e.g. with `rewrite: false`) and a last route to the
 * service's default cluster. Deny rules have no dubbo_proxy equivalent: the filter enforces them.
 */
import { TypeUrl } from "./envoy-protos.js";
import { fewGet, type Few } from "../../util/few.js";
import { entryText, flowMapText, listItemText, LONG_STRING, markReusable, yamlScalar, yamlUniqueString } from "../istio/yaml-text.js";
import { clustersOf, entryCacheOf, type PluginConfig, type PluginMatch, type PluginService } from "../../plugin-config.js";
import type { StringMatch } from "../../rules/types.js";

export const DUBBO_PROXY_STAT_PREFIX = "dubbo_mesh";
export const DUBBO_ROUTE_CONFIG_NAME = "dubbo-mesh";

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

/** Any method (shared, never altered, like every object here that more than one route holds). */
const METHOD_ANY: Readonly<Record<string, unknown>> = { name: anyMethod };
/** Any method, no other condition: the match of routes without one. */
const MATCH_ANY: Readonly<Record<string, unknown>> = { method: METHOD_ANY };

/**
 * Native matches per compiled match: services under the same rule share their compiled matches, so they
 * share these objects too, and the YAML text written for them (read-only, never altered).
 */
const nativeCache = new WeakMap<PluginMatch, Record<string, unknown> | null>();

function nativeMatch(match: PluginMatch | undefined): Record<string, unknown> | undefined {
  if (match === undefined) return MATCH_ANY;
  let out = nativeCache.get(match);
  if (out === undefined) nativeCache.set(match, (out = makeNativeMatch(match) ?? null));
  return out ?? undefined;
}

/** dubbo_proxy's own form of a rule match, or undefined when it cannot say it (argument prefix/suffix/present). */
function makeNativeMatch(match: PluginMatch | undefined): Record<string, unknown> | undefined {
  const method: Record<string, unknown> = { name: match?.method ? stringMatcher(match.method) : anyMethod };
  if (match?.arguments) {
    const params: Record<string, unknown> = {};
    for (const [index, m] of Object.entries(match.arguments)) {
      if (!("exact" in m)) return undefined;
      params[index] = { exact_match: m.exact };
    }
    method["params_match"] = params;
  }
  const out: Record<string, unknown> = { method };
  if (match?.attachments) out["headers"] = Object.entries(match.attachments).map(([k, m]) => headerMatcher(k, m));
  return out;
}

/** The RouteConfiguration of one compiled service. */
export function dubboRouteConfiguration(entry: PluginService, routeAttachment: string, name: string): Record<string, unknown> {
  const clusters = clustersOf(entry);
  const routes: Record<string, unknown>[] = [];
  // `{cluster}` per cluster, shared by every route to that one cluster (read-only, like the whole object)
  const routeTo: Record<string, unknown>[] = [];
  for (const cluster of clusters) {
    const to = { cluster };
    routeTo.push(to);
    routes.push({ match: { method: METHOD_ANY, headers: [{ name: routeAttachment, string_match: { exact: cluster } }] }, route: to });
  }
  const toCluster = (cluster: string): Record<string, unknown> => {
    const i = clusters.indexOf(cluster);
    return i >= 0 ? routeTo[i]! : { cluster };
  };
  for (const r of entry.routes) {
    const match = nativeMatch(r.match);
    if (!match) continue;
    const route =
      r.destinations.length === 1
        ? toCluster(r.destinations[0]!.cluster)
        : { weighted_clusters: { clusters: r.destinations.map((d) => ({ name: d.cluster, weight: d.weight })) } };
    routes.push({ match, route });
  }
  routes.push({ match: MATCH_ANY, route: toCluster(entry.defaultCluster) });
  // one literal per shape (spreads of optional fields would build each object through a slow generic path)
  const { version, group } = entry;
  if (version !== "" && group !== "") return { name, interface: entry.interface, version, group, routes };
  if (version !== "") return { name, interface: entry.interface, version, routes };
  if (group !== "") return { name, interface: entry.interface, group, routes };
  return { name, interface: entry.interface, routes };
}

const ANY_METHOD_TEXT = flowMapText({ name: anyMethod });

/**
 * `key: {k: v}` line(s) for a map of one scalar, with k and v already written as YAML scalars (`qk`, `qv`),
 * pushed in flat pieces (a joined template would be a rope to flatten): the flow form when `{qk: qv` fits in
 * 100 characters, as the generic writer decides; else a block.
 */
function pushPairLines(parts: string[], indent: string, key: string, qk: string, qv: string): void {
  if (qk.length + qv.length + 3 <= 100) parts.push(indent, key, ": {", qk, ": ", qv, "}\n");
  else parts.push(indent, key, ":\n", indent, "  ", qk, ": ", qv, "\n");
}

/** The written (quoted) forms of one route configuration's cluster names, which recur in it: reset per configuration. */
const writtenClusters: Few<string> = [];

function writtenCluster(name: string): string {
  let out = fewGet(writtenClusters, name);
  if (out === undefined) writtenClusters.push(name, (out = yamlUniqueString(name)));
  return out;
}

/**
 * A RouteConfiguration's YAML text as a list item at `indent`, equal to the generic writer's
 * (`listItemText`, tested): the first `attachmentRoutes` routes (one per cluster, 10^4–10^5 of them at scale)
 * have a fixed shape and are written directly; the others go through the generic writer.
 */
export function routeConfigurationText(rc: Readonly<Record<string, unknown>>, attachmentRoutes: number, indent: string): string {
  writtenClusters.length = 0;
  const parts: string[] = [];
  const inner = indent + "  ";
  let prefix = `${indent}- `;
  for (const key of ["name", "interface", "version", "group"]) {
    const v = rc[key];
    if (v === undefined) continue;
    // name and interface are the service's own (unique) strings; versions and groups repeat
    parts.push(prefix, key, ": ", typeof v === "string" && (key === "name" || key === "interface") ? yamlUniqueString(v) : yamlScalar(v), "\n");
    prefix = inner;
  }
  const routes = rc["routes"] as readonly Record<string, unknown>[];
  if (prefix !== inner || routes.length === 0 || Object.keys(rc).length !== parts.length / 5 + 1) return listItemText(rc, indent); // not the fixed shape
  parts.push(inner, "routes:\n");
  const l = inner + "  "; // the routes' list indent
  const matchHead = `${l}- match:\n${l}    method: ${ANY_METHOD_TEXT}\n${l}    headers:\n${l}      - name: `;
  const headerIndent = `${l}        `;
  const routeIndent = `${l}  `;
  const exactFlow = `${headerIndent}string_match: {exact: `;
  const routeFlow = `}\n${routeIndent}route: {cluster: `;
  let lastName: unknown;
  let head = "";
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (i >= attachmentRoutes) {
      pushRuleRouteText(parts, r, l);
      continue;
    }
    const headers = (r["match"] as Record<string, unknown>)["headers"] as readonly Record<string, unknown>[];
    const header = headers[0]!;
    if (header["name"] !== lastName || i === 0) head = `${matchHead}${yamlScalar((lastName = header["name"]))}\n`; // the same attachment in every route
    const exact = writtenCluster((header["string_match"] as Record<string, string>)["exact"]!); // a cluster name
    const quotedCluster = writtenCluster((r["route"] as Record<string, string>)["cluster"]!);
    // both maps in flow style (what pushPairLines decides for these lengths): the constant text between them as one piece each
    if (exact.length <= 100 - 8 && quotedCluster.length <= 100 - 10) parts.push(head, exactFlow, exact, routeFlow, quotedCluster, "}\n");
    else {
      parts.push(head);
      pushPairLines(parts, headerIndent, "string_match", "exact", exact);
      pushPairLines(parts, routeIndent, "route", "cluster", quotedCluster);
    }
  }
  return parts.join("");
}

/** The text of a `match` entry as a list item's first line(s), per (shared) match object and indent. */
const matchTexts = new WeakMap<object, Map<string, string>>();

/** A rule route `{match, route}` as a list item at `indent`, pushed: equal to `listItemText(route, indent)`. */
function pushRuleRouteText(parts: string[], r: Readonly<Record<string, unknown>>, indent: string): void {
  const match = r["match"] as Record<string, unknown> | undefined;
  const route = r["route"] as Record<string, unknown> | undefined;
  let n = 0;
  for (const _ in r) n++;
  if (n !== 2 || match === undefined || route === undefined) {
    parts.push(listItemText(r, indent));
    return;
  }
  let byIndent = matchTexts.get(match);
  if (!byIndent) matchTexts.set(match, (byIndent = new Map()));
  let head = byIndent.get(indent);
  if (head === undefined) byIndent.set(indent, (head = entryText("match", match, indent + "  ", `${indent}- `)));
  parts.push(head);
  const cluster = route["cluster"];
  if (typeof cluster === "string" && Object.keys(route).length === 1) {
    const q = writtenCluster(cluster);
    if (q.length <= 100 - 10) parts.push(indent, "  route: {cluster: ", q, "}\n");
    else pushPairLines(parts, `${indent}  `, "route", "cluster", q);
    return;
  }
  const split = weightedClusters(route);
  if (split === undefined) {
    parts.push(entryText("route", route, indent + "  ", indent + "  "));
    return;
  }
  // what the generic writer gives for this shape: block maps (a list inside), the list items' two lines
  parts.push(indent, "  route:\n", indent, "    weighted_clusters:\n", indent, "      clusters:\n");
  for (const c of split) parts.push(indent, "        - name: ", writtenCluster(c.name), "\n", indent, "          weight: ", String(c.weight), "\n");
}

/**
 * The clusters of a route that is exactly `{weighted_clusters: {clusters: [{name, weight}, ...]}}` (names
 * strings shorter than a literal block, weights finite numbers), else undefined.
 */
function weightedClusters(route: Readonly<Record<string, unknown>>): readonly { name: string; weight: number }[] | undefined {
  const wc = route["weighted_clusters"] as Record<string, unknown> | undefined;
  if (wc === undefined || wc === null || typeof wc !== "object" || Object.keys(route).length !== 1 || Object.keys(wc).length !== 1) return undefined;
  const clusters = wc["clusters"];
  if (!Array.isArray(clusters) || clusters.length === 0) return undefined;
  for (const c of clusters as unknown[]) {
    if (c === null || typeof c !== "object") return undefined;
    const keys = Object.keys(c);
    const { name, weight } = c as { name: unknown; weight: unknown };
    if (keys.length !== 2 || keys[0] !== "name" || keys[1] !== "weight") return undefined;
    if (typeof name !== "string" || name.length >= LONG_STRING || typeof weight !== "number" || !Number.isFinite(weight)) return undefined;
  }
  return clusters as { name: string; weight: number }[];
}

function cachedRouteConfiguration(entry: PluginService, routeAttachment: string): Record<string, unknown> {
  const cache = entryCacheOf(entry);
  const byAttachment = (cache.routeConfigs ??= []);
  let rc = fewGet(byAttachment, routeAttachment);
  if (!rc) {
    const name = `${entry.interface}:${entry.version}:${entry.group}`;
    const built = dubboRouteConfiguration(entry, routeAttachment, name);
    const attachmentRoutes = clustersOf(entry).length;
    byAttachment.push(routeAttachment, (rc = markReusable(built, (indent) => routeConfigurationText(built, attachmentRoutes, indent))));
  }
  return rc;
}

/** The dubbo_proxy network filter for every service of the compiled configuration. */
export function dubboProxyFilter(config: PluginConfig): Record<string, unknown> {
  return {
    name: "envoy.filters.network.dubbo_proxy",
    typed_config: {
      "@type": TypeUrl.dubboProxy,
      stat_prefix: DUBBO_PROXY_STAT_PREFIX,
      protocol_type: "Dubbo",
      serialization_type: "Hessian2",
      multiple_route_config: {
        name: DUBBO_ROUTE_CONFIG_NAME,
        route_config: config.services.map((s) => cachedRouteConfiguration(s, config.routeAttachment)),
      },
    },
  };
}
