import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { dubboRouteConfiguration } from "../../control/generate/xds/dubbo-proxy.js";
import { ServiceCache } from "../../control/generate/xds/service-cache.js";
import { xdsSnapshot, type XdsSnapshot, type XdsSnapshotOptions } from "../../control/generate/xds/snapshot.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { ModelBuilder, buildModel } from "../../control/model/model.js";
import { compilePluginConfig } from "../../control/generate/plugin-config.js";
import { parseProviderUrl, type Provider } from "../../control/registry/provider-url.js";
import { loadRulesFile } from "../../control/rules/load.js";
import type { DubboRoute } from "../../control/rules/types.js";
import { roundTripTypedConfig } from "./istio-check.js";

type Obj = Record<string, unknown>;

function provider(url: string): Provider {
  const p = parseProviderUrl(url);
  if (!p.ok) throw new Error(p.error);
  return p.provider;
}

function examplesProviders(): Provider[] {
  const urls = (readFileSync(join(packageRoot, "examples", "registry.yaml"), "utf8").match(/dubbo:\/\/\S+/g) ?? []) as string[];
  return urls.map(provider);
}

const examplesRules = (): DubboRoute[] => loadRulesFile(join(packageRoot, "examples", "rules.yaml"));
const wasm = parseWasmSource(DEFAULT_WASM_URL);

/** The resources of one type, by name. */
function ofType(s: XdsSnapshot, typeUrl: string): Map<string, Obj> {
  return new Map([...(s.resources.get(typeUrl) ?? new Map())].map(([name, r]) => [name, r.resource as Obj]));
}

function only(s: XdsSnapshot, typeUrl: string): Obj {
  const all = [...ofType(s, typeUrl).values()];
  expect(all).toHaveLength(1);
  return all[0]!;
}

