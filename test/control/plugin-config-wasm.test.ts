/**
 * The compiled plugin configuration is accepted by the real filter: build/dubbo_filter.wasm (built by
 * `npm run build:wasm`, which `npm test` runs first) configured through the project's proxy-wasm host.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { filterWasmPath, packageRoot } from "../../common/paths.js";
import { buildModel } from "../../control/model/model.js";
import { compilePluginConfig, pluginConfigJson } from "../../control/generate/plugin-config.js";
import { parseProviderUrl } from "../../control/registry/provider-url.js";
import { parseRules } from "../../control/rules/load.js";
import { WasmVm } from "../../proxy/host/index.js";

function wasm(): Uint8Array {
  if (!existsSync(filterWasmPath)) throw new Error(`${filterWasmPath} is missing: run npm run build:wasm`);
  return readFileSync(filterWasmPath);
}

async function configure(pluginConfig: string): Promise<string[]> {
  const vm = await WasmVm.create({ wasm: wasm(), pluginConfig, rootId: "dubbo_mesh", vmId: "dubbo_mesh" });
  try {
    return vm.logs().map((l) => l.message);
  } finally {
    vm.close();
  }
}

describe("compiled plugin configuration in the real filter", () => {
  for (const mode of ["dubbo-proxy", "tcp"]) {
    it(`envoyfilters/${mode}/plugin-config.json configures the filter`, async () => {
      const logs = await configure(readFileSync(join(packageRoot, "envoyfilters", mode, "plugin-config.json"), "utf8"));
      expect(logs.join("\n")).toMatch(/configured 1 service\(s\)/);
    });
  }

  it("every rule feature (globs, arguments, present, suffix, hash keys, weights, many services) is accepted", async () => {
    const rules = parseRules(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: all}
spec:
  interface: com.example.*
  subsets: [{name: a, labels: {zone: a}}, {name: b, labels: {zone: b}}]
  routes:
    - name: args
      match: {arguments: {"0": {prefix: vip-}, "2": {exact: "7"}}, attachments: {trace: {present: true}}}
      route: [{subset: a}]
    - name: suffix
      match: {method: {suffix: Async}}
      route: [{subset: a, weight: 3}, {subset: b, weight: 1}]
    - route: [{subset: b}]
  deny: [{name: d, method: {exact: drop}, attachments: {role: {exact: guest}}}]
  loadBalancer: {consistentHash: {argument: 1}}
`);
    const urls: string[] = [];
    for (let i = 0; i < 200; i++) {
      urls.push(`dubbo://127.0.0.1:${21000 + i}/com.example.S${i}?version=1.${i % 3}&group=g${i % 2}&zone=${i % 2 ? "a" : "b"}`);
    }
    const providers = urls.map((u) => {
      const p = parseProviderUrl(u);
      if (!p.ok) throw new Error(p.error);
      return p.provider;
    });
    const config = compilePluginConfig(buildModel(providers, rules), { nonDubbo: "passthrough", defaultCluster: "fallback" });
    const logs = await configure(pluginConfigJson(config));
    expect(logs.join("\n")).toMatch(/configured 200 service\(s\)/);
  });

  it("the filter rejects a broken configuration (the check is real)", async () => {
    const config = JSON.parse(readFileSync(join(packageRoot, "envoyfilters", "tcp", "plugin-config.json"), "utf8")) as Record<string, unknown>;
    await expect(configure(JSON.stringify({ ...config, version: 2 }))).rejects.toThrow(/version/);
  });
});
