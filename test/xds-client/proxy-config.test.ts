/**
 * proxyConfigFromXds: each Envoy field the proxy reads, and each error it gives. Resources are written in Envoy's
 * JSON, encoded with the real Envoy protos and decoded with `decodeResource`, as the ADS client hands them over.
 */
import { describe, expect, it } from "vitest";
import { encodeJson } from "../../control/generate/xds/proto-json.js";
import { CLUSTER_DEFAULTS } from "../../proxy/server/config.js";
import { proxyConfigFromXds, XdsConfigError, type XdsInputs } from "../../proxy/xds/proxy-config.js";
import { decodeResource, XdsType } from "../../proxy/xds/xds-resources.js";

type Json = Record<string, unknown>;

function decoded(typeUrl: string, json: Json) {
  return { resource: decodeResource(typeUrl, encodeJson(typeUrl, json)) };
}

function byName(typeUrl: string, list: Json[], key = "name") {
  return new Map(list.map((j) => [String(j[key]), decoded(typeUrl, j)]));
}

const WASM = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";
const STRING = "type.googleapis.com/google.protobuf.StringValue";

function wasmConfig(plugin = '{"version":1,"services":[]}', vmConfiguration?: string): Json {
  return {
    "@type": WASM,
    config: {
      name: "dubbo-mesh",
      root_id: "dubbo_mesh",
      vm_config: {
        vm_id: "dubbo_mesh",
        runtime: "envoy.wasm.runtime.v8",
        code: { local: { filename: "/var/local/lib/wasm-filters/dubbo_filter.wasm" } },
        ...(vmConfiguration !== undefined ? { configuration: { "@type": STRING, value: vmConfiguration } } : {}),
      },
      configuration: { "@type": STRING, value: plugin },
    },
  };
}

function listener(name: string, port: number, filters: Json[]): Json {
  return { name, address: { socket_address: { address: "127.0.0.1", port_value: port } }, filter_chains: [{ filters }] };
}

const inlineWasm = (plugin?: string) => ({ name: "envoy.filters.network.wasm", typed_config: wasmConfig(plugin) });
const tcpProxy = (cluster: string) => ({
  name: "envoy.filters.network.tcp_proxy",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "t", cluster },
});

function edsCluster(name: string, extra: Json = {}): Json {
  return { name, type: "EDS", eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name }, connect_timeout: "1s", ...extra };
}

function assignment(name: string, endpoints: Json[]): Json {
  return { cluster_name: name, endpoints: [{ lb_endpoints: endpoints }] };
}

const ep = (port: number, extra: Json = {}) => ({ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } }, ...extra });

function inputs(parts: { listeners?: Json[]; clusters?: Json[]; assignments?: Json[]; ecds?: Json[] }): XdsInputs {
  return {
    listeners: byName(XdsType.listener, parts.listeners ?? []),
    clusters: byName(XdsType.cluster, parts.clusters ?? []),
    assignments: byName(XdsType.clusterLoadAssignment, parts.assignments ?? [], "cluster_name"),
    extensionConfigs: byName(XdsType.extensionConfig, parts.ecds ?? []),
  };
}

const one = (cluster: Json, assignments: Json[] = []) => proxyConfigFromXds(inputs({ clusters: [cluster], assignments }), CLUSTER_DEFAULTS).clusters[0]!;

