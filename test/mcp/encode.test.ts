/**
 * The MCP encoding of everything `dubbo-mesh generate` writes for the example model: each object encoded
 * as an istio.mcp.v1alpha1.Resource, decoded with Istio's protos and compared with the YAML object.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { generate, parseGenerateArgs } from "../../control/cli-generate.js";
import { decodeMcpResource } from "../../control/mcp/decode.js";
import { DEFAULT_MCP_NAMESPACE, McpEncodeError, encodeMcpResource, encodeMcpResources } from "../../control/mcp/encode.js";
import { ISTIO_KINDS } from "../../control/mcp/istio-kinds.js";
import { istioMessage, istioProtoDir, istioProtoFiles } from "../../control/mcp/istio-protos.js";

type Obj = Record<string, unknown>;

const tmp = mkdtempSync(join(tmpdir(), "dubbo-mesh-mcp-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const examples = join(packageRoot, "examples");
const variants: { label: string; args: string[]; namespace: string }[] = [
  { label: "dubbo-proxy mode", args: ["--mode", "dubbo-proxy"], namespace: DEFAULT_MCP_NAMESPACE },
  { label: "tcp mode", args: ["--mode", "tcp"], namespace: DEFAULT_MCP_NAMESPACE },
  {
    label: "tcp mode, https module, --namespace dubbo",
    args: ["--mode", "tcp", "--namespace", "dubbo", "--wasm", "https://example.test/dubbo_filter.wasm", "--sha256", "ab".repeat(32), "--wasm-form", "wasmplugin"],
    namespace: "dubbo",
  },
];

/** The objects of every YAML file `dubbo-mesh generate` wrote for a variant. */
const written = new Map<string, Obj[]>();

beforeAll(async () => {
  for (const [i, v] of variants.entries()) {
    const out = join(tmp, String(i));
    // what `dubbo-mesh generate --registry … --rules … --out … ARGS` does
    await generate(parseGenerateArgs(["--registry", `file:${join(examples, "registry.yaml")}`, "--rules", join(examples, "rules.yaml"), "--out", out, ...v.args]));
    const docs: Obj[] = [];
    for (const file of readdirSync(out).filter((f) => f.endsWith(".yaml")).sort()) {
      for (const d of parseAllDocuments(readFileSync(join(out, file), "utf8"))) {
        const o = d.toJS() as Obj | null;
        if (o) docs.push(o);
      }
    }
    written.set(v.label, docs);
  }
});

/**
 * `json` (Istio JSON of message `type`) without the fields proto3 does not put on the wire: enum values
 * numbered 0, "", 0, false, empty lists and maps. Struct contents are kept as they are (a Value is always sent).
 */
function withoutDefaults(type: protobuf.Type, json: Obj): Obj {
  if (type.fullName === ".google.protobuf.Struct") return json;
  const byJsonName = new Map(type.fieldsArray.map((f) => [f.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()), f]));
  const single = (f: protobuf.Field, v: unknown): unknown =>
    f.resolvedType instanceof protobuf.Type && typeof v === "object" && v !== null ? withoutDefaults(f.resolvedType, v as Obj) : v;
  const out: Obj = {};
  for (const [key, value] of Object.entries(json)) {
    const f = byJsonName.get(key);
    if (!f) throw new Error(`test: ${type.name} has no field ${key}`);
    if (f.map) {
      if (Object.keys(value as Obj).length > 0) out[key] = Object.fromEntries(Object.entries(value as Obj).map(([k, v]) => [k, single(f, v)]));
    } else if (f.repeated) {
      if ((value as unknown[]).length > 0) out[key] = (value as unknown[]).map((v) => single(f, v));
    } else if (f.resolvedType instanceof protobuf.Enum) {
      if (f.resolvedType.values[value as string] !== 0) out[key] = value;
    } else if (value !== "" && value !== 0 && value !== false) {
      out[key] = single(f, value);
    }
  }
  return out;
}

