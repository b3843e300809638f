import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { RulesFile, loadRulesFile, parseRules } from "../../control/rules/load.js";
import { RulesError, validateRules } from "../../control/rules/validate.js";
import { packageRoot } from "../../common/paths.js";

type Obj = Record<string, unknown>;

/** A valid DubboRoute using every feature; each invalid case below mutates one copy of it. */
function base(): Obj {
  return {
    apiVersion: "dubbo-mesh.io/v1alpha1",
    kind: "DubboRoute",
    metadata: { name: "demo" },
    spec: {
      interface: "org.apache.dubbo.demo.DemoService",
      version: "1.0.0",
      group: "g",
      subsets: [
        { name: "v1", labels: { revision: "v1" } },
        { name: "v2", labels: { revision: "v2" } },
      ],
      routes: [
        {
          name: "gray",
          match: { method: { exact: "sayHello" }, attachments: { "dubbo.tag": { exact: "gray" } }, arguments: { "0": { prefix: "vip-" } } },
          route: [{ subset: "v2" }],
        },
        { name: "split", route: [{ subset: "v1", weight: 90 }, { subset: "v2", weight: 10 }] },
      ],
      deny: [{ method: { prefix: "delete" } }],
      loadBalancer: { consistentHash: { attachment: "user" } },
      timeoutMs: 3000,
    },
  };
}

function mutate(f: (d: any) => void): Obj {
  const d = base();
  f(d);
  return d;
}

