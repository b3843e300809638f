import { describe, expect, it } from "vitest";
import { sanitizeLabel, sanitizeLabels } from "../../control/util/k8s-label.js";
import { ModelBuilder, buildModel } from "../../control/model/model.js";
import { serviceHost } from "../../control/model/service-host.js";
import { compilePluginConfig, pluginConfigJson } from "../../control/generate/plugin-config.js";
import { parseProviderUrl, type Provider } from "../../control/registry/provider-url.js";
import { parseRules } from "../../control/rules/load.js";
import { prng } from "../support/prng.js";

function providers(...urls: string[]): Provider[] {
  return urls.map((u) => {
    const p = parseProviderUrl(u);
    if (!p.ok) throw new Error(p.error);
    return p.provider;
  });
}

const dnsName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe("service hosts", () => {
  it("are DNS names built from interface, version and group", () => {
    expect(serviceHost("org.apache.dubbo.demo.DemoService", "1.0.0", "")).toBe("org.apache.dubbo.demo.demoservice.v1-0-0.dubbo");
    expect(serviceHost("com.x.Y", "", "gray_Zone")).toBe("com.x.y.g-gray-zone.dubbo");
    expect(serviceHost("com.x.Y", "", "")).toBe("com.x.y.dubbo");
    const long = serviceHost(`com.${"A".repeat(80)}.$Inner_Svc`, "2.0", "");
    expect(long).toMatch(dnsName);
    expect(long.split(".").every((l) => l.length <= 63)).toBe(true);
  });

  it("services whose hosts would collide get distinct hosts", () => {
    const m = buildModel(providers("dubbo://127.0.0.1:1/com.x.Svc", "dubbo://127.0.0.1:2/com.x.SVC"), []);
    const hosts = m.services.map((s) => s.host);
    expect(new Set(hosts).size).toBe(2);
    for (const h of hosts) expect(h).toMatch(dnsName);
  });
});

describe("labels", () => {
  it("labels come out sorted by key whatever the URL order; a later duplicate after sanitizing wins", () => {
    const m = buildModel(providers("dubbo://127.0.0.1:1/a.B?zone=z1&app=x&b%2Cc=1&b_c=2"), []);
    const labels = m.services[0]!.endpoints[0]!.labels;
    expect([...labels.keys()]).toEqual(["app", "b_c", "zone"]);
    expect(labels.get("b_c")).toBe("2");
  });

  it("keys that are numbers come first, in numeric order (a JS object's order, which the generic writer keeps), even from sorted valid params", () => {
    const m = buildModel(providers("dubbo://127.0.0.1:1/a.B?10=a&9=b&app=c", "dubbo://127.0.0.1:2/a.B?app=c&zone=z"), []);
    expect(m.services[0]!.endpoints.map((e) => [...e.labels.keys()])).toEqual([["9", "10", "app"], ["app", "zone"]]);
  });

  it("URL params become valid label values", () => {
    expect(sanitizeLabel("v1")).toBe("v1");
    expect(sanitizeLabel("sayHello,greet")).toBe("sayHello_greet");
    expect(sanitizeLabel("-1")).toBe("1");
    expect(sanitizeLabel("")).toBe("");
    const long = sanitizeLabel("x".repeat(100));
    expect(long).toHaveLength(63);
    expect(long).not.toBe(sanitizeLabel(`${"x".repeat(99)}y`));
    for (const v of ["a b/c", "%%", "日本", "x".repeat(70), "..a.."]) expect(sanitizeLabel(v)).toMatch(labelValue);
  });
});