describe("MCP encoding of the example model", () => {
  const allKinds = new Set<string>();
  for (const v of variants) {
    it(`${v.label}: every object decodes to the same name, labels and spec as its YAML`, () => {
      const docs = written.get(v.label)!;
      const kinds = new Set<string>();
      for (const doc of docs) {
        const meta = doc["metadata"] as Obj;
        const kind = doc["kind"] as keyof typeof ISTIO_KINDS;
        const r = encodeMcpResource(doc);
        expect(r.kind).toBe(kind);
        expect(r.name).toBe(`${v.namespace}/${meta["name"]}`);
        expect(r.version).toMatch(/^[0-9a-f]{16}$/);

        const back = decodeMcpResource(r.bytes);
        expect(back.name).toBe(r.name);
        expect(back.version).toBe(r.version);
        expect(back.kind).toBe(kind);
        expect(back.bodyTypeUrl).toBe(`type.googleapis.com/${ISTIO_KINDS[kind].message}`);
        expect(back.labels).toEqual(meta["labels"] ?? {});
        expect(back.labels["app.kubernetes.io/managed-by"]).toBe("dubbo-mesh");
        expect(back.annotations).toEqual({});
        expect(back.spec).toEqual(withoutDefaults(istioMessage(ISTIO_KINDS[kind].message), doc["spec"] as Obj));
        kinds.add(kind);
        allKinds.add(kind);
      }
      expect([...kinds]).toEqual(expect.arrayContaining(["DestinationRule", "EnvoyFilter", "ServiceEntry"]));
    });
  }

  it("encodeMcpResources groups a variant's objects by kind, sorted by name, every kind present", () => {
    const docs = written.get("dubbo-proxy mode")!;
    const byKind = encodeMcpResources(docs);
    expect(Object.keys(byKind).sort()).toEqual(Object.keys(ISTIO_KINDS).sort());
    for (const [kind, list] of Object.entries(byKind)) {
      expect(list.map((r) => r.name)).toEqual(docs.filter((d) => d["kind"] === kind).map((d) => `istio-system/${(d["metadata"] as Obj)["name"]}`).sort());
    }
    expect(byKind.ServiceEntry.length).toBeGreaterThan(0);
    const se = docs.find((d) => d["kind"] === "ServiceEntry")!;
    expect(() => encodeMcpResources([se, se])).toThrow(/^two ServiceEntry objects named istio-system\//);
  });

  it("the variants cover all four kinds", () => {
    expect([...allKinds].sort()).toEqual(["DestinationRule", "EnvoyFilter", "ServiceEntry", "WasmPlugin"]);
  });

  it("the decoded objects carry what the deployment depends on (endpoints, subsets, patches, plugin config)", () => {
    const docs = written.get("tcp mode, https module, --namespace dubbo")!.map((d) => decodeMcpResource(encodeMcpResource(d).bytes));
    const se = docs.find((d) => d.kind === "ServiceEntry")!;
    expect(se.spec["resolution"]).toBe("STATIC");
    const endpoints = se.spec["endpoints"] as Obj[];
    expect(endpoints.length).toBeGreaterThan(0);
    expect(endpoints[0]!["ports"]).toEqual({ "tcp-dubbo": expect.any(Number) });
    const ef = docs.find((d) => d.name === "dubbo/dubbo-mesh-tcp")!;
    const patch = (ef.spec["configPatches"] as Obj[])[0]!;
    expect(patch["applyTo"]).toBe("NETWORK_FILTER");
    expect(((patch["patch"] as Obj)["value"] as Obj)["typed_config"]).toMatchObject({ max_early_data_bytes: 65536, upstream_connect_mode: "ON_DOWNSTREAM_DATA" });
    const wp = docs.find((d) => d.kind === "WasmPlugin")!;
    expect(wp.spec).toMatchObject({ type: "NETWORK", url: "https://example.test/dubbo_filter.wasm", sha256: "ab".repeat(32) });
    expect((wp.spec["pluginConfig"] as Obj)["services"]).toEqual(expect.any(Array));
    expect(wp.spec["failStrategy"]).toBeUndefined(); // FAIL_CLOSE is enum value 0: not on the wire, istiod reads it as FAIL_CLOSE
  });
});

/** A minimal valid object; tests mutate copies of it. */
function serviceEntry(): Obj {
  return {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "ServiceEntry",
    metadata: { name: "demo.dubbo", labels: { b: "2", a: "1" } },
    spec: {
      hosts: ["demo.dubbo"],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: 20880, name: "tcp-dubbo", protocol: "TCP" }],
      endpoints: [{ address: "10.0.0.1", ports: { "tcp-dubbo": 20881 }, labels: { version: "1.0.0" } }],
    },
  };
}

