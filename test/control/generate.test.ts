import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, describe, expect, it, vi } from "vitest";
import { generate, parseGenerateArgs } from "../../control/cli-generate.js";
import { main as cli } from "../../cli/index.js";
import { EARLY_DATA_BYTES, MODES } from "../../control/generate/istio/envoy-filter.js";
import { WASM_FORMS, generateIstio } from "../../control/generate/istio/index.js";
import { lookupMessage } from "../../control/generate/xds/envoy-protos.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";
import { ProtoJsonError, encodeJson, messageFromJson, roundTripJson } from "../../control/generate/xds/proto-json.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { exampleArgs, REFRESH_COMMAND } from "../../scripts/example-outputs.js";
import { buildModel } from "../../control/model/model.js";
import { parseProviderUrl } from "../../control/registry/provider-url.js";
import { loadRulesFile } from "../../control/rules/load.js";
import { packageRoot } from "../../common/paths.js";
import { patchFilters, roundTripTypedConfig, typedConfigs, validateIstio } from "./istio-check.js";

type Obj = Record<string, unknown>;

const tmp = mkdtempSync(join(tmpdir(), "dubbo-mesh-generate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function docsOf(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

function examplesModel() {
  const urls = (readFileSync(join(packageRoot, "examples", "registry.yaml"), "utf8").match(/dubbo:\/\/\S+/g) ?? []) as string[];
  const providers = urls.map((u) => {
    const p = parseProviderUrl(u);
    if (!p.ok) throw new Error(p.error);
    return p.provider;
  });
  return buildModel(providers, loadRulesFile(join(packageRoot, "examples", "rules.yaml")));
}

const sha = "a".repeat(64);
const wasmSources = {
  local: parseWasmSource(DEFAULT_WASM_URL),
  https: parseWasmSource("https://example.test/dubbo_filter.wasm", sha),
  oci: parseWasmSource("oci://registry.example.test/dubbo-mesh/filter:1.0", sha),
};

describe("Istio YAML", () => {
  for (const mode of MODES) {
    for (const [kind, wasm] of Object.entries(wasmSources)) {
      it(`${mode} mode, ${kind} module: every object passes Istio's CRD schema and every typed_config the Envoy protos`, () => {
        // an oci:// module only in the WasmPlugin form; the others in both, one form per run
        if (kind === "oci") expect(() => generateIstio(examplesModel(), { mode, wasm })).toThrow(/oci:\/\/ module .* needs the wasmplugin form/);
        const forms = kind === "oci" ? (["wasmplugin"] as const) : WASM_FORMS;
        const files = forms.flatMap((wasmForm) => {
          const one = generateIstio(examplesModel(), { mode, wasm, wasmForm, namespace: "dubbo" });
          const names = one.map((f) => f.name);
          expect(names.includes("envoy-filter-wasm.yaml")).toBe(wasmForm === "envoyfilter");
          expect(names.includes("wasm-plugin.yaml")).toBe(wasmForm === "wasmplugin");
          expect(names).toContain(`envoy-filter-${mode}.yaml`);
          return one;
        });
        let typed = 0;
        for (const f of files.filter((x) => x.name.endsWith(".yaml"))) {
          for (const doc of docsOf(f.chunks.join(""))) {
            validateIstio(doc);
            for (const { operation, value } of patchFilters(doc)) {
              const tc = value["typed_config"] as Obj;
              if (operation === "MERGE") {
                // tcp mode: exactly the two early-data fields the grpc-js-xds snapshot predates, nothing else
                expect(tc).toEqual({ "@type": TypeUrl.tcpProxy, max_early_data_bytes: EARLY_DATA_BYTES, upstream_connect_mode: "ON_DOWNSTREAM_DATA" });
                expect(() => roundTripTypedConfig(tc)).toThrow(/max_early_data_bytes: unknown field/);
                continue;
              }
              // the whole patch value is a listener Filter
              roundTripJson("envoy.config.listener.v3.Filter", value);
            }
            for (const tc of typedConfigs(doc)) {
              if (tc["@type"] === TypeUrl.tcpProxy) continue; // checked above
              roundTripTypedConfig(tc);
              typed++;
            }
          }
        }
        // tcp + oci: the WasmPlugin carries the module; the only EnvoyFilter holds the tcp_proxy merge
        if (!(mode === "tcp" && kind === "oci")) expect(typed).toBeGreaterThan(0);
      });
    }
  }

  it("a configuration of many services is written as a literal block, valid for Istio and the Envoy protos, equal to plugin-config.json", () => {
    const urls = Array.from({ length: 120 }, (_, i) => `dubbo://10.0.0.${i % 250}:20880/org.apache.dubbo.demo.DemoService${i}?version=1.0.0&revision=v${(i % 2) + 1}`);
    const providers = urls.map((u) => {
      const p = parseProviderUrl(u);
      if (!p.ok) throw new Error(p.error);
      return p.provider;
    });
    const rules = loadRulesFile(join(packageRoot, "examples", "rules.yaml")).map((r) => ({ ...r, interface: "org.apache.dubbo.demo.*" }));
    const files = generateIstio(buildModel(providers, rules), { mode: "dubbo-proxy", wasm: wasmSources.local });
    const text = files.find((f) => f.name === "envoy-filter-wasm.yaml")!.chunks.join("");
    expect(text).toMatch(/\n {16}value: \|-\n {18}\{"version":1,/);
    const [ef] = docsOf(text);
    validateIstio(ef!);
    const [patch] = patchFilters(ef!);
    roundTripJson("envoy.config.listener.v3.Filter", patch!.value);
    const value = (((patch!.value["typed_config"] as Obj)["config"] as Obj)["configuration"] as Obj)["value"] as string;
    expect(value.length).toBeGreaterThan(16384);
    const json = JSON.parse(files.find((f) => f.name === "plugin-config.json")!.chunks.join("")) as Obj;
    expect(JSON.parse(value)).toEqual(json);
    expect((json["services"] as Obj[]).length).toBe(120);
  });

  it("the wasm filter carries the compiled plugin configuration; dubbo-proxy routes follow the route attachment", () => {
    const model = examplesModel();
    const files = generateIstio(model, { mode: "dubbo-proxy", wasm: wasmSources.local });
    const [wasmEf] = docsOf(files.find((f) => f.name === "envoy-filter-wasm.yaml")!.chunks.join(""));
    const [modeEf] = docsOf(files.find((f) => f.name === "envoy-filter-dubbo-proxy.yaml")!.chunks.join(""));
    // the wasm insertion must run before the REPLACE of tcp_proxy: a lower priority
    expect((wasmEf!["spec"] as Obj)["priority"]).toBe(-10);
    expect((modeEf!["spec"] as Obj)["priority"]).toBeUndefined();
    const [wasmPatch] = patchFilters(wasmEf!);
    const [dubboPatch] = patchFilters(modeEf!);
    expect(wasmPatch!.operation).toBe("INSERT_BEFORE");
    const wasmJson = { ...(wasmPatch!.value["typed_config"] as Obj) };
    delete wasmJson["@type"];
    const wasmMsg = messageFromJson(TypeUrl.wasm, wasmJson) as unknown as {
      config: { configuration: { type_url: string; value: Uint8Array } };
    };
    expect(wasmMsg.config.configuration.type_url).toBe(TypeUrl.stringValue);
    const stringValue = lookupMessage(TypeUrl.stringValue).decode(wasmMsg.config.configuration.value) as unknown as { value: string };
    const cfgJson = JSON.parse(stringValue.value) as Obj;
    expect(cfgJson["rewrite"]).toBe(true);
    const services = cfgJson["services"] as Obj[];
    expect(services).toHaveLength(1);
    const routes = services[0]!["routes"] as { name: string; destinations: { cluster: string; weight: number }[] }[];
    expect(routes.map((r) => r.name)).toEqual(["gray", "greet-v1", "split"]);
    expect(routes[2]!.destinations).toEqual([
      { cluster: "outbound|20880|v1|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo", weight: 90 },
      { cluster: "outbound|20880|v2|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo", weight: 10 },
    ]);
    expect(dubboPatch!.operation).toBe("REPLACE");
    const rc = ((dubboPatch!.value["typed_config"] as Obj)["multiple_route_config"] as { route_config: { routes: { match: Obj; route: Obj }[] }[] })
      .route_config[0]!;
    type Header = { name: string; string_match?: Obj; invert_match?: boolean; treat_missing_header_as_empty?: boolean };
    const headers = (r: { match: Obj }) => (r.match["headers"] as Header[] | undefined) ?? [];
    const byAttachment = rc.routes.filter((r) => headers(r).some((h) => h.name === "x-dubbo-mesh-cluster" && h.string_match?.["exact"] !== undefined));
    // one route per cluster the rules can choose: whole service, v1, v2
    expect(byAttachment.map((r) => r.route["cluster"])).toEqual([
      "outbound|20880||org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
      "outbound|20880|v1|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
      "outbound|20880|v2|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
    ]);
    // the service has a deny rule: every later route refuses the filter's deny mark, so dubbo_proxy answers a
    // marked request itself (no route) instead of sending it to a cluster
    const later = rc.routes.slice(byAttachment.length);
    expect(later.length).toBeGreaterThan(0);
    for (const r of later) {
      expect(headers(r)).toContainEqual({ name: "x-dubbo-mesh-cluster", string_match: { prefix: "!denied:" }, invert_match: true, treat_missing_header_as_empty: true });
    }
  });

  it("the schema check is real: a bad enum or a bad sha256 fails", () => {
    const files = generateIstio(examplesModel(), { mode: "tcp", wasm: wasmSources.oci, wasmForm: "wasmplugin" });
    const [plugin] = docsOf(files.find((f) => f.name === "wasm-plugin.yaml")!.chunks.join(""));
    validateIstio(plugin!);
    const spec = plugin!["spec"] as Obj;
    expect(() => validateIstio({ ...plugin!, spec: { ...spec, type: "TRANSPORT" } })).toThrow(/type/);
    expect(() => validateIstio({ ...plugin!, spec: { ...spec, sha256: "xyz" } })).toThrow(/sha256/);
  });

  it("the WasmPlugin carries the same plugin configuration as plugin-config.json", () => {
    for (const mode of MODES) {
      const files = generateIstio(examplesModel(), { mode, wasm: wasmSources.oci, wasmForm: "wasmplugin" });
      const [plugin] = docsOf(files.find((f) => f.name === "wasm-plugin.yaml")!.chunks.join(""));
      const json = JSON.parse(files.find((f) => f.name === "plugin-config.json")!.chunks.join("")) as Obj;
      expect((plugin!["spec"] as Obj)["pluginConfig"]).toEqual(json);
      expect(json["rewrite"]).toBe(mode === "dubbo-proxy");
    }
  });

  it("is deterministic: the same input gives byte-identical files", () => {
    const a = generateIstio(examplesModel(), { mode: "tcp", wasm: wasmSources.https });
    const b = generateIstio(examplesModel(), { mode: "tcp", wasm: wasmSources.https });
    expect(a.map((f) => f.chunks.join(""))).toEqual(b.map((f) => f.chunks.join("")));
  });
});

describe("strict proto round trip", () => {
  it("rejects unknown fields, wrong types, unknown enums and doubly-set oneofs, naming the path", () => {
    expect(() => encodeJson(TypeUrl.cluster, { name: "c", conect_timeout: "1s" })).toThrow(/conect_timeout: unknown field of envoy.config.cluster.v3.Cluster/);
    expect(() => encodeJson(TypeUrl.cluster, { name: "c", lb_policy: "FASTEST" })).toThrow(/lb_policy: unknown LbPolicy value "FASTEST"/);
    expect(() => encodeJson(TypeUrl.cluster, { name: 5 })).toThrow(/name: expected a string/);
    expect(() => encodeJson(TypeUrl.cluster, { name: "c", connect_timeout: "soon" })).toThrow(/connect_timeout: expected a duration/);
    expect(() => encodeJson(TypeUrl.tcpProxy, { stat_prefix: "s", cluster: "a", weighted_clusters: { clusters: [] } })).toThrow(/oneof 'cluster_specifier' already set/);
    expect(() =>
      encodeJson("envoy.config.listener.v3.Filter", { name: "f", typed_config: { "@type": TypeUrl.tcpProxy, stat_prefix: "s", clusterr: "x" } }),
    ).toThrow(/typed_config.clusterr: unknown field/);
    expect(() => encodeJson("envoy.config.listener.v3.Filter", { name: "f", typed_config: { "@type": "type.googleapis.com/no.Such" } })).toThrow(/unknown message type/);
  });

  it("enforces the protoc-gen-validate rules Envoy checks: required oneofs and messages, lengths, items, bounds", () => {
    const route = (match: unknown) => ({ name: "r", routes: [{ match, route: { cluster: "c" } }] });
    const dubbo = (rc: unknown) => ({ stat_prefix: "s", multiple_route_config: { route_config: [rc] } });
    expect(() => encodeJson(TypeUrl.dubboProxy, dubbo(route({ method: { name: {} } })))).toThrow(
      /route_config\[0\].routes\[0\].match.method.name: one of exact, prefix, suffix, safe_regex, contains, custom is required/,
    );
    expect(() => encodeJson(TypeUrl.dubboProxy, dubbo({ name: "r", routes: [{ route: { cluster: "c" } }] }))).toThrow(/routes\[0\].match: required field/);
    expect(() => encodeJson(TypeUrl.dubboProxy, { multiple_route_config: { route_config: [] } })).toThrow(/stat_prefix: must be at least 1 character/);
    expect(() => encodeJson(TypeUrl.dubboProxy, dubbo(route({ method: { name: { prefix: "" } } })))).toThrow(/name.prefix: must be at least 1 character/);
    expect(() =>
      encodeJson(TypeUrl.dubboProxy, dubbo({ name: "r", routes: [{ match: { method: { name: { exact: "m" } } }, route: { weighted_clusters: { clusters: [] } } }] })),
    ).toThrow(/weighted_clusters.clusters: needs at least 1 item/);
    expect(() => encodeJson(TypeUrl.dubboProxy, dubbo(route({ method: { name: { exact: "m" } }, headers: [{ name: "", present_match: true }] })))).toThrow(
      /headers\[0\].name: must be at least 1 character/,
    );
    expect(() => encodeJson(TypeUrl.cluster, { name: "c", lb_policy: 99 })).toThrow(/lb_policy: 99 is not a defined LbPolicy value/);
    expect(() => encodeJson(TypeUrl.tcpProxy, { stat_prefix: "s", cluster: "c", max_connect_attempts: 0 })).toThrow(/max_connect_attempts: must be >= 1, got 0/);
  });

  it("accepts JSON (lowerCamel) names as Envoy does and encodes the same bytes", () => {
    const a = encodeJson(TypeUrl.cluster, { name: "c", connect_timeout: "1.5s", lb_policy: "RANDOM" });
    const b = encodeJson(TypeUrl.cluster, { name: "c", connectTimeout: "1.5s", lbPolicy: "RANDOM" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(() => encodeJson(TypeUrl.cluster, { name: "c", connect_timeout: "1s" })).not.toThrow(ProtoJsonError);
  });
});

/** Runs `dubbo-mesh generate ARGV` in this process: its exit code and what it wrote on stderr. */
async function runGenerate(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await cli(["generate", ...argv]), stderr };
  } finally {
    spy.mockRestore();
  }
}

const examples = ["--registry", "file:examples/registry.yaml", "--rules", "examples/rules.yaml"];

describe("generate CLI", () => {
  it("writes the files, byte-identical on a second run", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    expect((await runGenerate([...examples, "--out", a, "--mode", "tcp"])).code).toBe(0);
    expect((await runGenerate(["--registry", `file:${join(packageRoot, "examples", "registry.yaml")}`, "--rules", join(packageRoot, "examples", "rules.yaml"), "--out", b, "--mode", "tcp"])).code).toBe(0);
    const files = readdirSync(a).sort();
    expect(files).toEqual(["destination-rules.yaml", "envoy-filter-tcp.yaml", "envoy-filter-wasm.yaml", "plugin-config.json", "service-entries.yaml"]);
    for (const f of files) expect(readFileSync(join(a, f), "utf8")).toBe(readFileSync(join(b, f), "utf8"));
  });

  it("writes one form of the wasm filter, removing the other form's file, so that kubectl apply -f DIR inserts it once", async () => {
    const dir = join(tmp, "forms");
    expect((await runGenerate([...examples, "--out", dir, "--wasm-form", "wasmplugin"])).code).toBe(0);
    expect(readdirSync(dir)).toContain("wasm-plugin.yaml");
    expect(readdirSync(dir)).not.toContain("envoy-filter-wasm.yaml");
    const r = await runGenerate([...examples, "--out", dir]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toContain("envoy-filter-wasm.yaml");
    expect(readdirSync(dir)).not.toContain("wasm-plugin.yaml");
    expect(r.stderr).not.toMatch(/warning/);
  });

  it("rejects bad usage with exit 2 and bad input with exit 1", async () => {
    const usage = [
      ["--rules", "examples/rules.yaml", "--out", tmp],
      [...examples, "--out", tmp, "--mode", "http"],
      [...examples, "--out", tmp, "--port", "99999"],
      [...examples, "--out", tmp, "--sha256", "xyz"],
      [...examples, "--out", tmp, "--wasm", "https://x.test/f.wasm"],
      [...examples, "--out", tmp, "--wasm", "oci://r.test/f:1"],
      [...examples, "--out", tmp, "--wasm-form", "both"],
      [...examples, "--out", tmp, "--bogus"],
      [...examples, "--out", tmp, "extra"],
    ];
    for (const argv of usage) {
      const r = await runGenerate(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^dubbo-mesh generate: .*\n\nusage: dubbo-mesh generate --registry URI --rules FILE --out DIR \[OPTIONS\]\n/);
    }
    const missing = await runGenerate(["--registry", "file:examples/registry.yaml", "--rules", "examples/missing.yaml", "--out", tmp]);
    expect(missing).toEqual({ code: 1, stderr: expect.stringMatching(/^dubbo-mesh generate: examples\/missing\.yaml: cannot read: ENOENT/) as unknown as string });
    expect((await runGenerate(["--registry", "nacos://x", "--rules", "examples/rules.yaml", "--out", tmp])).code).toBe(1);
    expect(() => parseGenerateArgs(["--registry", "r", "--rules", "r", "--out", "o", "--port", "99999"])).toThrow(/--port: expected an integer 1..65535, got '99999'/);
    expect(() => parseGenerateArgs(["--registry", "r", "--rules", "r", "--out", "o", "--sha256", "xyz"])).toThrow(/64 lower-case hex digits/);
  });

  it("warns about a rule that matches no service, a shadowed rule and a subset that selects no endpoint; --strict fails", async () => {
    const rules = join(tmp, "unused-rules.yaml");
    const doc = (name: string, iface: string, subsets: string) =>
      `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nmetadata: {name: ${name}}\nspec:\n  interface: ${iface}\n  subsets: ${subsets}\n`;
    writeFileSync(
      rules,
      [
        doc("demo", "org.apache.dubbo.demo.DemoService", "[{name: v1, labels: {revision: v1}}, {name: v3, labels: {revision: v3}}]"),
        doc("typo", "org.apache.dubbo.demo.DemoServise", "[]"),
        doc("late", "org.apache.dubbo.demo.*", "[]"),
      ].join("---\n"),
    );
    const argv = ["--registry", "file:examples/registry.yaml", "--rules", rules];
    const warned = await runGenerate([...argv, "--out", join(tmp, "warned")]);
    expect(warned.code).toBe(0);
    expect(warned.stderr.split("\n").filter((l) => l.includes("warning"))).toEqual([
      "dubbo-mesh generate: warning: rule 'typo' (interface org.apache.dubbo.demo.DemoServise) matches no service in the registry",
      "dubbo-mesh generate: warning: rule 'late' (interface org.apache.dubbo.demo.*) applies to no service: the services it matches take the earlier rule 'demo'",
      "dubbo-mesh generate: warning: service org.apache.dubbo.demo.DemoService:1.0.0:: subset 'v3' of rule 'demo' (labels {revision: v3}) selects no endpoint",
    ]);
    const strict = await runGenerate([...argv, "--out", join(tmp, "strict"), "--strict"]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/\ndubbo-mesh generate: --strict: 3 warnings above; nothing written\n$/);
    expect(existsSync(join(tmp, "strict"))).toBe(false);
  });

  it("--wasm: file path, file://, https with sha256, oci", () => {
    expect(parseWasmSource("/opt/f.wasm")).toEqual({ kind: "local", url: "file:///opt/f.wasm", filename: "/opt/f.wasm" });
    expect(parseWasmSource("https://h.test/f.wasm", sha)).toMatchObject({ kind: "remote", host: "h.test" });
    expect(() => parseWasmSource("https://h.test/f.wasm")).toThrow(/needs --sha256/);
    expect(() => parseWasmSource(DEFAULT_WASM_URL, "XYZ")).toThrow(/64 lower-case hex digits/);
    expect(() => parseWasmSource("ftp://h/f.wasm")).toThrow(/unsupported scheme/);
  });
});

describe("envoyfilters/", () => {
  for (const mode of MODES) {
    it(`envoyfilters/${mode} is the current output for examples/`, async () => {
      const out = join(tmp, `examples-${mode}`);
      await generate(exampleArgs(mode, out));
      const dir = join(packageRoot, "envoyfilters", mode);
      const expected = readdirSync(out).sort();
      let committed: string[] = [];
      try {
        committed = readdirSync(dir).sort();
      } catch {
        /* missing folder: reported below */
      }
      const stale = expected.filter((f) => !committed.includes(f) || readFileSync(join(dir, f), "utf8") !== readFileSync(join(out, f), "utf8"));
      const extra = committed.filter((f) => !expected.includes(f));
      expect(
        { stale, extra },
        `envoyfilters/${mode} is out of date with examples/ and the generators; refresh with: ${REFRESH_COMMAND}`,
      ).toEqual({ stale: [], extra: [] });
    });
  }
});
