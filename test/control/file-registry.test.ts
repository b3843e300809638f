import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createRegistry, registerRegistry, registeredSchemes, type Provider } from "../../control/registry/index.js";
import { parseProviderUrl } from "../../control/registry/provider-url.js";
import { packageRoot } from "../../common/paths.js";

const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-file-registry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const A = "dubbo://127.0.0.1:20881/org.apache.dubbo.demo.DemoService?version=1.0.0&revision=v1";
const B = "dubbo://127.0.0.1:20882/org.apache.dubbo.demo.DemoService?version=1.0.0&revision=v2";

function yaml(...urls: string[]): string {
  return `providers:\n${urls.map((u) => `  - ${u}\n`).join("")}`;
}

async function waitFor(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`not seen within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("provider URLs", () => {
  it("parse the Java Dubbo form and the sofa-rpc-node form", () => {
    const java = parseProviderUrl(
      "dubbo://172.18.0.9:20880/org.apache.dubbo.samples.basic.api.DemoService?anyhost=true&application=demo-provider&dubbo=2.0.2&interface=org.apache.dubbo.samples.basic.api.DemoService&methods=testVoid,sayHello&side=provider&weight=7",
    );
    expect(java.ok && java.provider).toMatchObject({ host: "172.18.0.9", port: 20880, interface: "org.apache.dubbo.samples.basic.api.DemoService", version: "", group: "", weight: 7 });
    const sofa = parseProviderUrl("dubbo://127.0.0.1:12200?interface=com.example.Echo&version=1.0&group=SOFA&language=nodejs");
    expect(sofa.ok && sofa.provider).toMatchObject({ host: "127.0.0.1", port: 12200, interface: "com.example.Echo", version: "1.0", group: "SOFA" });
    const v6 = parseProviderUrl("dubbo://[::1]:20880/a.B?version=0.0.0");
    expect(v6.ok && v6.provider).toMatchObject({ host: "::1", version: "" });
  });

  it("keep every param in URL order; a repeated param answers its last value", () => {
    const p = parseProviderUrl("dubbo://127.0.0.1:1/a.B?x=1&y=2&x=3&z=&w");
    if (!p.ok) throw new Error(p.error);
    expect([...p.provider.params]).toEqual([["y", "2"], ["x", "3"], ["z", ""], ["w", ""]]);
    expect(p.provider.params.get("x")).toBe("3");
    expect(p.provider.params.size).toBe(4);
    expect(p.provider.params.has("nope")).toBe(false);
    const decoded = parseProviderUrl("dubbo://127.0.0.1:1/a.B?k%20=v%2Cw+x");
    expect(decoded.ok && decoded.provider.params.get("k ")).toBe("v,w x");
  });

  it("decode each URL on its own, whatever the URL before it held (encoded text equal to a previous value, shifted params)", () => {
    const params = (u: string) => {
      const p = parseProviderUrl(u);
      if (!p.ok) throw new Error(p.error);
      return [...p.provider.params];
    };
    const seq: [string, [string, string][]][] = [
      ["dubbo://h:1/a.B?k=a%2Bb&m=x%20y&n=1", [["k", "a+b"], ["m", "x y"], ["n", "1"]]],
      ["dubbo://h:1/a.B?k=a+b&m=x%2520y&n=1", [["k", "a b"], ["m", "x%20y"], ["n", "1"]]],
      ["dubbo://h:1/a.B?k=a b&m=x%20y&n=1", [["k", "a b"], ["m", "x y"], ["n", "1"]]],
      ["dubbo://h:1/a.B?extra&k=a%20b&m=&n=12", [["extra", ""], ["k", "a b"], ["m", ""], ["n", "12"]]],
      ["dubbo://h:1/a.B?k&m=x&n=1", [["k", ""], ["m", "x"], ["n", "1"]]],
    ];
    for (const [u, want] of seq) expect(params(u), u).toEqual(want);
    // same URLs in reverse order: the same answers
    for (const [u, want] of [...seq].reverse()) expect(params(u), u).toEqual(want);
    expect(parseProviderUrl("dubbo://h:1/a.B?k=%E0%A4%A").ok).toBe(false);
  });

  it("parse a URL after a similar one as they parse it alone (repeated, shifted, partly equal and encoded params)", () => {
    const q = (query: string) => `dubbo://h:1/a.B?${query}`;
    const alone = (u: string) => {
      parseProviderUrl("dubbo://h:1/a.B"); // no query: nothing to reuse
      const p = parseProviderUrl(u);
      if (!p.ok) throw new Error(p.error);
      return [...p.provider.params].map(([k, v]) => `${k}=${v}`);
    };
    const pairs: [string, string][] = [
      ["a=1&a=2&a=3&a=4", "a=1&a=2&a=4"], // repeated keys, one removed
      ["a=1&a=1&a=1&a=1", "a=1&a=1&a=1"],
      ["a=1&b=2&a=1&b=2", "a=1&b=2"],
      ["pid=1&x=2", "pid=12&x=2"], // a value that only starts the same
      ["x=1&pid=2", "x=1&pid=23"],
      ["a=1&b=2&c=3", "a=1&c=3"],
      ["a=1&c=3", "a=1&b=2&c=3"],
      ["a=1&&=z&b=2", "a=1&&=z&q&b=2"], // empty segments, empty keys, a key without a value
      ["a=1&b=2", "a=1&b=2"],
      ["a=1", "b=1&a=1"],
      ["k=a%20b&m=1", "k=a%20b&m=2"],
      ["m=1&k=a%20b", "m=2&k=a%20b"],
    ];
    for (const [before, after] of pairs) {
      const want = alone(q(after));
      expect(parseProviderUrl(q(before)).ok).toBe(true);
      const p = parseProviderUrl(q(after));
      expect(p.ok && [...p.provider.params].map(([k, v]) => `${k}=${v}`), `${before} then ${after}`).toEqual(want);
    }
    expect(alone(q("a=1&a=2&a=4"))).toEqual(["a=4"]); // the last of repeated keys wins
  });

  it("reject malformed ones with a message quoting the URL, and skip disabled or foreign ones", () => {
    const cases: [string, RegExp][] = [
      ["dubbo://127.0.0.1/a.B", /"dubbo:\/\/127.0.0.1\/a.B": no port/],
      ["dubbo://127.0.0.1:70000/a.B", /port|not a URL/],
      ["dubbo://127.0.0.1:20880", /no interface/],
      ["dubbo://127.0.0.1:20880/not a type", /not a Java type name/],
      ["dubbo://127.0.0.1:20880/a.B?weight=heavy", /weight 'heavy'/],
      ["dubbo://127.0.0.1:20880/a.B?category=consumers", /category 'consumers'/],
      ["%%%", /not a URL/],
    ];
    for (const [url, re] of cases) {
      const p = parseProviderUrl(url);
      expect(p.ok, url).toBe(false);
      if (!p.ok) {
        expect(p.error).toMatch(re);
        expect(p.error).toContain(JSON.stringify(url));
      }
    }
    const disabled = parseProviderUrl("dubbo://127.0.0.1:20880/a.B?enabled=false");
    expect(!disabled.ok && disabled.skip).toBe("disabled");
    const tri = parseProviderUrl("tri://127.0.0.1:20880/a.B");
    expect(!tri.ok && tri.skip).toBe("protocol");
  });
});