describe("model and plugin configuration", () => {
  const rules = parseRules(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: by-glob}
spec:
  interface: com.example.*
  subsets: [{name: canary, labels: {env: "canary,blue"}}]
  routes: [{name: c, match: {arguments: {"0": {prefix: vip-}}}, route: [{subset: canary}]}]
  loadBalancer: {consistentHash: {argument: 0}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: never}
spec:
  interface: com.example.Orders
  deny: [{method: {exact: drop}}]
`);

  it("applies the first matching rule; subsets select endpoints by sanitized labels; specific services first", () => {
    const model = buildModel(
      providers(
        "dubbo://127.0.0.1:1/com.example.Orders?env=canary,blue",
        "dubbo://127.0.0.1:2/com.example.Orders?env=stable",
        "dubbo://127.0.0.1:3/com.example.Orders?version=2.0&group=g",
        "dubbo://127.0.0.1:4/org.other.Thing",
      ),
      rules,
    );
    // the model is sorted by host; the plugin configuration puts specific services first
    expect(model.services.map((s) => [s.key, s.rule?.name])).toEqual([
      ["com.example.Orders::", "by-glob"],
      ["com.example.Orders:2.0:g", "by-glob"],
      ["org.other.Thing::", undefined],
    ]);
    const cfg = compilePluginConfig(model);
    expect(cfg.services.map((s) => `${s.interface}:${s.version}:${s.group}`)).toEqual(["com.example.Orders:2.0:g", "com.example.Orders::", "org.other.Thing::"]);
    const orders = cfg.services[1]!;
    expect(orders.hashKey).toEqual({ argument: 0 });
    expect(orders.deny).toEqual([]); // the second rule never applies: the glob rule came first
    expect(orders.routes).toEqual([
      { name: "c", match: { arguments: { "0": { prefix: "vip-" } } }, destinations: [{ cluster: "outbound|20880|canary|com.example.orders.dubbo", weight: 100 }] },
    ]);
    expect(cfg.services[2]).toEqual({ interface: "org.other.Thing", version: "", group: "", defaultCluster: "outbound|20880||org.other.thing.dubbo", deny: [], routes: [] });
    expect(model.services[0]!.endpoints.map((e) => e.labels.get("env"))).toEqual(["canary_blue", "stable"]);
  });

  it("custom cluster names and options reach the configuration", () => {
    const model = buildModel(providers("dubbo://127.0.0.1:1/com.example.Orders?env=canary"), rules);
    const cfg = compilePluginConfig(model, { clusterName: (s, subset) => `${s.interface}/${subset || "all"}`, rewrite: false, nonDubbo: "passthrough", defaultCluster: "fallback" });
    expect(cfg).toMatchObject({ version: 1, rewrite: false, nonDubbo: "passthrough", defaultCluster: "fallback", routeAttachment: "x-dubbo-mesh-cluster" });
    expect(cfg.services[0]!.defaultCluster).toBe("com.example.Orders/all");
    expect(cfg.services[0]!.routes[0]!.destinations[0]!.cluster).toBe("com.example.Orders/canary");
  });

  it("the JSON text equals JSON.stringify for equal matches under two route names, routes without a match, escapes", () => {
    const shared = parseRules(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: aliases}
spec:
  interface: com.example.*
  subsets: [{name: a, labels: {v: a}}, {name: b, labels: {v: b}}]
  routes:
    - {name: first, match: &m {method: {exact: get}}, route: [{subset: a}]}
    - {name: "sec\\"ond", match: *m, route: [{subset: b, weight: 30}, {subset: a, weight: 70}]}
    - {name: rest, route: [{subset: b, weight: 1}, {weight: 99}]}
`);
    const m = buildModel(providers("dubbo://127.0.0.1:1/com.example.A?v=a", "dubbo://127.0.0.1:2/com.example.B?v=b"), shared);
    for (const clusterName of [undefined, (s: { interface: string }, subset: string) => `"${s.interface}"\u2028${subset}`]) {
      const cfg = compilePluginConfig(m, clusterName ? { clusterName } : {});
      expect(pluginConfigJson(cfg)).toBe(JSON.stringify(cfg));
      expect(pluginConfigJson(cfg, { lines: true }).replace(/\n/g, "")).toBe(JSON.stringify(cfg));
    }
  });

  it("a service's clusters: the default first, then the others its routes name, once each, sorted", async () => {
    const { clustersOf } = await import("../../control/generate/plugin-config.js");
    const to = (...names: string[]) => names.map((cluster) => ({ cluster, weight: 1 }));
    const entry = {
      interface: "a.B",
      version: "",
      group: "",
      defaultCluster: "m",
      deny: [],
      routes: [{ name: "r1", destinations: to("z", "b", "m") }, { name: "r2", destinations: to("b", "a", "Z", "é", "a1") }],
    };
    expect(clustersOf(entry)).toEqual(["m", "Z", "a", "a1", "b", "z", "é"]);
    expect(clustersOf({ ...entry, routes: [] })).toEqual(["m"]);
  });

  it("the cached JSON text equals JSON.stringify of the configuration; the line form parses to the same", () => {
    const model = buildModel(providers("dubbo://127.0.0.1:1/com.example.Orders?env=canary", "dubbo://127.0.0.1:2/org.o.T"), rules);
    const cfg = compilePluginConfig(model);
    expect(pluginConfigJson(cfg)).toBe(JSON.stringify(cfg));
    const lines = pluginConfigJson(cfg, { lines: true });
    expect(JSON.parse(lines)).toEqual(cfg);
    expect(lines.split("\n")).toHaveLength(cfg.services.length + 2);
    const empty = compilePluginConfig(buildModel([], []));
    expect(pluginConfigJson(empty)).toBe(JSON.stringify(empty));
    expect(JSON.parse(pluginConfigJson(empty, { lines: true }))).toEqual(empty);
  });

  it("the builder reuses unchanged services (same object) and rebuilds changed ones", () => {
    const b = new ModelBuilder();
    const m1 = b.build(providers("dubbo://127.0.0.1:1/a.A", "dubbo://127.0.0.1:2/b.B"), []);
    const m2 = b.build(providers("dubbo://127.0.0.1:1/a.A", "dubbo://127.0.0.1:3/b.B"), []);
    expect(m2.services[0]).toBe(m1.services[0]);
    expect(m2.services[1]).not.toBe(m1.services[1]);
    expect(m2.services[1]!.endpoints[0]!.port).toBe(3);
  });
});

