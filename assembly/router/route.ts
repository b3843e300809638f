// The pure routing function: route(table, request, random, out). It reads only its arguments (the
// random value is one of them, so weighted splits are reproducible), allocates nothing, and writes its
// answer into the caller's RouteDecision.

import { RequestView } from "./request-view";
import { MatchKind } from "./string-matcher";
import { DenyRule, HashKeyKind, RequestMatch, RouteRule, RouteTable, ServiceEntry } from "./route-table";

export const enum Outcome {
  /** A cluster was chosen (by a route or a default). */
  Routed = 0,
  /** A deny rule matched: the connection is to be closed. */
  Denied = 1,
  /** Nothing matched and the applicable default cluster is empty. */
  NoDestination = 2,
}

/** The name reported for a request that no route matched and that went to a default cluster. */
export const DEFAULT_ROUTE_NAME = "default";

export class RouteDecision {
  outcome: Outcome = Outcome.NoDestination;
  /** The chosen cluster ("" when none). */
  cluster: string = "";
  /** The matched route's name, DEFAULT_ROUTE_NAME, or the deny rule's name. */
  routeName: string = "";
  /** The matched service entry, or null when no service matched. */
  service: ServiceEntry | null = null;
  route: RouteRule | null = null;
  deny: DenyRule | null = null;
  /** The consistent-hash key ("" = none). */
  hashKey: string = "";
}

export function matchesRequest(match: RequestMatch, request: RequestView): bool {
  const method = match.method;
  if (method !== null && !method.matches(request.method())) return false;
  const attachments = match.attachments;
  for (let i = 0, n = attachments.length; i < n; i++) {
    const a = unchecked(attachments[i]);
    const m = a.matcher;
    if (m.kind == MatchKind.Exact) {
      if (!request.attachmentEquals(a.key, m.value)) return false;
    } else if (!m.matches(request.attachment(a.key))) {
      return false;
    }
  }
  const args = match.arguments;
  for (let i = 0, n = args.length; i < n; i++) {
    const a = unchecked(args[i]);
    if (!a.matcher.matches(request.argument(a.index))) return false;
  }
  return true;
}

/** The first service entry that matches the request's interface, version and group, or null. */
export function findService(table: RouteTable, request: RequestView): ServiceEntry | null {
  const services = table.services;
  const name = request.service();
  for (let i = 0, n = services.length; i < n; i++) {
    const s = unchecked(services[i]);
    if (!s.iface.matches(name)) continue;
    if (s.version.length > 0 && s.version != request.version()) continue;
    if (s.group.length > 0 && s.group != request.group()) continue;
    return s;
  }
  return null;
}

/** Picks a destination by weight: `random` modulo the total weight walks the cumulative weights. */
export function pickDestination(rule: RouteRule, random: u64): string {
  const destinations = rule.destinations;
  const n = destinations.length;
  if (n == 1) return unchecked(destinations[0]).cluster;
  let point = <u32>(random % <u64>rule.totalWeight);
  for (let i = 0; i < n; i++) {
    const d = unchecked(destinations[i]);
    if (point < d.weight) return d.cluster;
    point -= d.weight;
  }
  return unchecked(destinations[n - 1]).cluster;
}

export function route(table: RouteTable, request: RequestView, random: u64, out: RouteDecision): void {
  out.route = null;
  out.deny = null;
  out.hashKey = "";
  const service = findService(table, request);
  out.service = service;
  if (service === null) {
    out.cluster = table.defaultCluster;
    out.routeName = DEFAULT_ROUTE_NAME;
    out.outcome = table.defaultCluster.length > 0 ? Outcome.Routed : Outcome.NoDestination;
    return;
  }
  const deny = service.deny;
  for (let i = 0, n = deny.length; i < n; i++) {
    const d = unchecked(deny[i]);
    if (matchesRequest(d.match, request)) {
      out.deny = d;
      out.cluster = "";
      out.routeName = d.name;
      out.outcome = Outcome.Denied;
      return;
    }
  }
  if (service.hashKind == HashKeyKind.Attachment) {
    const v = request.attachment(service.hashAttachment);
    if (v !== null) out.hashKey = v;
  } else if (service.hashKind == HashKeyKind.Argument) {
    const v = request.argument(service.hashArgument);
    if (v !== null) out.hashKey = v;
  }
  const routes = service.routes;
  for (let i = 0, n = routes.length; i < n; i++) {
    const r = unchecked(routes[i]);
    if (matchesRequest(r.match, request)) {
      out.route = r;
      out.routeName = r.name;
      out.cluster = pickDestination(r, random);
      out.outcome = Outcome.Routed;
      return;
    }
  }
  out.routeName = DEFAULT_ROUTE_NAME;
  out.cluster = service.defaultCluster.length > 0 ? service.defaultCluster : table.defaultCluster;
  out.outcome = out.cluster.length > 0 ? Outcome.Routed : Outcome.NoDestination;
}
