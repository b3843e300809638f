/**
 * Istio resources for the model: a ServiceEntry per service, a DestinationRule per service that has a rule
 * (subsets, load balancer), and the filter wiring (envoy-filter.ts, wasm-plugin.ts). Plain objects in
 * Istio's YAML shape, built fresh on each call.
 */
import { DUBBO_PORT_NAME, type Service } from "../../model/model.js";
import type { Subset } from "../../rules/types.js";
import { markFlow } from "../yaml-text.js";

export const SERVICE_ENTRY_API = "networking.istio.io/v1beta1";
export const DESTINATION_RULE_API = "networking.istio.io/v1beta1";

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export const GENERATED_BY = { "app.kubernetes.io/managed-by": "dubbo-mesh" };

function meta(name: string, namespace: string | undefined): Meta {
  return { name, ...(namespace ? { namespace } : {}), labels: { ...GENERATED_BY } };
}

/** ServiceEntry: the DNS host, one TCP port named for Dubbo, STATIC endpoints with their labels. */
export function serviceEntry(service: Service, namespace?: string): Record<string, unknown> {
  return {
    apiVersion: SERVICE_ENTRY_API,
    kind: "ServiceEntry",
    metadata: meta(service.host, namespace),
    spec: {
      hosts: [service.host],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: service.port, name: DUBBO_PORT_NAME, protocol: "TCP" }],
      endpoints: service.endpoints.map((e) => ({
        address: e.address,
        ports: { [DUBBO_PORT_NAME]: e.port },
        labels: markFlow(e.labels.toRecord()), // sorted by the model; one line per endpoint
        ...(e.weight > 0 ? { weight: e.weight } : {}),
      })),
    },
  };
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

function simpleLb(service: Service): string | undefined {
  const lb = service.rule?.loadBalancer;
  return lb && "simple" in lb ? lb.simple : undefined;
}

/**
 * DestinationRule with the rule's subsets and load balancer; null for a service without a rule or with
 * neither. consistentHash by attachment/argument has no Istio equivalent (Envoy's dubbo_proxy has no hash
 * policy): the DestinationRule then leaves Istio's default; the fallback proxy honours it.
 */
export function destinationRule(service: Service, namespace?: string): Record<string, unknown> | null {
  const rule = service.rule;
  const lb = simpleLb(service);
  if (!rule || (rule.subsets.length === 0 && !lb)) return null;
  return {
    apiVersion: DESTINATION_RULE_API,
    kind: "DestinationRule",
    metadata: meta(service.host, namespace),
    spec: {
      host: service.host,
      ...(lb ? { trafficPolicy: { loadBalancer: { simple: lb } } } : {}),
      ...(rule.subsets.length > 0 ? { subsets: subsetList(rule.subsets) } : {}),
    },
  };
}

function subsetList(subsets: readonly Subset[]): Record<string, unknown>[] {
  return subsets.map((s) => ({ name: s.name, labels: sortedLabels(s.labels) }));
}