describe("URL params and labels of runs of similar providers", () => {
  it("a run of similar providers gives what each provider gives on its own (seeded: shifted, repeated and changed params)", async () => {
    const keys = ["anyhost", "application", "dubbo", "methods", "pid", "revision", "side", "true", "x y", "-k", "%", "a+b", "9", "10", "version", "group"];
    const values = ["true", "v1", "v2", "1.0", "sayHello,greet", "it's", "a%20b", "a+b", "", "-1", "no", "%41", "x".repeat(70)];
    const random = prng(20261122);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]!;
    const urls: string[] = [];
    const param = () => {
      const odd = random();
      if (odd < 0.04) return ""; // an empty segment: `&&`
      if (odd < 0.08) return `=${pick(values).replace(/[%&=#+ ]/g, "_")}`; // an empty key: left out
      if (odd < 0.12) return encodeURIComponent(pick(keys)); // a key without `=`
      return `${encodeURIComponent(pick(keys))}=${random() < 0.2 ? encodeURIComponent(pick(values)) : pick(values).replace(/[%&=#+ ]/g, "_")}`;
    };
    let params: string[] = [];
    for (let i = 0; i < 600; i++) {
      if (params.length > 0 && random() < 0.6) {
        // like the previous provider but for one or two params (a new pid, a shifted list)
        params = params.slice();
        for (let c = random() < 0.5 ? 1 : 2; c > 0; c--) {
          const at = Math.floor(random() * params.length);
          const what = random();
          if (what < 0.6) params[at] = param();
          else if (what < 0.8) params.splice(at, 1);
          else params.splice(at, 0, param());
        }
      } else {
        params = [];
        for (let j = Math.floor(random() * 14); j > 0; j--) params.push(param());
        if (random() < 0.5) params.sort();
      }
      urls.push(`dubbo://10.0.${i % 7}.${i % 250}:${20880 + (i % 3)}/com.x.S${Math.floor(i / 40)}?${params.join("&")}`);
      if (random() < 0.05) urls.push(urls[urls.length - 1]!); // the same URL twice
    }
    const parsed = providers(...urls);
    for (const [i, p] of parsed.entries()) {
      // the same URL parsed after an unrelated one: no state from the run of providers before it
      parseProviderUrl("dubbo://1.1.1.1:1/com.x.Other?zzz=1");
      const alone = parseProviderUrl(urls[i]!);
      if (!alone.ok) throw new Error(alone.error);
      expect({ ...alone.provider, params: [...alone.provider.params] }).toEqual({ ...p, params: [...p.params] });
    }
    const m = buildModel(parsed, []);
    for (const s of m.services) {
      for (const e of s.endpoints) {
        const p = parsed.find((q) => q.url === e.url)!;
        // the labels map shares the provider's arrays when it can: the same pairs in the same order as the plain path
        expect([...e.labels]).toEqual(Object.entries(sanitizeLabels([...p.params]).labels));
      }
    }
  });
});

