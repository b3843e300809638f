/**
 * A service's EDS Clusters, named like Istio's (`outbound|PORT|SUBSET|HOST`), and their
 * ClusterLoadAssignments, in Envoy's JSON form (proto field names, `@type`, durations as "1s"): one for
 * the whole service and one per subset of its rule.
 *
 * The Cluster fields that carry a service's rule and the control plane's cluster settings, read by Envoy and
 * by `dubbo-mesh proxy` alike (docs/proxy.md, "What each Envoy field means"):
 *
 *   lb_policy          the rule's `loadBalancer.simple`; a `consistentHash` rule → RING_HASH (MAGLEV when
 *                      `hashLbPolicy` says so); no rule: `lbPolicy` (default ROUND_ROBIN)
 *   connect_timeout    `connectTimeoutMs` (default 1 s)
 *   circuit_breakers   one DEFAULT-priority threshold: max_connections, max_pending_requests, max_requests
 *   outlier_detection  consecutive_5xx, base_ejection_time, max_ejection_time, max_ejection_percent
 *                      (absent when `consecutiveErrors` is 0: off, as in Envoy)
 *   metadata.filter_metadata["dubbo-mesh"].request_timeout_ms   the rule's `timeoutMs` (Envoy's dubbo_proxy
 *                      has no request timeout; Envoy ignores this metadata, the proxy enforces it)
 */
import { endpointInSubset, type Endpoint, type Service } from "../../model/model.js";
import { defaultClusterName } from "../plugin-config.js";
import { TypeUrl } from "./type-urls.js";

export type Json = Record<string, unknown>;

/** The control plane's settings for every Cluster it generates (each optional: absent means the default above). */
export interface ClusterSettings {
  /** the lb_policy of services whose rule says nothing (default ROUND_ROBIN) */
  lbPolicy?: "ROUND_ROBIN" | "RANDOM" | "LEAST_REQUEST" | "RING_HASH" | "MAGLEV";
  /** the lb_policy of consistent-hash rules (default RING_HASH) */
  hashLbPolicy?: "RING_HASH" | "MAGLEV";
  connectTimeoutMs?: number;
  circuitBreakers?: { maxConnections: number; maxPendingRequests: number; maxRequests: number };
  outlierDetection?: { consecutiveErrors: number; baseEjectionTimeMs: number; maxEjectionTimeMs: number; maxEjectionPercent: number };
}

/** A duration in Envoy's JSON form ("1.5s"). */
function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

function lbPolicy(service: Service, settings: ClusterSettings): string {
  const lb = service.rule?.loadBalancer;
  if (lb === undefined) return settings.lbPolicy ?? "ROUND_ROBIN";
  if ("simple" in lb) return lb.simple;
  return settings.hashLbPolicy ?? "RING_HASH";
}

/** The fields of one service's Clusters, shared by its whole-service and subset Clusters (after name and type). */
export function clusterFields(service: Service, settings: ClusterSettings): Json {
  const out: Json = { connect_timeout: seconds(settings.connectTimeoutMs ?? 1000), lb_policy: lbPolicy(service, settings) };
  const cb = settings.circuitBreakers;
  if (cb !== undefined) {
    out["circuit_breakers"] = {
      thresholds: [{ priority: "DEFAULT", max_connections: cb.maxConnections, max_pending_requests: cb.maxPendingRequests, max_requests: cb.maxRequests }],
    };
  }
  const od = settings.outlierDetection;
  if (od !== undefined && od.consecutiveErrors > 0) {
    out["outlier_detection"] = {
      consecutive_5xx: od.consecutiveErrors,
      base_ejection_time: seconds(od.baseEjectionTimeMs),
      max_ejection_time: seconds(od.maxEjectionTimeMs),
      max_ejection_percent: od.maxEjectionPercent,
    };
  }
  const timeoutMs = service.rule?.timeoutMs;
  if (timeoutMs !== undefined) out["metadata"] = { filter_metadata: { "dubbo-mesh": { request_timeout_ms: timeoutMs } } };
  return out;
}

export function edsCluster(name: string, fields: Json): Json {
  return {
    "@type": TypeUrl.cluster,
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name },
    ...fields,
  };
}

/** An endpoint as an `lb_endpoints` item. */
function lbEndpoint(e: Endpoint): Json {
  return { endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } }, load_balancing_weight: e.weight };
}

/**
 * The assignment of a service's endpoints (those of `subset`, "" = all), weight-0 endpoints left out.
 * `lbEndpoints`: the service's endpoints as `lb_endpoints` items, in order, when the caller made them
 * already (a service's assignments share them).
 */
export function loadAssignment(name: string, service: Service, subset: string, lbEndpoints: readonly Json[] = service.endpoints.map(lbEndpoint)): Json {
  const def = subset === "" ? undefined : service.subsets.find((s) => s.name === subset);
  // Dubbo weight 0: no traffic; Envoy wants weights >= 1
  const chosen = lbEndpoints.filter((_, i) => service.endpoints[i]!.weight > 0 && (def === undefined || endpointInSubset(service.endpoints[i]!, def)));
  return {
    "@type": TypeUrl.clusterLoadAssignment,
    cluster_name: name,
    endpoints: chosen.length > 0 ? [{ lb_endpoints: chosen }] : [],
  };
}

/** Clusters and assignments of one service, in the same order: the whole service first, then its subsets by name. */
export function serviceClusters(service: Service, settings: ClusterSettings = {}): { clusters: Json[]; assignments: Json[] } {
  const fields = clusterFields(service, settings);
  const subsets = ["", ...service.subsets.map((s) => s.name).sort()];
  const names = subsets.map((subset) => defaultClusterName(service, subset));
  const lbEndpoints = service.endpoints.map(lbEndpoint);
  return {
    clusters: names.map((name) => edsCluster(name, fields)),
    assignments: names.map((name, i) => loadAssignment(name, service, subsets[i]!, lbEndpoints)),
  };
}
