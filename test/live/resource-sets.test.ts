/** What the live control plane publishes per rebuild: the same objects as `generate`, and objects reused across rebuilds. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { EnvoyResources, McpResources } from "../../control/live/resource-sets.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";
import { generatedObjects } from "../support/generated-objects.js";
import { ModelBuilder } from "../../control/model/model.js";
import { parseProviderUrl, type Provider } from "../../control/registry/provider-url.js";
import { parseRules } from "../../control/rules/load.js";

const RULES = readFileSync(new URL("../../examples/rules.yaml", import.meta.url), "utf8");
const url = (iface: string, port: number, revision: string) => `dubbo://10.0.0.1:${port}/${iface}?interface=${iface}&version=1.0.0&revision=${revision}`;

function providers(urls: string[]): Provider[] {
  return urls.map((u) => {
    const p = parseProviderUrl(u);
    if (!p.ok) throw new Error(p.error);
    return p.provider;
  });
}

const DEMO = "org.apache.dubbo.demo.DemoService";
const ORDERS = "com.acme.orders.OrderService";
const first = [url(DEMO, 20881, "v1"), url(DEMO, 20882, "v2"), url(ORDERS, 20891, "v1")];
const second = [...first, url(ORDERS, 20892, "v1")];

describe("live resource sets", () => {
  const wasm = parseWasmSource();
  for (const mode of ["dubbo-proxy", "tcp"] as const) {
    it(`MCP (${mode}): the same Istio objects as generate's istioObjects, with or without a namespace`, () => {
      const model = new ModelBuilder().build(providers(first), parseRules(RULES, "rules.yaml"));
      for (const namespace of [undefined, "mesh"]) {
        const options = { mode, wasm, ...(namespace ? { namespace } : {}) };
        expect(new McpResources(options).objects(model)).toEqual(generatedObjects(model, options));
      }
    });
  }

  it("MCP: a rebuild after one service's endpoints changed reuses every other object, and the filters while the routes are the same", () => {
    const builder = new ModelBuilder();
    const rules = parseRules(RULES, "rules.yaml");
    const options = { mode: "dubbo-proxy" as const, wasm };
    const mcp = new McpResources(options);
    const before = mcp.objects(builder.build(providers(first), rules));
    const model = builder.build(providers(second), rules);
    const after = mcp.objects(model);
    expect(after).toEqual(generatedObjects(model, options));
    const kept = after.filter((o) => before.includes(o));
    const names = (list: object[]) => list.map((o) => `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`).sort();
    // the OrderService ServiceEntry is new; its DestinationRule (no rule: none) and everything of the demo service and the filters are the same objects
    expect(names(after.filter((o) => !kept.includes(o)))).toEqual([`ServiceEntry/${before.map((o) => (o as { metadata: { name: string } }).metadata.name).find((n) => n.startsWith("com.acme.orders"))}`]);
  });

  it("Envoy: the Listener is the same object through endpoint changes and rule edits; a rule edit changes DRDS and ECDS", () => {
    const builder = new ModelBuilder();
    const options = { mode: "dubbo-proxy" as const, wasm };
    const envoy = new EnvoyResources(options);
    const build = (rules: string, urls: string[]) => envoy.build(builder.build(providers(urls), parseRules(rules, "rules.yaml")));
    const one = (sets: ReturnType<typeof build>, type: string) => sets.get(type)![0]!.object;
    const a = build(RULES, first);
    const b = build(RULES, second);
    expect(one(b, TypeUrl.listener)).toBe(one(a, TypeUrl.listener));
    expect(one(b, TypeUrl.typedExtensionConfig)).toBe(one(a, TypeUrl.typedExtensionConfig)); // no rule changed
    // a rule edit: the routes (DRDS) and the filter configuration (ECDS) change, the Listener is the same object
    const edited = build(RULES.replace("weight: 90}, {subset: v2, weight: 10}", "weight: 80}, {subset: v2, weight: 20}"), second);
    expect(one(edited, TypeUrl.listener)).toBe(one(a, TypeUrl.listener));
    expect(one(edited, TypeUrl.multipleRouteConfiguration)).not.toEqual(one(b, TypeUrl.multipleRouteConfiguration));
    expect(one(edited, TypeUrl.typedExtensionConfig)).not.toEqual(one(b, TypeUrl.typedExtensionConfig));
  });
});
