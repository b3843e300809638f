/**
 * The Cluster fields the live control plane writes from a service's rule and its cluster settings, as the
 * proxy (and Envoy) read them: checked on the encoded resources, decoded back through proxyConfigFromXds.
 */
import { describe, expect, it } from "vitest";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { EnvoyResources, encodeEnvoy } from "../../control/live/resource-sets.js";
import { buildModel } from "../../control/model/model.js";
import { type Provider, parseProviderUrl } from "../../control/registry/provider-url.js";
import { parseRules } from "../../control/rules/load.js";
import { CLUSTER_DEFAULTS } from "../../proxy/server/config.js";
import { proxyConfigFromXds } from "../../proxy/xds/proxy-config.js";
import { decodeResource, XdsType } from "../../proxy/xds/xds-resources.js";
import type { ClusterSettings } from "../../control/generate/xds/clusters.js";

const SERVICE = "com.example.Hash";
const rules = (lb: string) =>
  parseRules(`apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  interface: ${SERVICE}
  subsets: [{name: a, labels: {revision: a}}]
  routes: [{name: all, route: [{subset: a}]}]
  ${lb}
  timeoutMs: 1234
`);

function provider(url: string): Provider {
  const p = parseProviderUrl(url);
  if (!p.ok) throw new Error(p.error);
  return p.provider;
}

function clusters(lb: string, options: ClusterSettings) {
  const model = buildModel([provider(`dubbo://127.0.0.1:20881/${SERVICE}?revision=a`)], rules(lb));
  const sets = new EnvoyResources({ mode: "dubbo-proxy", wasm: parseWasmSource() }, options).build(model);
  const cds = sets.get(XdsType.cluster)!;
  const map = new Map(cds.map((g) => [g.name, { resource: decodeResource(XdsType.cluster, encodeEnvoy(XdsType.cluster, g.object)) }] as const));
  return { generated: cds, config: proxyConfigFromXds({ listeners: new Map(), clusters: map, assignments: new Map(), extensionConfigs: new Map() }, CLUSTER_DEFAULTS).clusters };
}

describe("Cluster fields from rules and cluster settings", () => {
  it("a consistentHash rule gets RING_HASH (MAGLEV when chosen); the rule's timeoutMs reaches the proxy", () => {
    const ring = clusters("loadBalancer: {consistentHash: {attachment: user}}", {});
    expect(ring.config.map((c) => c.lbPolicy)).toEqual(["RING_HASH", "RING_HASH"]);
    expect(ring.config.every((c) => c.requestTimeoutMs === 1234)).toBe(true);
    expect(clusters("loadBalancer: {consistentHash: {attachment: user}}", { hashLbPolicy: "MAGLEV" }).config[0]!.lbPolicy).toBe("MAGLEV");
    expect(clusters("loadBalancer: {simple: LEAST_REQUEST}", { hashLbPolicy: "MAGLEV" }).config[0]!.lbPolicy).toBe("LEAST_REQUEST");
  });

  it("writes the connect timeout, circuit breakers and outlier detection it is given; outlier detection off at 0 errors", () => {
    const { config } = clusters("", {
      connectTimeoutMs: 250,
      circuitBreakers: { maxConnections: 5, maxPendingRequests: 6, maxRequests: 7 },
      outlierDetection: { consecutiveErrors: 2, baseEjectionTimeMs: 1500, maxEjectionTimeMs: 9000, maxEjectionPercent: 40 },
    });
    expect(config[0]).toMatchObject({
      lbPolicy: "ROUND_ROBIN",
      connectTimeoutMs: 250,
      circuitBreakers: { maxConnections: 5, maxPendingRequests: 6, maxRequests: 7 },
      outlierDetection: { consecutiveErrors: 2, baseEjectionTimeMs: 1500, maxEjectionTimeMs: 9000, maxEjectionPercent: 40 },
    });
    const off = clusters("", { outlierDetection: { consecutiveErrors: 0, baseEjectionTimeMs: 1, maxEjectionTimeMs: 1, maxEjectionPercent: 1 } });
    expect(off.config[0]!.outlierDetection.consecutiveErrors).toBe(0);
  });

  it("gives an unchanged generated Cluster the same object back, so the publisher encodes it once", () => {
    const options: ClusterSettings = { connectTimeoutMs: 100 };
    const model = buildModel([provider(`dubbo://127.0.0.1:20881/${SERVICE}?revision=a`)], rules(""));
    const resources = new EnvoyResources({ mode: "dubbo-proxy", wasm: parseWasmSource() }, options);
    const a = resources.build(model).get(XdsType.cluster)!;
    const b = resources.build(model).get(XdsType.cluster)!;
    expect(a.map((g) => g.object)).toEqual(b.map((g) => g.object));
    a.forEach((g, i) => expect(g.object).toBe(b[i]!.object));
  });
});
