import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { main as cli } from "../../cli/index.js";
import { generateIstio } from "../../control/generate/istio/index.js";
import { parseXdsAddress } from "../../control/generate/istio/live.js";
import { roundTripJson } from "../../control/generate/xds/proto-json.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { buildModel } from "../../control/model/model.js";
import { parseProviderUrl } from "../../control/registry/provider-url.js";
import { loadRulesFile, parseRules } from "../../control/rules/load.js";
import { validateIstio } from "./istio-check.js";

type Obj = Record<string, unknown>;

const tmp = mkdtempSync(join(tmpdir(), "dubbo-mesh-live-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function examplesModel() {
  const urls = (readFileSync(join(packageRoot, "examples", "registry.yaml"), "utf8").match(/dubbo:\/\/\S+/g) ?? []) as string[];
  const providers = urls.map((u) => {
    const p = parseProviderUrl(u);
    if (!p.ok) throw new Error(p.error);
    return p.provider;
  });
  return buildModel(providers, loadRulesFile(join(packageRoot, "examples", "rules.yaml")));
}

const docsOf = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d !== null);
const wasm = parseWasmSource(DEFAULT_WASM_URL);

describe("Istio live mode (--xds-address)", () => {
  for (const mode of ["dubbo-proxy", "tcp"] as const) {
    for (const address of ["10.0.0.7:18000", "dubbo-mesh-control.dubbo-mesh.svc.cluster.local:18000"]) {
      it(`${mode}, ${address}: a cluster for the control plane and the wasm filter by ECDS from it, valid for Istio and Envoy`, () => {
        const files = generateIstio(examplesModel(), { mode, wasm, namespace: "dubbo", xdsAddress: parseXdsAddress(address) });
        expect(files.map((f) => f.name)).toEqual(["service-entries.yaml", "destination-rules.yaml", "envoy-filter-xds.yaml", `envoy-filter-${mode}.yaml`, "plugin-config.json"]);
        for (const f of files.filter((x) => x.name.endsWith(".yaml"))) for (const doc of docsOf(f.chunks.join(""))) validateIstio(doc);
        const [ef] = docsOf(files.find((f) => f.name === "envoy-filter-xds.yaml")!.chunks.join(""));
        const [cluster, filter] = (ef!["spec"] as { configPatches: { applyTo: string; patch: { operation: string; value: Obj } }[] }).configPatches;
        expect([cluster!.applyTo, cluster!.patch.operation, filter!.applyTo, filter!.patch.operation]).toEqual(["CLUSTER", "ADD", "NETWORK_FILTER", "INSERT_BEFORE"]);
        roundTripJson("envoy.config.cluster.v3.Cluster", cluster!.patch.value);
        roundTripJson("envoy.config.listener.v3.Filter", filter!.patch.value);
        expect(cluster!.patch.value["type"]).toBe(address.startsWith("10.") ? "STATIC" : "STRICT_DNS");
        expect(JSON.stringify(cluster!.patch.value)).toContain('"http2_protocol_options":{}');
        const discovery = filter!.patch.value["config_discovery"] as Obj;
        expect(filter!.patch.value["name"]).toBe("dubbo-mesh.filter");
        expect(discovery["type_urls"]).toEqual([TypeUrl.wasm]);
        expect(JSON.stringify(discovery["config_source"])).toContain('"cluster_name":"dubbo-mesh-xds"');
        // until the control plane answers, the generated configuration
        const json = (((discovery["default_config"] as Obj)["config"] as Obj)["configuration"] as Obj)["value"] as string;
        expect(JSON.parse(json)).toEqual(JSON.parse(files.find((f) => f.name === "plugin-config.json")!.chunks.join("")));
      });
    }
  }

  it("dubbo-proxy: the inline routes follow the attachment for every subset, so traffic can move among them without new routes", () => {
    const rules = parseRules(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: only-v2}
spec:
  interface: com.example.Orders
  subsets: [{name: v1, labels: {revision: v1}}, {name: v2, labels: {revision: v2}}]
  routes: [{name: all, route: [{subset: v2}]}]
`, "rules");
    const p = parseProviderUrl("dubbo://10.0.0.1:20880/com.example.Orders?revision=v1");
    if (!p.ok) throw new Error(p.error);
    const model = buildModel([p.provider], rules);
    const text = (live: boolean) =>
      generateIstio(model, { mode: "dubbo-proxy", wasm, ...(live ? { xdsAddress: parseXdsAddress("10.0.0.7:18000") } : {}) }).find((f) => f.name === "envoy-filter-dubbo-proxy.yaml")!.chunks.join("");
    const v1 = "string_match: {exact: outbound|20880|v1|com.example.orders.dubbo}";
    expect(text(false)).not.toContain(v1); // static: only the clusters the routes name
    expect(text(true)).toContain(v1);
    expect(text(true)).toContain("string_match: {exact: outbound|20880|v2|com.example.orders.dubbo}");
  });

  it("rejects a bad address and an oci module; the CLI writes envoy-filter-xds.yaml", async () => {
    expect(() => parseXdsAddress("10.0.0.7")).toThrow(/expected HOST:PORT/);
    expect(() => parseXdsAddress("h:0")).toThrow(/expected HOST:PORT/);
    expect(() => parseXdsAddress("[zz]:1")).toThrow(/expected HOST:PORT/);
    expect(parseXdsAddress("[::1]:18000")).toEqual({ host: "::1", port: 18000 });
    const oci = parseWasmSource("oci://r.test/f:1");
    expect(() => generateIstio(examplesModel(), { mode: "tcp", wasm: oci, xdsAddress: parseXdsAddress("h:1") })).toThrow(/cannot load oci:/);
    const out = join(tmp, "live");
    const args = ["--registry", "file:examples/registry.yaml", "--rules", "examples/rules.yaml", "--out", out];
    expect(await cli(["generate", ...args, "--xds-address", "nope"])).toBe(2); // a usage error
    expect(await cli(["generate", ...args, "--xds-address", "10.0.0.7:18000"])).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["destination-rules.yaml", "envoy-filter-dubbo-proxy.yaml", "envoy-filter-xds.yaml", "plugin-config.json", "service-entries.yaml"]);
  });
});