describe("proxyConfigFromXds: Cluster", () => {
  it("reads lb_policy, each policy the proxy has; ROUND_ROBIN when absent", () => {
    for (const p of ["ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "RING_HASH", "MAGLEV"]) expect(one(edsCluster("c", { lb_policy: p })).lbPolicy).toBe(p);
    expect(one(edsCluster("c")).lbPolicy).toBe("ROUND_ROBIN");
    expect(() => one(edsCluster("c", { lb_policy: "CLUSTER_PROVIDED" }))).toThrow(/^Cluster c\.lb_policy: "CLUSTER_PROVIDED" is not supported/);
  });

  it("reads connect_timeout (Envoy's 5 s when absent)", () => {
    expect(one(edsCluster("c", { connect_timeout: "0.25s" })).connectTimeoutMs).toBe(250);
    const { connect_timeout: _, ...noTimeout } = edsCluster("c");
    expect(one(noTimeout).connectTimeoutMs).toBe(5000);
  });

  it("reads the DEFAULT priority's circuit breakers (Envoy's 1024s when absent)", () => {
    const c = one(
      edsCluster("c", {
        circuit_breakers: {
          thresholds: [
            { priority: "HIGH", max_connections: 1, max_pending_requests: 1, max_requests: 1 },
            { priority: "DEFAULT", max_connections: 7, max_pending_requests: 8, max_requests: 9 },
          ],
        },
      }),
    );
    expect(c.circuitBreakers).toEqual({ maxConnections: 7, maxPendingRequests: 8, maxRequests: 9 });
    expect(one(edsCluster("c")).circuitBreakers).toEqual({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 });
  });

  it("reads outlier_detection; absent: off, as in Envoy", () => {
    const c = one(edsCluster("c", { outlier_detection: { consecutive_5xx: 3, base_ejection_time: "5s", max_ejection_time: "60s", max_ejection_percent: 30 } }));
    expect(c.outlierDetection).toEqual({ consecutiveErrors: 3, baseEjectionTimeMs: 5000, maxEjectionTimeMs: 60_000, maxEjectionPercent: 30 });
    expect(one(edsCluster("c", { outlier_detection: {} })).outlierDetection).toEqual({ consecutiveErrors: 5, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 10 });
    expect(one(edsCluster("c")).outlierDetection.consecutiveErrors).toBe(0);
  });

  it("reads the request timeout from metadata filter_metadata[dubbo-mesh].request_timeout_ms, else the proxy's default", () => {
    expect(one(edsCluster("c", { metadata: { filter_metadata: { "dubbo-mesh": { request_timeout_ms: 1500 } } } })).requestTimeoutMs).toBe(1500);
    expect(one(edsCluster("c")).requestTimeoutMs).toBe(CLUSTER_DEFAULTS.requestTimeoutMs);
    expect(() => one(edsCluster("c", { metadata: { filter_metadata: { "dubbo-mesh": { request_timeout_ms: "soon" } } } }))).toThrow(
      /^Cluster c\.metadata\.filter_metadata\.dubbo-mesh\.request_timeout_ms: expected a positive integer/,
    );
    // what Envoy has no field for stays the proxy's
    expect(one(edsCluster("c")).connectionsPerEndpoint).toBe(CLUSTER_DEFAULTS.connectionsPerEndpoint);
  });

  it("takes an EDS cluster's endpoints from the assignment of its service_name (else its name): weights, health, labels", () => {
    const c = one(edsCluster("c"), [
      assignment("c", [
        ep(1, { load_balancing_weight: 3, metadata: { filter_metadata: { "envoy.lb": { revision: "v2", n: 1 } } } }),
        ep(2),
        ep(3, { health_status: "UNHEALTHY" }),
        ep(4, { health_status: "DRAINING" }),
        ep(5, { health_status: "HEALTHY" }),
      ]),
    ]);
    expect(c.endpoints).toEqual([
      { address: { host: "127.0.0.1", port: 1 }, weight: 3, labels: { revision: "v2" } },
      { address: { host: "127.0.0.1", port: 2 }, weight: 1, labels: {} },
      { address: { host: "127.0.0.1", port: 5 }, weight: 1, labels: {} },
    ]);
    const unnamed = { ...edsCluster("d"), eds_cluster_config: { eds_config: { ads: {} } } };
    expect(one(unnamed, [assignment("d", [ep(9)])]).endpoints.map((e) => e.address.port)).toEqual([9]);
    expect(one(edsCluster("e")).endpoints).toEqual([]); // its assignment not received yet
  });

  it("takes a STATIC cluster's endpoints from load_assignment; other types are refused", () => {
    expect(one({ name: "s", type: "STATIC", connect_timeout: "1s", load_assignment: assignment("s", [ep(7)]) }).endpoints.map((e) => e.address.port)).toEqual([7]);
    expect(() => one({ name: "dns", type: "STRICT_DNS", connect_timeout: "1s" })).toThrow(/^Cluster dns\.type: "STRICT_DNS" is not supported \(allowed: EDS, STATIC\)/);
  });
});

describe("proxyConfigFromXds: Listener and the wasm filter", () => {
  it("reads the address, the inline wasm filter (name, root_id, vm_id, configurations) and tcp_proxy's cluster", () => {
    const l = listener("l", 20880, [{ name: "envoy.filters.network.wasm", typed_config: wasmConfig('{"version":1}', "vm-conf") }, tcpProxy("blackhole")]);
    const cfg = proxyConfigFromXds(inputs({ listeners: [l] }), CLUSTER_DEFAULTS);
    expect(cfg.listeners).toEqual([{ name: "l", address: { host: "127.0.0.1", port: 20880 }, defaultCluster: "blackhole", filterConfigName: "" }]);
    expect(cfg.filter).toEqual({ name: "dubbo-mesh", rootId: "dubbo_mesh", vmId: "dubbo_mesh", pluginConfig: '{"version":1}', vmConfig: "vm-conf" });
  });

  it("takes the filter of config_discovery from the TypedExtensionConfig of the filter's name (ECDS); none until it arrives", () => {
    const l = listener("l", 1, [
      { name: "dubbo-mesh-filter", config_discovery: { config_source: { ads: {} }, type_urls: [WASM] } },
    ]);
    const waiting = proxyConfigFromXds(inputs({ listeners: [l] }), CLUSTER_DEFAULTS);
    expect(waiting.filter).toBeNull();
    expect(waiting.listeners[0]!.filterConfigName).toBe("dubbo-mesh-filter");
    const ecds = { name: "dubbo-mesh-filter", typed_config: wasmConfig('{"version":1,"services":[1]}') };
    expect(proxyConfigFromXds(inputs({ listeners: [l], ecds: [ecds] }), CLUSTER_DEFAULTS).filter?.pluginConfig).toBe('{"version":1,"services":[1]}');
    const wrong = { name: "dubbo-mesh-filter", typed_config: tcpProxy("x").typed_config };
    expect(() => proxyConfigFromXds(inputs({ listeners: [l], ecds: [wrong] }), CLUSTER_DEFAULTS)).toThrow(
      /^TypedExtensionConfig dubbo-mesh-filter\.typed_config: expected type\.googleapis\.com\/envoy\.extensions\.filters\.network\.wasm\.v3\.Wasm/,
    );
    const tcpDiscovery = listener("t", 1, [
      { name: "x", config_discovery: { config_source: { ads: {} }, type_urls: ["type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"] } },
    ]);
    expect(() => proxyConfigFromXds(inputs({ listeners: [tcpDiscovery] }), CLUSTER_DEFAULTS)).toThrow(/^Listener t\.filter_chains\[0\]\.filters\[0\]\.config_discovery\.type_urls: the proxy discovers only/);
  });

  it("refuses what it cannot run: no wasm filter, several filter chains, listeners with different filters, a configuration that is not a string", () => {
    expect(() => proxyConfigFromXds(inputs({ listeners: [listener("l", 1, [tcpProxy("c")])] }), CLUSTER_DEFAULTS)).toThrow(/^Listener l: no envoy\.filters\.network\.wasm filter/);
    const two = { ...listener("l", 1, [inlineWasm()]), filter_chains: [{ filters: [inlineWasm()] }, { filters: [inlineWasm()] }] };
    expect(() => proxyConfigFromXds(inputs({ listeners: [two] }), CLUSTER_DEFAULTS)).toThrow(/^Listener l\.filter_chains: expected exactly one filter chain, got 2/);
    const a = listener("a", 1, [inlineWasm('{"version":1}')]);
    const b = listener("b", 2, [inlineWasm('{"version":1,"services":[]}')]);
    expect(() => proxyConfigFromXds(inputs({ listeners: [a, b] }), CLUSTER_DEFAULTS)).toThrow(/its wasm filter differs from another listener's/);
    const bytesConfig = { name: "envoy.filters.network.wasm", typed_config: { ...wasmConfig(), config: { ...(wasmConfig().config as Json), configuration: { "@type": "type.googleapis.com/google.protobuf.BytesValue", value: "AA==" } } } };
    expect(() => proxyConfigFromXds(inputs({ listeners: [listener("l", 1, [bytesConfig])] }), CLUSTER_DEFAULTS)).toThrow(/config\.configuration: expected a type\.googleapis\.com\/google\.protobuf\.StringValue/);
  });

  it("every error is an XdsConfigError", () => {
    expect(() => one({ name: "dns", type: "STRICT_DNS", connect_timeout: "1s" })).toThrow(XdsConfigError);
  });
});
