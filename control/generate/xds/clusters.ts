/**
 * A service's EDS Clusters, named like Istio's (`outbound|PORT|SUBSET|HOST`), and their
 * ClusterLoadAssignments, in Envoy's JSON form (proto field names, `@type`, durations as "1s"): one for
 * the whole service and one per subset of its rule.
 */
import { endpointInSubset, type Endpoint, type Service } from "../../model/model.js";
import { defaultClusterName } from "../plugin-config.js";
import { TypeUrl } from "./type-urls.js";

export type Json = Record<string, unknown>;

function lbPolicy(service: Service): string {
  const lb = service.rule?.loadBalancer;
  if (lb && "simple" in lb) return lb.simple === "RANDOM" ? "RANDOM" : lb.simple === "LEAST_REQUEST" ? "LEAST_REQUEST" : "ROUND_ROBIN";
  return "ROUND_ROBIN";
}

export function edsCluster(name: string, lb: string): Json {
  return {
    "@type": TypeUrl.cluster,
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name },
    connect_timeout: "1s",
    lb_policy: lb,
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
export function serviceClusters(service: Service): { clusters: Json[]; assignments: Json[] } {
  const lb = lbPolicy(service);
  const subsets = ["", ...service.subsets.map((s) => s.name).sort()];
  const names = subsets.map((subset) => defaultClusterName(service, subset));
  const lbEndpoints = service.endpoints.map(lbEndpoint);
  return {
    clusters: names.map((name) => edsCluster(name, lb)),
    assignments: names.map((name, i) => loadAssignment(name, service, subsets[i]!, lbEndpoints)),
  };
}