describe("plugin configuration JSON", () => {
  it("the JSON text, plain and one service per line, is JSON.stringify's (deny, matches, weights, hash keys, names needing escapes)", () => {
    const rules = parseRules(
      `
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: a}
spec:
  interface: com.x.A*
  subsets: [{name: v1, labels: {revision: v1}}, {name: v2, labels: {revision: v2}}]
  loadBalancer: {consistentHash: {attachment: "user\\"id"}}
  routes:
    - {name: "gray \\u00e9", match: {attachments: {dubbo.tag: {exact: gray}}, arguments: {"1": {suffix: z}, "0": {prefix: a}}}, route: [{subset: v1}]}
    - {name: split, route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]}
  deny: [{method: {prefix: delete}}, {attachments: {x: {present: true}}}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: b}
spec:
  interface: com.x.B
  loadBalancer: {consistentHash: {argument: 2}}
  routes: [{name: m, match: {method: {exact: get}}, route: [{weight: 100}]}]
`,
      "r",
    );
    const model = buildModel(
      providers(
        "dubbo://127.0.0.1:1/com.x.A1?revision=v1",
        "dubbo://127.0.0.1:2/com.x.A2?version=1.0&group=g%22q&revision=v2",
        "dubbo://127.0.0.1:3/com.x.B?version=%E2%82%AC",
        "dubbo://127.0.0.1:4/com.x.C",
      ),
      rules,
    );
    for (const options of [{}, { clusterName: (sv: { interface: string }, subset: string) => `${sv.interface}\t"${subset}"` }]) {
      const cfg = compilePluginConfig(model, options);
      expect(cfg.services.filter((e) => e.hashKey !== undefined)).toHaveLength(3);
      expect(pluginConfigJson(cfg)).toBe(JSON.stringify(cfg));
      expect(JSON.parse(pluginConfigJson(cfg, { lines: true }))).toEqual(cfg);
    }
  });
});

describe("model grouping", () => {
  it("providers of one service interleaved with others' give the same services and endpoints as sorted ones", () => {
    const urls = [
      "dubbo://127.0.0.1:1/com.x.A?version=1.0",
      "dubbo://127.0.0.2:1/com.x.B",
      "dubbo://127.0.0.3:1/com.x.A?version=1.0",
      "dubbo://127.0.0.4:1/com.x.A?version=2.0",
      "dubbo://127.0.0.5:1/com.x.A?version=1.0&group=g",
      "dubbo://127.0.0.6:1/com.x.B",
      "dubbo://127.0.0.7:1/com.x.A?version=1.0",
    ];
    const shape = (m: ReturnType<typeof buildModel>) => m.services.map((s) => [s.key, s.endpoints.map((e) => e.address)]);
    const interleaved = shape(buildModel(providers(...urls), []));
    expect(interleaved).toEqual([
      ["com.x.A:1.0:", ["127.0.0.1", "127.0.0.3", "127.0.0.7"]],
      ["com.x.A:1.0:g", ["127.0.0.5"]],
      ["com.x.A:2.0:", ["127.0.0.4"]],
      ["com.x.B::", ["127.0.0.2", "127.0.0.6"]],
    ]);
    const byService = [...urls].sort((a, b) => (a.slice(22) < b.slice(22) ? -1 : a.slice(22) > b.slice(22) ? 1 : a < b ? -1 : 1));
    expect(shape(buildModel(providers(...byService), []))).toEqual(interleaved);
  });
});
