// The contract between the control plane and the filter (docs/contracts.md §1): the plugin configuration
// control/ compiles from the example registry and rules is accepted by the filter in both modes, and
// routes requests the way the rules say.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { buildModel } from "../../control/model/model.js";
import { compilePluginConfig } from "../../control/generate/plugin-config.js";
import { parseProviderUrl } from "../../control/registry/provider-url.js";
import { loadRulesFile } from "../../control/rules/load.js";
import { decodeRequest, requestFrame, splitFrames } from "../../dev/dubbo-frames.js";
import { connect, metric, startFilter } from "./filter-vm.js";

function examplesModel() {
  const urls = readFileSync(join(packageRoot, "examples", "registry.yaml"), "utf8").match(/dubbo:\/\/\S+/g) ?? [];
  const providers = urls.map((u) => {
    const p = parseProviderUrl(u);
    if (!p.ok) throw new Error(p.error);
    return p.provider;
  });
  return buildModel(providers, loadRulesFile(join(packageRoot, "examples", "rules.yaml")));
}

describe("plugin configuration compiled by the control plane", () => {
  it("is accepted in tcp mode (no rewrite)", async () => {
    const config = compilePluginConfig(examplesModel(), { rewrite: false });
    const vm = await startFilter(config);
    const frame = requestFrame({ id: 1, method: "greet" });
    const conn = connect(vm);
    const r = conn.downstreamData(frame);
    expect(Buffer.from(r.forwarded).equals(frame)).toBe(true);
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toMatch(/^outbound\|20880\|v1\|/);
  });

  it("routes as examples/rules.yaml says in dubbo-proxy mode (gray, method route, split, deny)", async () => {
    const config = { ...compilePluginConfig(examplesModel(), { rewrite: true }), randomSeed: 11 };
    const vm = await startFilter(config);
    const cluster = (spec: Parameters<typeof requestFrame>[0]) =>
      String(decodeRequest(connect(vm).downstreamData(requestFrame(spec)).forwarded).attachments["x-dubbo-mesh-cluster"]);
    expect(cluster({ attachments: { "dubbo.tag": "gray" } })).toMatch(/^outbound\|20880\|v2\|/);
    expect(cluster({ method: "greet" })).toMatch(/^outbound\|20880\|v1\|/);
    const frames = Array.from({ length: 1000 }, (_, i) => requestFrame({ id: i }));
    const split = splitFrames(connect(vm).downstreamData(Buffer.concat(frames)).forwarded).map((f) => String(decodeRequest(f).attachments["x-dubbo-mesh-cluster"]));
    const v2 = split.filter((c) => c.startsWith("outbound|20880|v2|")).length;
    expect(v2).toBeGreaterThan(60);
    expect(v2).toBeLessThan(140);
    const denied = connect(vm).downstreamData(requestFrame({ method: "deleteUser" }));
    expect(denied.closeDownstream).toBe(false);
    expect(String(decodeRequest(denied.forwarded).attachments["x-dubbo-mesh-cluster"])).toMatch(/^!denied:/);
    expect(metric(vm, "dubbo_mesh.denied")).toBe(1);
  });
});
