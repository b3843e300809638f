import { describe, expect, it } from "vitest";
import { LogLevel, WasmVmError } from "../../proxy/host/index.js";
import { baseConfig, startFilter } from "./filter-vm.js";

type Json = Record<string, unknown>;
const service0 = (c: Json) => (c.services as Json[])[0];
const route0 = (c: Json) => (service0(c).routes as Json[])[0];

/** One mutation of the valid base configuration and the error it must produce. */
interface BadCase {
  name: string;
  mutate?: (c: Json) => void;
  /** Raw text instead of the mutated base. */
  text?: string;
  error: RegExp;
}

const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

const cases: BadCase[] = [
  { name: "wrong version", mutate: (c) => (c.version = 2), error: /version: expected 1, got the number 2/ },
  { name: "missing version", mutate: (c) => delete c.version, error: /version: missing; expected 1/ },
  { name: "misspelt field", mutate: (c) => (c.rewirte = false), error: /: \(document\): unknown field 'rewirte' \(allowed: version, routeAttachment, rewrite, nonDubbo, maxBodyBytes, defaultCluster, randomSeed, services, revision\)$/ },
  { name: "nonDubbo value", mutate: (c) => (c.nonDubbo = "drop"), error: /nonDubbo: expected "close" or "passthrough", got the string "drop"/ },
  { name: "rewrite not a bool", mutate: (c) => (c.rewrite = "yes"), error: /rewrite: expected true or false, got the string "yes"/ },
  { name: "maxBodyBytes too small", mutate: (c) => (c.maxBodyBytes = 0), error: /maxBodyBytes: expected an integer from 16 to 16777216, got the number 0/ },
  { name: "maxBodyBytes fractional", mutate: (c) => (c.maxBodyBytes = 1000.5), error: /maxBodyBytes: expected an integer from 16 to 16777216, got the number 1000.5/ },
  { name: "empty routeAttachment", mutate: (c) => (c.routeAttachment = ""), error: /routeAttachment: expected a non-empty attachment name/ },
  { name: "services not an array", mutate: (c) => (c.services = {}), error: /services: expected an array of services, got an object/ },
  { name: "services missing", mutate: (c) => delete c.services, error: /services: missing; expected an array of services/ },
  { name: "service not an object", mutate: (c) => (c.services = ["x"]), error: /services\[0\]: expected an object \{"interface"/ },
  { name: "interface missing", mutate: (c) => delete service0(c).interface, error: /services\[0\]\.interface: missing; expected a string/ },
  { name: "interface star inside", mutate: (c) => (service0(c).interface = "org.*.Demo"), error: /services\[0\]\.interface: expected an interface name, or a prefix ending in a single '\*'/ },
  { name: "version not a string", mutate: (c) => (service0(c).version = 1), error: /services\[0\]\.version: expected a string, got the number 1/ },
  { name: "hashKey attachment not a string", mutate: (c) => (service0(c).hashKey = { attachment: 1 }), error: /services\[0\]\.hashKey\.attachment: expected a string, got the number 1/ },
  { name: "hashKey two keys", mutate: (c) => (service0(c).hashKey = { attachment: "u", argument: 0 }), error: /services\[0\]\.hashKey: expected \{"attachment": string\} or \{"argument": integer 0\.\.255\}/ },
  { name: "hashKey argument out of range", mutate: (c) => (service0(c).hashKey = { argument: 300 }), error: /services\[0\]\.hashKey\.argument: expected an integer from 0 to 255, got the number 300/ },
  { name: "regex matcher", mutate: (c) => (route0(c).match = { method: { regex: "say.*" } }), error: /: services\[0\]\.routes\[0\]\.match\.method: unknown field 'regex' \(allowed: exact, prefix, suffix, present\)$/ },
  { name: "two matcher kinds", mutate: (c) => (route0(c).match = { method: { exact: "a", prefix: "b" } }), error: /routes\[0\]\.match\.method: expected an object with exactly one of \{"exact": string\}/ },
  { name: "matcher not an object", mutate: (c) => (route0(c).match = { method: "sayHello" }), error: /routes\[0\]\.match\.method: expected an object with exactly one of .*, got the string "sayHello"/ },
  { name: "present false", mutate: (c) => (route0(c).match = { attachments: { a: { present: false } } }), error: /match\.attachments\.a\.present: expected true/ },
  { name: "exact not a string", mutate: (c) => (route0(c).match = { method: { exact: 3 } }), error: /match\.method\.exact: expected a string, got the number 3/ },
  { name: "unknown match field", mutate: (c) => (route0(c).match = { headers: {} }), error: /: services\[0\]\.routes\[0\]\.match: unknown field 'headers' \(allowed: method, attachments, arguments\)$/ },
  { name: "bad argument index", mutate: (c) => (route0(c).match = { arguments: { first: { exact: "x" } } }), error: /match\.arguments\.first: expected an argument index "0"\.\."255"/ },
  { name: "argument index too large", mutate: (c) => (route0(c).match = { arguments: { "256": { exact: "x" } } }), error: /match\.arguments\.256: expected an argument index/ },
  { name: "no destinations", mutate: (c) => (route0(c).destinations = []), error: /routes\[0\]\.destinations: expected an array of 1 to 64 \{"cluster": string, "weight": integer\}, got an array/ },
  { name: "destinations missing", mutate: (c) => delete route0(c).destinations, error: /routes\[0\]\.destinations: missing; expected an array of 1 to 64/ },
  { name: "negative weight", mutate: (c) => (route0(c).destinations = [{ cluster: "a", weight: -1 }]), error: /routes\[0\]\.destinations\[0\]\.weight: expected an integer from 0 to 1000000, got the number -1/ },
  { name: "weights sum to zero", mutate: (c) => (route0(c).destinations = [{ cluster: "a", weight: 0 }, { cluster: "b", weight: 0 }]), error: /routes\[0\]\.destinations: expected the weights to add up to more than 0/ },
  { name: "empty cluster", mutate: (c) => (route0(c).destinations = [{ cluster: "" }]), error: /destinations\[0\]\.cluster: expected a non-empty cluster name/ },
  { name: "bad route name", mutate: (c) => (route0(c).name = "bad name"), error: /routes\[0\]\.name: expected 1-128 characters from A-Z a-z 0-9 \. _ -/ },
  { name: "deny not an array", mutate: (c) => (service0(c).deny = { name: "x" }), error: /services\[0\]\.deny: expected an array of deny rules, got an object/ },
  { name: "deny unknown field", mutate: (c) => (service0(c).deny = [{ name: "x", action: "close" }]), error: /: services\[0\]\.deny\[0\]: unknown field 'action' \(allowed: name, match\)$/ },
  { name: "randomSeed negative", mutate: (c) => (c.randomSeed = -5), error: /randomSeed: expected an integer from 0 to 9007199254740991, got the number -5/ },
  { name: "not an object", text: "[1,2]", error: /\(document\): expected \{"version": 1, "services": \[\.\.\.\], \.\.\.\} \(see docs\/filter\.md\), got an array/ },
  { name: "truncated JSON", text: '{"version": 1,', error: /invalid JSON at line 1 column 15: expected a member name in double quotes/ },
  { name: "trailing comma", text: '{"version": 1, "services": [],}', error: /invalid JSON at line 1 column 31: expected a member name in double quotes/ },
  { name: "comment", text: '{"version": 1 // one\n}', error: /invalid JSON at line 1 column 15: expected ',' or '}' after an object member/ },
  { name: "duplicate key", text: '{"version": 1,\n "version": 1, "services": []}', error: /invalid JSON at line 2 column 2: duplicate member name "version"/ },
  { name: "leading zero", text: '{"version": 01}', error: /invalid JSON at line 1 column 14: expected ',' or '}'/ },
  { name: "bad escape", text: '{"version": 1, "defaultCluster": "a\\qb", "services": []}', error: /invalid JSON .*unknown escape in a string/ },
  { name: "lone surrogate escape", text: '{"version": 1, "defaultCluster": "\\ud800x", "services": []}', error: /unpaired high surrogate/ },
  { name: "data after the document", text: '{"version": 1, "services": []} x', error: /unexpected data after the end of the JSON document/ },
  { name: "too deep", text: `{"version": 1, "services": [], "x": ${deep(40)}}`, error: /nesting deeper than 32 levels/ },
  { name: "empty", text: "", error: /the plugin configuration is empty; expected a JSON object/ },
];

describe("plugin configuration", () => {
  it("accepts the documented configuration and logs what it configured", async () => {
    const vm = await startFilter(baseConfig());
    const info = vm.logs(LogLevel.Info).map((e) => e.message);
    expect(info).toContain("dubbo-mesh: configured 1 service(s); rewrite on (attachment x-dubbo-mesh-cluster)");
    // Defined at configure time, before any traffic.
    expect(vm.metric("dubbo_mesh.denied.rule.no-deletes")).toBe(0);
  });

  it("accepts the minimal configuration (defaults for every optional field)", async () => {
    const vm = await startFilter({ version: 1, services: [] });
    expect(vm.logs().map((e) => e.message)).toContain("dubbo-mesh: configured 0 service(s); rewrite on (attachment x-dubbo-mesh-cluster)");
  });

  it("accepts UTF-8 and escapes in strings", async () => {
    const c = baseConfig();
    c.defaultCluster = "outbound|20880||\u00e9t\u00e9-\ud83d\ude00";
    const text = JSON.stringify(c).replace("\u00e9t\u00e9", "\\u00e9t\\u00e9");
    await expect(startFilter(text)).resolves.toBeDefined();
  });

  it.each(cases)("rejects $name with a message naming the field and the expected shape", async ({ mutate, text, error }) => {
    let doc = text;
    if (doc === undefined) {
      const c = baseConfig();
      mutate!(c);
      doc = JSON.stringify(c);
    }
    const started = startFilter(doc);
    await expect(started).rejects.toThrow(WasmVmError);
    await expect(started).rejects.toThrow(/dubbo-mesh: invalid plugin configuration: /);
    await expect(started).rejects.toThrow(error);
  });

  it.each([
    ["a stray byte", [0xff, 0x7b, 0x7d], 0],
    ["a truncated sequence", [...Buffer.from('{"a":"'), 0xc3, 0x22, 0x7d], 6],
    ["an encoded surrogate", [...Buffer.from('{"'), 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d], 2],
    ["an overlong form", [...Buffer.from('{"version": 1, "x": "'), 0xc0, 0xaf, 0x22, 0x7d], 21],
  ])("rejects a configuration that is not UTF-8 (%s) naming the byte", async (_name, bytes, offset) => {
    await expect(startFilter(Uint8Array.from(bytes))).rejects.toThrow(`dubbo-mesh: invalid plugin configuration: the plugin configuration is not valid UTF-8 (byte ${offset})`);
  });

  it("keeps the last good configuration when a reconfiguration is rejected", async () => {
    const vm = await startFilter(baseConfig());
    const bad = baseConfig();
    bad.version = 3;
    await expect(vm.reconfigure({ pluginConfig: JSON.stringify(bad) })).rejects.toThrow(/version: expected 1, got the number 3/);
    expect(vm.generation).toBe(1);
  });
});