const cases: { name: string; doc: Obj; error: RegExp }[] = [
  { name: "wrong apiVersion", doc: mutate((d) => (d.apiVersion = "v1")), error: /document 0 \(demo\): apiVersion: expected "dubbo-mesh.io\/v1alpha1", got string "v1"/ },
  { name: "wrong kind", doc: mutate((d) => (d.kind = "VirtualService")), error: /kind: expected "DubboRoute", got string "VirtualService"/ },
  { name: "no name", doc: mutate((d) => delete d.metadata.name), error: /document 0: metadata.name: expected a DNS-1123 name .*, got nothing/ },
  { name: "bad name", doc: mutate((d) => (d.metadata.name = "Demo Route")), error: /metadata.name: expected a DNS-1123 name/ },
  { name: "unknown top-level key", doc: mutate((d) => (d.specs = {})), error: /: \(document\): unknown field 'specs' \(allowed: apiVersion, kind, metadata, spec\)$/ },
  { name: "unknown spec key", doc: mutate((d) => (d.spec.retries = 3)), error: /: spec: unknown field 'retries' \(allowed: interface, version, group, subsets, routes, deny, loadBalancer, timeoutMs\)$/ },
  { name: "spec not a mapping", doc: mutate((d) => (d.spec = ["x"])), error: /spec: expected a mapping with keys interface, .*, got a list/ },
  { name: "missing interface", doc: mutate((d) => delete d.spec.interface), error: /spec.interface: expected an interface name \(exact, or a prefix glob ending in '\*'\), got nothing/ },
  { name: "glob in the middle", doc: mutate((d) => (d.spec.interface = "org.*.Demo")), error: /spec.interface: expected an interface name .*, got string "org.\*.Demo"/ },
  { name: "version as a YAML number", doc: mutate((d) => (d.spec.version = 1.0)), error: /spec.version: expected a string \(quote numbers that are names, e.g. version: "1.0"\), got number 1/ },
  { name: "subsets not a list", doc: mutate((d) => (d.spec.subsets = { v1: {} })), error: /spec.subsets: expected a list of \{name, labels\}, got a mapping/ },
  { name: "subset name with capitals", doc: mutate((d) => (d.spec.subsets[0].name = "V1")), error: /spec.subsets\[0\].name: expected a subset name \(lower-case letters, digits, '-', at most 63\), got string "V1"/ },
  { name: "duplicate subset", doc: mutate((d) => (d.spec.subsets[1].name = "v1")), error: /spec.subsets\[1\].name: expected a subset name not used before in this document, got string "v1"/ },
  { name: "subset without labels", doc: mutate((d) => (d.spec.subsets[0].labels = {})), error: /spec.subsets\[0\].labels: expected a non-empty mapping label → value/ },
  { name: "label value not a string", doc: mutate((d) => (d.spec.subsets[0].labels.revision = 2)), error: /spec.subsets\[0\].labels.revision: expected a string .*, got number 2/ },
  { name: "route to an undefined subset", doc: mutate((d) => (d.spec.routes[0].route[0].subset = "v3")), error: /spec.routes\[0\].route\[0\].subset: expected one of the subsets defined in spec.subsets \(v1, v2\), got string "v3"/ },
  { name: "negative weight", doc: mutate((d) => (d.spec.routes[1].route[1].weight = -5)), error: /spec.routes\[1\].route\[1\].weight: expected a positive integer, got number -5/ },
  { name: "fractional weight", doc: mutate((d) => (d.spec.routes[1].route[0].weight = 0.5)), error: /spec.routes\[1\].route\[0\].weight: expected a positive integer, got number 0.5/ },
  { name: "missing weight in a split", doc: mutate((d) => delete d.spec.routes[1].route[1].weight), error: /spec.routes\[1\].route\[1\].weight: expected a positive integer \(required when a route has several destinations\)/ },
  { name: "empty destinations", doc: mutate((d) => (d.spec.routes[1].route = [])), error: /spec.routes\[1\].route: expected at least one destination/ },
  { name: "duplicate route name", doc: mutate((d) => (d.spec.routes[1].name = "gray")), error: /spec.routes\[1\].name: expected a route name not used before in this document, got string "gray"/ },
  { name: "two matchers in one", doc: mutate((d) => (d.spec.routes[0].match.method = { exact: "a", prefix: "b" })), error: /spec.routes\[0\].match.method: expected a string match: exactly one of \{exact: S\}, \{prefix: S\}, \{suffix: S\}, \{present: true\}/ },
  { name: "regex matcher", doc: mutate((d) => (d.spec.routes[0].match.method = { regex: "say.*" })), error: /: spec\.routes\[0\]\.match\.method: unknown field 'regex' \(allowed: exact, prefix, suffix, present\)$/ },
  { name: "empty prefix", doc: mutate((d) => (d.spec.routes[0].match.method = { prefix: "" })), error: /spec.routes\[0\].match.method.prefix: expected a non-empty string, got string ""/ },
  { name: "present: false", doc: mutate((d) => (d.spec.routes[0].match.attachments["dubbo.tag"] = { present: false })), error: /match.attachments.dubbo.tag.present: expected true, got boolean false/ },
  { name: "argument index not a number", doc: mutate((d) => (d.spec.routes[0].match.arguments = { first: { exact: "x" } })), error: /spec.routes\[0\].match.arguments: expected argument indexes 0..999, got string "first"/ },
  { name: "unknown match key", doc: mutate((d) => (d.spec.routes[0].match.header = {})), error: /: spec\.routes\[0\]\.match: unknown field 'header' \(allowed: method, attachments, arguments\)$/ },
  { name: "empty deny", doc: mutate((d) => (d.spec.deny = [{}])), error: /spec.deny\[0\]: expected at least one of method, attachments, arguments/ },
  { name: "bad simple load balancer", doc: mutate((d) => (d.spec.loadBalancer = { simple: "FASTEST" })), error: /spec.loadBalancer.simple: expected ROUND_ROBIN, RANDOM or LEAST_REQUEST, got string "FASTEST"/ },
  { name: "two hash keys", doc: mutate((d) => (d.spec.loadBalancer = { consistentHash: { attachment: "u", argument: 0 } })), error: /spec.loadBalancer.consistentHash: expected exactly one of \{attachment: K\}, \{argument: N\}/ },
  { name: "negative hash argument", doc: mutate((d) => (d.spec.loadBalancer = { consistentHash: { argument: -1 } })), error: /spec.loadBalancer.consistentHash.argument: expected an argument index 0..999, got number -1/ },
  { name: "zero timeout", doc: mutate((d) => (d.spec.timeoutMs = 0)), error: /spec.timeoutMs: expected a positive integer number of milliseconds, got number 0/ },
  { name: "timeout as a string", doc: mutate((d) => (d.spec.timeoutMs = "3s")), error: /spec.timeoutMs: expected a positive integer number of milliseconds, got string "3s"/ },
];