describe("registry by scheme", () => {
  it("chooses the adapter by the URI scheme; unknown schemes are named", () => {
    expect(registeredSchemes()).toEqual(expect.arrayContaining(["file", "zookeeper"]));
    expect(() => createRegistry("nacos://127.0.0.1:8848")).toThrow(/unknown scheme 'nacos' \(known: .*file.*zookeeper/);
    expect(() => createRegistry("no-scheme-here")).toThrow(/no scheme/);
    const made: string[] = [];
    registerRegistry("test-mem", (target) => {
      made.push(target);
      return { uri: target, start: async () => undefined, providers: () => [], close: async () => undefined };
    });
    createRegistry("test-mem://x/y");
    expect(made).toEqual(["//x/y"]);
  });
});

describe("file registry", () => {
  it("reads examples/registry.yaml", async () => {
    const r = createRegistry(`file:${join(packageRoot, "examples", "registry.yaml")}`);
    await r.start();
    expect(r.providers().map((p) => [p.port, p.params.get("revision")])).toEqual([
      [20881, "v1"],
      [20882, "v2"],
    ]);
    await r.close();
  });

  it("follows the file: additions and removals are published; a bad file keeps the last good providers", async () => {
    const path = join(dir, "registry.yaml");
    writeFileSync(path, yaml(A));
    const updates: (readonly Provider[])[] = [];
    const warnings: string[] = [];
    const r = createRegistry(`file:${path}`, { onUpdate: (p) => updates.push(p), onWarning: (m) => warnings.push(m) });
    await r.start();
    try {
      expect(r.providers().map((p) => p.url)).toEqual([A]);
      writeFileSync(path, yaml(A, B));
      await waitFor("B added", () => r.providers().length === 2);
      expect(updates.at(-1)!.map((p) => p.url)).toEqual([A, B]);

      writeFileSync(path, "providers: [unclosed\n");
      await waitFor("a warning for the broken file", () => warnings.some((w) => /registry\.yaml:\d+:\d+: /.test(w)));
      expect(warnings.at(-1)).toMatch(/registry\.yaml:\d+:\d+: [^\n]*keeping the last good providers/);
      expect(r.providers().map((p) => p.url)).toEqual([A, B]);

      writeFileSync(path, "providers: {a: 1}\n");
      await waitFor("a warning for the wrong shape", () => warnings.some((w) => w.includes("expected a list")));
      expect(r.providers()).toHaveLength(2);

      writeFileSync(path, yaml(B, "dubbo://127.0.0.1/no.Port"));
      await waitFor("A removed", () => r.providers().length === 1);
      expect(r.providers()[0]!.url).toBe(B);
      expect(warnings.some((w) => w.includes('malformed provider URL "dubbo://127.0.0.1/no.Port": no port'))).toBe(true);
    } finally {
      await r.close();
    }
  });

  it("a file that cannot be read at start is an error", async () => {
    const r = createRegistry(`file:${join(dir, "missing.yaml")}`);
    await expect(r.start()).rejects.toThrow(/missing.yaml: cannot read/);
    writeFileSync(join(dir, "odd.yaml"), "servers: []\n");
    await expect(createRegistry(`file:${join(dir, "odd.yaml")}`).start()).rejects.toThrow(/odd\.yaml: \(document\): unknown field 'servers' \(allowed: providers\)$/);
  });
});