describe("encodeMcpResource", () => {
  it("writes Istio's field numbers: Resource{1: metadata{1: name, 3: version, 4: labels}, 2: Any{1: type_url, 2: value}}", () => {
    const object = serviceEntry();
    object["spec"] = { hosts: ["a.b"], resolution: "STATIC" };
    const r = encodeMcpResource(object);
    const top = new protobuf.Reader(r.bytes);
    const fields: Record<number, Uint8Array> = {};
    while (top.pos < top.len) {
      const tag = top.uint32();
      expect(tag & 7).toBe(2); // both fields are length-delimited
      fields[tag >>> 3] = top.bytes();
    }
    expect(Object.keys(fields)).toEqual(["1", "2"]);
    const meta = new protobuf.Reader(fields[1]!);
    expect(meta.uint32()).toBe((1 << 3) | 2);
    expect(meta.string()).toBe("istio-system/demo.dubbo");
    const any = new protobuf.Reader(fields[2]!);
    expect(any.uint32()).toBe((1 << 3) | 2);
    expect(any.string()).toBe("type.googleapis.com/istio.networking.v1alpha3.ServiceEntry");
    expect(any.uint32()).toBe((2 << 3) | 2);
    // ServiceEntry: hosts = 1 (tag 0x0a, length 3, "a.b"), resolution = 5 (tag 0x28) STATIC = 1
    expect(Buffer.from(any.bytes()).toString("hex")).toBe("0a03612e62" + "2801");
  });

  it("versions by content: the same object gives the same version, any change a new one", () => {
    const base = encodeMcpResource(serviceEntry());
    const reordered = serviceEntry();
    (reordered["metadata"] as Obj)["labels"] = { a: "1", b: "2" };
    expect(encodeMcpResource(reordered)).toEqual(base);
    const label = serviceEntry();
    (label["metadata"] as Obj)["labels"] = { a: "1", b: "3" };
    const endpoint = serviceEntry();
    ((endpoint["spec"] as Obj)["endpoints"] as Obj[])[0]!["address"] = "10.0.0.2";
    const versions = new Set([base.version, encodeMcpResource(label).version, encodeMcpResource(endpoint).version]);
    expect(versions.size).toBe(3);
  });

  it("puts objects without a namespace into the default namespace, or the one given", () => {
    expect(encodeMcpResource(serviceEntry()).name).toBe("istio-system/demo.dubbo");
    expect(encodeMcpResource(serviceEntry(), { defaultNamespace: "dubbo" }).name).toBe("dubbo/demo.dubbo");
    const own = serviceEntry();
    (own["metadata"] as Obj)["namespace"] = "apps";
    expect(encodeMcpResource(own, { defaultNamespace: "dubbo" }).name).toBe("apps/demo.dubbo");
  });

  it("accepts every apiVersion Istio serves a kind under", () => {
    for (const version of ["v1", "v1beta1", "v1alpha3"]) {
      expect(encodeMcpResource({ ...serviceEntry(), apiVersion: `networking.istio.io/${version}` }).kind).toBe("ServiceEntry");
    }
  });

  const bad: { what: string; mutate: (o: Obj) => void; error: RegExp }[] = [
    { what: "an unknown spec field", mutate: (o) => ((o["spec"] as Obj)["hostz"] = ["x"]), error: /^ServiceEntry istio-system\/demo\.dubbo: spec\.hostz: unknown field of istio\.networking\.v1alpha3\.ServiceEntry$/ },
    {
      what: "an unknown nested field",
      mutate: (o) => ((((o["spec"] as Obj)["endpoints"] as Obj[])[0]!)["zone"] = "a"),
      error: /^ServiceEntry istio-system\/demo\.dubbo: spec\.endpoints\[0\]\.zone: unknown field of istio\.networking\.v1alpha3\.WorkloadEntry$/,
    },
    { what: "an unknown enum name", mutate: (o) => ((o["spec"] as Obj)["resolution"] = "STATICK"), error: /spec\.resolution: unknown Resolution value "STATICK" \(one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS\)/ },
    { what: "a wrong value type", mutate: (o) => (((o["spec"] as Obj)["ports"] as Obj[])[0]!["number"] = "http"), error: /spec\.ports\[0\]\.number: expected an integer \(uint32\), got string "http"/ },
    { what: "an unknown object field", mutate: (o) => (o["status"] = {}), error: /^ServiceEntry "demo\.dubbo": unknown field status/ },
    { what: "an unknown metadata field", mutate: (o) => ((o["metadata"] as Obj)["uid"] = "1"), error: /unknown field metadata\.uid/ },
    { what: "a name with a slash", mutate: (o) => ((o["metadata"] as Obj)["name"] = "a/b"), error: /metadata\.name must be a DNS-1123 name/ },
    { what: "a label that is not a string", mutate: (o) => ((o["metadata"] as Obj)["labels"] = { a: 1 }), error: /metadata\.labels\.a must be a string, got 1/ },
    { what: "an apiVersion Istio does not serve", mutate: (o) => (o["apiVersion"] = "networking.istio.io/v2"), error: /apiVersion "networking\.istio\.io\/v2" is not one of networking\.istio\.io\/v1, / },
    { what: "a missing spec", mutate: (o) => delete o["spec"], error: /^ServiceEntry istio-system\/demo\.dubbo: spec must be an object, got undefined$/ },
    { what: "a kind we do not encode", mutate: (o) => (o["kind"] = "VirtualService"), error: /kind "VirtualService" is not one of ServiceEntry, DestinationRule, EnvoyFilter, WasmPlugin/ },
  ];
  for (const b of bad) {
    it(`rejects ${b.what}, naming it`, () => {
      const o = serviceEntry();
      b.mutate(o);
      expect(() => encodeMcpResource(o)).toThrow(McpEncodeError);
      expect(() => encodeMcpResource(o)).toThrow(b.error);
    });
  }

  it("rejects an unknown field deep in an EnvoyFilter match, but carries any JSON in a patch value", () => {
    const ef = {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "EnvoyFilter",
      metadata: { name: "f" },
      spec: {
        configPatches: [
          {
            applyTo: "NETWORK_FILTER",
            match: { context: "SIDECAR_OUTBOUND", listener: { portNumber: 20880, filterChain: { filter: { name: "x" } } } },
            patch: { operation: "MERGE", value: { anything: [1, "two", null, { three: true }] } },
          },
        ],
      },
    };
    expect(decodeMcpResource(encodeMcpResource(ef).bytes).spec).toEqual(ef.spec);
    const listener = ef.spec.configPatches[0]!.match.listener as Obj;
    listener["portNumbr"] = 1;
    expect(() => encodeMcpResource(ef)).toThrow(/spec\.configPatches\[0\]\.match\.listener\.portNumbr: unknown field of istio\.networking\.v1alpha3\.EnvoyFilter\.ListenerMatch/);
  });
});

describe("Istio protos", () => {
  it("are found under the package root, as from dist/, and every file loads", () => {
    expect(istioProtoDir).toBe(join(packageRoot, "protos", "istio"));
    for (const f of istioProtoFiles) expect(existsSync(join(istioProtoDir, f))).toBe(true);
    for (const info of Object.values(ISTIO_KINDS)) expect(istioMessage(info.message).fieldsArray.length).toBeGreaterThan(0);
  });
});