describe("DubboRoute validation", () => {
  it("accepts the base document and compiles every part of it", () => {
    const [rule] = validateRules([base()], "rules.yaml");
    expect(rule).toMatchObject({
      name: "demo",
      document: 0,
      interface: "org.apache.dubbo.demo.DemoService",
      version: "1.0.0",
      group: "g",
      deny: [{ name: "deny-0", match: { method: { prefix: "delete" } } }],
      loadBalancer: { consistentHash: { attachment: "user" } },
      timeoutMs: 3000,
    });
    expect(rule!.routes[0]!.route).toEqual([{ subset: "v2", weight: 100 }]);
    expect(rule!.routes[1]!.route).toEqual([{ subset: "v1", weight: 90 }, { subset: "v2", weight: 10 }]);
  });

  for (const c of cases) {
    it(`rejects: ${c.name}`, () => {
      let caught: unknown;
      try {
        validateRules([c.doc], "rules.yaml");
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RulesError);
      // the first problem is the mutation, named with document, path, value and expected shape
      const problems = (caught as RulesError).problems;
      expect(problems[0]).toMatch(/^rules.yaml document 0/);
      expect(problems[0]).toMatch(c.error);
    });
  }

  it("names the document by index and name, and reports every problem of a file", () => {
    const second = mutate((d) => {
      d.metadata.name = "other";
      d.spec.timeoutMs = -1;
      d.spec.routes[1].route[0].weight = "heavy";
    });
    try {
      validateRules([base(), null, second], "r.yaml");
      expect.unreachable();
    } catch (err) {
      const problems = (err as RulesError).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^r.yaml document 2 \(other\): spec.routes\[1\].route\[0\].weight: expected a positive integer, got string "heavy"/);
      expect(problems[1]).toMatch(/^r.yaml document 2 \(other\): spec.timeoutMs/);
    }
  });

  it("rejects two documents with the same name", () => {
    expect(() => validateRules([base(), base()], "r.yaml")).toThrow(/document 1 \(demo\): metadata.name: expected a name not already used by document 0/);
  });

  it("parses the multi-document YAML of examples/rules.yaml, and reports YAML syntax errors with the document", () => {
    const rules = loadRulesFile(join(packageRoot, "examples", "rules.yaml"));
    expect(rules.map((r) => r.name)).toEqual(["demo"]);
    expect(rules[0]!.routes.map((r) => r.name)).toEqual(["gray", "greet-v1", "split"]);
    const two = `${stringify(base())}---\n${stringify(mutate((d) => (d.metadata.name = "b")))}`;
    expect(parseRules(two).map((r) => r.name)).toEqual(["demo", "b"]);
    // YAML errors: one line each, FILE:LINE:COL and the yaml library's message, no code frame or dangling colon
    expect(() => parseRules("apiVersion: [unclosed\n", "bad.yaml")).toThrow(/^bad\.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
    expect(() => parseRules("a: 1\na: 2\n", "dup.yaml")).toThrow(/^dup\.yaml:2:1: Map keys must be unique$/);
    const twoBad = (() => {
      try {
        parseRules("a: 1\na: 2\n---\nb: [x\n", "two.yaml");
      } catch (err) {
        return (err as RulesError).problems;
      }
    })();
    expect(twoBad).toEqual(["two.yaml:2:1: Map keys must be unique", expect.stringMatching(/^two\.yaml:5:1: Flow sequence in block collection/)]);
  });
});

describe("rules file reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-rules-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a bad file at start is an error; a bad edit keeps the last good rules; a good edit replaces them", async () => {
    const path = join(dir, "rules.yaml");
    writeFileSync(path, "kind: Nope\n");
    expect(() => new RulesFile(path, { onRules: () => undefined })).toThrow(RulesError);

    writeFileSync(path, stringify(base()));
    const seen: string[][] = [];
    const errors: string[] = [];
    const file = new RulesFile(path, { onRules: (r) => seen.push(r.map((x) => x.name)), onError: (e) => errors.push(e.message) }, 20);
    try {
      expect(file.rules.map((r) => r.name)).toEqual(["demo"]);
      writeFileSync(path, stringify(mutate((d) => (d.spec.timeoutMs = -1))));
      await waitFor(() => errors.length > 0);
      expect(errors[0]).toMatch(/spec.timeoutMs: expected a positive integer/);
      expect(file.rules.map((r) => r.name)).toEqual(["demo"]);
      expect(file.rules[0]!.timeoutMs).toBe(3000);
      writeFileSync(path, stringify(mutate((d) => (d.metadata.name = "renamed"))));
      await waitFor(() => seen.length > 0);
      expect(file.rules.map((r) => r.name)).toEqual(["renamed"]);
      expect(seen.at(-1)).toEqual(["renamed"]);
      expect(readFileSync(path, "utf8")).toContain("renamed");
    } finally {
      file.close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
