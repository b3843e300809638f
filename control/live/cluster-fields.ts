/**
 * The Envoy Cluster fields that carry a service's rule and the control plane's cluster settings — what Envoy
 * and `dubbo-mesh proxy` read from every Cluster (docs/proxy.md, "What each Envoy field means"):
 *
 *   lb_policy          the rule's `loadBalancer.simple`; a `consistentHash` rule → RING_HASH (MAGLEV when
 *                      `hashLbPolicy` says so); no rule: `lbPolicy` (default ROUND_ROBIN)
 *   connect_timeout    `connectTimeoutMs`
 *   circuit_breakers   one DEFAULT-priority threshold: max_connections, max_pending_requests, max_requests
 *   outlier_detection  consecutive_5xx, base_ejection_time, max_ejection_time, max_ejection_percent
 *                      (absent when `consecutiveErrors` is 0: off, as in Envoy)
 *   metadata.filter_metadata["dubbo-mesh"].request_timeout_ms   the rule's `timeoutMs` (Envoy's dubbo_proxy
 *                      has no request timeout; Envoy ignores this metadata, the proxy enforces it)
 *
 * The generators of `control/generate/xds/` are to emit these fields themselves; until they do, the live
 * control plane adds them here to the Clusters they generate. A generated Cluster object always gets the same
 * decorated object back (cached per object), so the publisher still encodes each one once.
 */
import { defaultClusterName } from "../plugin-config.js";
import type { MeshModel, Service } from "../model/model.js";

type Json = Record<string, unknown>;

/** The control plane's settings for every Cluster it generates (each optional: absent means Envoy's default). */
export interface ClusterFieldOptions {
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

function lbPolicyOf(service: Service, options: ClusterFieldOptions): string {
  const lb = service.rule?.loadBalancer;
  if (lb === undefined) return options.lbPolicy ?? "ROUND_ROBIN";
  if ("simple" in lb) return lb.simple;
  return options.hashLbPolicy ?? "RING_HASH";
}

/** The fields of one service's Clusters (shared by its whole-service and subset Clusters). */
export function clusterFields(service: Service, options: ClusterFieldOptions): Json {
  const out: Json = { lb_policy: lbPolicyOf(service, options) };
  if (options.connectTimeoutMs !== undefined) out["connect_timeout"] = seconds(options.connectTimeoutMs);
  const cb = options.circuitBreakers;
  if (cb !== undefined) {
    out["circuit_breakers"] = {
      thresholds: [{ priority: "DEFAULT", max_connections: cb.maxConnections, max_pending_requests: cb.maxPendingRequests, max_requests: cb.maxRequests }],
    };
  }
  const od = options.outlierDetection;
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

/** per generated Cluster object: the options it was decorated for and the decorated object */
const decorated = new WeakMap<object, { options: ClusterFieldOptions; cluster: Json }>();

/**
 * The generated Clusters with the fields above, in the same order. Clusters of no service of the model (the
 * tcp mode's blackhole cluster) are left as they are.
 */
export function withClusterFields(model: MeshModel, clusters: Json[], options: ClusterFieldOptions): Json[] {
  const serviceOf = new Map<string, Service>();
  for (const service of model.services) {
    serviceOf.set(defaultClusterName(service, ""), service);
    for (const subset of service.subsets) serviceOf.set(defaultClusterName(service, subset.name), service);
  }
  return clusters.map((cluster) => {
    const service = serviceOf.get(String(cluster["name"]));
    if (service === undefined) return cluster;
    const hit = decorated.get(cluster);
    if (hit !== undefined && hit.options === options) return hit.cluster;
    const out = { ...cluster, ...clusterFields(service, options) };
    decorated.set(cluster, { options, cluster: out });
    return out;
  });
}