describe("xDS snapshot", () => {
  for (const mode of ["dubbo-proxy", "tcp"] as const) {
    it(`${mode}: every resource passes the Envoy protos; a stable Listener takes routes by DRDS and the filter config by ECDS`, () => {
      const model = buildModel(examplesProviders(), examplesRules());
      const s = xdsSnapshot(model, { mode, wasm }, new ServiceCache());
      const types = [...s.resources.keys()].sort();
      const expected: string[] = [TypeUrl.cluster, TypeUrl.clusterLoadAssignment, TypeUrl.listener, TypeUrl.typedExtensionConfig];
      if (mode === "dubbo-proxy") expected.push(TypeUrl.multipleRouteConfiguration);
      expect(types).toEqual(expected.sort());
      let checked = 0;
      for (const [typeUrl, byName] of s.resources) {
        for (const [name, { resource }] of byName) {
          expect(resource["@type"]).toBe(typeUrl);
          expect(resource["name"] ?? resource["cluster_name"]).toBe(name);
          roundTripTypedConfig(resource as Obj); // strict: an unknown field or a wrong type throws
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(4);

      const listener = only(s, TypeUrl.listener);
      expect(listener["per_connection_buffer_limit_bytes"]).toBe(8 * 1024 * 1024 + 16);
      const [wasmFilter, last] = (listener["filter_chains"] as { filters: Obj[] }[])[0]!.filters;
      expect(wasmFilter).toEqual({
        name: "dubbo-mesh.filter",
        config_discovery: { config_source: { ads: {}, resource_api_version: "V3" }, type_urls: [TypeUrl.wasm] },
      });
      if (mode === "dubbo-proxy") {
        expect((last!["typed_config"] as Obj)["drds"]).toEqual({ config_source: { ads: {}, resource_api_version: "V3" }, route_config_name: "dubbo-mesh" });
        const routes = only(s, TypeUrl.multipleRouteConfiguration);
        const config = compilePluginConfig(model, { rewrite: true });
        expect(routes["route_config"]).toEqual(config.services.map((e) => dubboRouteConfiguration(e, config.routeAttachment)));
      } else {
        expect(last!["name"]).toBe("envoy.filters.network.tcp_proxy");
      }
      // the filter config carries exactly the compiled plugin configuration of the mode
      const ecds = only(s, TypeUrl.typedExtensionConfig);
      expect(ecds["name"]).toBe("dubbo-mesh.filter");
      const json = (((ecds["typed_config"] as Obj)["config"] as Obj)["configuration"] as Obj)["value"] as string;
      expect(JSON.parse(json)).toEqual(compilePluginConfig(model, { rewrite: mode === "dubbo-proxy" }));
      // clusters and assignments name their service
      const v2 = s.resources.get(TypeUrl.clusterLoadAssignment)!.get("outbound|20880|v2|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo")!;
      expect(v2.service).toBe("org.apache.dubbo.demo.DemoService");
      expect(JSON.stringify(v2.resource)).toContain('"port_value":20882');
      expect(JSON.stringify(v2.resource)).not.toContain('"port_value":20881');
    });
  }

  it("the listener buffer fits one maximum frame of the configured body limit", () => {
    const s = xdsSnapshot(buildModel(examplesProviders(), []), { mode: "tcp", wasm, maxBodyBytes: 1000 }, new ServiceCache());
    expect(only(s, TypeUrl.listener)["per_connection_buffer_limit_bytes"]).toBe(1016);
    const json = (((only(s, TypeUrl.typedExtensionConfig)["typed_config"] as Obj)["config"] as Obj)["configuration"] as Obj)["value"] as string;
    expect(JSON.parse(json).maxBodyBytes).toBe(1000);
  });

  const mk = (i: number, port: number, revision = `v${(i % 2) + 1}`) => provider(`dubbo://127.0.0.1:${port}/com.example.Svc${i}?version=1.0.0&revision=${revision}`);
  const rulesFor = (weight: number): DubboRoute[] => examplesRules().map((r) => ({
    ...r,
    interface: "com.example.*",
    routes: r.routes.map((route) => (route.route.length === 2 ? { ...route, route: [{ ...route.route[0]!, weight }, { ...route.route[1]!, weight: 100 - weight }] } : route)),
  }));

  it("an endpoint change rebuilds only that service's assignments; the Listener, routes and filter config stay the very same objects", () => {
    const options: XdsSnapshotOptions = { mode: "dubbo-proxy", wasm };
    const builder = new ModelBuilder();
    const cache = new ServiceCache();
    const rules = rulesFor(90);
    const s1 = xdsSnapshot(builder.build([mk(1, 1000), mk(1, 1001, "v2"), mk(2, 2000)], rules), options, cache);
    const m2 = builder.build([mk(1, 1000), mk(1, 1001, "v2"), mk(2, 2001)], rules);
    const s2 = xdsSnapshot(m2, options, cache, s1);
    for (const type of [TypeUrl.listener, TypeUrl.multipleRouteConfiguration, TypeUrl.typedExtensionConfig]) expect(s2.resources.get(type)).toBe(s1.resources.get(type));
    const changed = (type: string) => [...s2.resources.get(type)!].filter(([name, r]) => s1.resources.get(type)!.get(name)?.resource !== r.resource).map(([name]) => name);
    expect(changed(TypeUrl.cluster)).toEqual([]);
    // Svc2's whole-service and v1 assignments; its v2 subset (no endpoint) keeps its object
    expect(changed(TypeUrl.clusterLoadAssignment).sort()).toEqual(["outbound|20880||com.example.svc2.v1-0-0.dubbo", "outbound|20880|v1|com.example.svc2.v1-0-0.dubbo"].sort());
    expect(JSON.stringify(s2.resources.get(TypeUrl.clusterLoadAssignment)!.get("outbound|20880||com.example.svc2.v1-0-0.dubbo")!.resource)).toContain('"port_value":2001');
    // cached and reused equal a snapshot made from nothing
    expect(s2.resources).toEqual(xdsSnapshot(buildModel([mk(1, 1000), mk(1, 1001, "v2"), mk(2, 2001)], rules), options, new ServiceCache()).resources);
  });

  it("services that come and go: the snapshot from the previous one equals one made from nothing", () => {
    const options: XdsSnapshotOptions = { mode: "dubbo-proxy", wasm };
    const builder = new ModelBuilder();
    const cache = new ServiceCache();
    const rules = rulesFor(90);
    const steps = [
      [mk(1, 1000), mk(2, 2000)],
      [mk(1, 1000), mk(2, 2000), mk(3, 3000)], // a new service
      [mk(1, 1000), mk(3, 3000)], // one gone
      [mk(1, 1001), mk(3, 3001, "v2")], // two endpoint changes at once
      [mk(1, 1001)],
    ];
    let last: XdsSnapshot | undefined;
    for (const providers of steps) {
      last = xdsSnapshot(builder.build(providers, rules), options, cache, last);
      expect(last.resources).toEqual(xdsSnapshot(buildModel(providers, rules), options, new ServiceCache()).resources);
    }
    expect([...last!.resources.get(TypeUrl.cluster)!.keys()].every((name) => name.includes("svc1"))).toBe(true);
  });

  it("a rule edit changes only the routes and the filter config; the Listener never changes", () => {
    const options: XdsSnapshotOptions = { mode: "dubbo-proxy", wasm };
    const builder = new ModelBuilder();
    const cache = new ServiceCache();
    const providers = [mk(1, 1000), mk(1, 1001, "v2"), mk(2, 2000)];
    const s1 = xdsSnapshot(builder.build(providers, rulesFor(90)), options, cache);
    const s2 = xdsSnapshot(builder.build(providers, rulesFor(50)), options, cache, s1);
    expect(s2.resources.get(TypeUrl.listener)).toBe(s1.resources.get(TypeUrl.listener));
    for (const type of [TypeUrl.multipleRouteConfiguration, TypeUrl.typedExtensionConfig]) {
      expect(s2.resources.get(type)).not.toEqual(s1.resources.get(type));
    }
    // the services were rebuilt (their rule changed) but their clusters and assignments are the same objects
    for (const type of [TypeUrl.cluster, TypeUrl.clusterLoadAssignment]) {
      for (const [name, r] of s2.resources.get(type)!) expect(r).toBe(s1.resources.get(type)!.get(name));
    }
    expect(JSON.stringify(only(s2, TypeUrl.multipleRouteConfiguration))).toContain('"weight":50');
  });

  it("model objects and cached pieces are frozen under DUBBO_MESH_FREEZE=1 (the suite's setting): altering one throws", () => {
    expect(process.env["DUBBO_MESH_FREEZE"]).toBe("1");
    const model = buildModel(examplesProviders(), examplesRules());
    const service = model.services[0]!;
    expect(() => (service.endpoints as unknown[]).push({})).toThrow(TypeError);
    expect(() => ((service as { host: string }).host = "x")).toThrow(TypeError);
    const pieces = new ServiceCache().pieces(service);
    expect(() => ((pieces.assignmentEntries[0]![1].resource as Obj)["cluster_name"] = "x")).toThrow(TypeError);
    expect(() => (pieces.entry.routes as unknown[]).pop()).toThrow(TypeError);
  });
});
