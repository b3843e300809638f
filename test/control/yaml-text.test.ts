import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { LONG_STRING, markFlow, toYamlText, yamlScalar } from "../../control/generate/yaml-text.js";

describe("YAML writer", () => {
  const tricky = [
    "", " ", "a b", "1.0", "1.0.0", "100", "-1", "0x1F", "1e3", "true", "no", "Yes", "null", "~", "-", "- x", "a: b", "a #c", "#x", "[x]", "{x}",
    "*ref", "&anchor", "!tag", "%dir", "@at", "`x`", "|", ">", "'", "x'y", '"', "a\"b", "a\\b", "line\nbreak", "tab\tx", "\u0000", "日本語", "outbound|20880|v1|h.dubbo",
    "127.0.0.1", "::1", "key: value", "a,b", "?", "x?", ":x", "/path", "_u", "é", "\u2028",
  ];

  it("every string reads back as the same string with the yaml package", () => {
    for (const s of tricky) {
      expect(parse(`v: ${yamlScalar(s)}\n`), JSON.stringify(s)).toEqual({ v: s });
      expect(parse(toYamlText({ [s || "k"]: s })), JSON.stringify(s)).toEqual({ [s || "k"]: s });
    }
  });

  it("nested maps, lists, flow maps, empty containers and numbers read back equal", () => {
    const doc = {
      a: { b: [1, -2.5, true, false, null, "x"], c: {}, d: [], e: [[1, 2], [], [{ x: 1 }]] },
      list: [{ k: "v", n: { deep: ["a", { z: "y" }] } }, "s", { only: {} }],
      flow: { revision: "v1", weight: "100", "dubbo.tag": "gray" },
      long: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, `value-${i}`])),
      tricky: Object.fromEntries(tricky.map((s, i) => [`t${i}`, s])),
    };
    expect(parse(toYamlText(doc))).toEqual(doc);
  });

  it("maps marked for flow style stay on one line however long, and read back equal", () => {
    const labels = markFlow(Object.fromEntries(tricky.map((t, i) => [`k${i}`, t])));
    const text = toYamlText({ spec: { endpoints: [{ address: "127.0.0.1", labels }] } });
    expect(text.split("\n").filter((l) => l.includes("labels:"))).toHaveLength(1);
    expect(parse(text)).toEqual({ spec: { endpoints: [{ address: "127.0.0.1", labels }] } });
  });

  it("long one-line strings become literal blocks holding the very string; the others are quoted; all read back equal", () => {
    const pad = "x".repeat(LONG_STRING);
    const json = `{"a":"it's","b":"#c: d","c":"\\u0000","d":"é \u{1F600}","e":"- [x]"}${pad}`;
    const cases = [json, `${pad} trailing  `, `a\tb${pad}`, `@${pad}`, `'${pad}`];
    const refused = [` ${pad}`, `\t${pad}`, `${pad}\n`, `${pad}\u2028`, `${pad}\u0085`, `${pad}\u0007`, `${pad}\ud800`, `\udc00${pad}`, `${pad}\ufeff`];
    for (const v of [...cases, ...refused]) {
      const doc = { spec: { list: [{ value: v, after: 1 }], value: v } };
      const text = toYamlText(doc);
      expect(parse(text), JSON.stringify(v.slice(0, 8))).toEqual(doc);
      expect(text.includes(`: |-\n`)).toBe(cases.includes(v)); // a literal block exactly when it can hold the string
    }
    expect(toYamlText({ v: json })).toMatch(/^v: \|-\n {2}\{"a"/);
    expect(toYamlText({ v: "short{" })).toBe("v: 'short{'\n");
  });

  it("refuses values YAML cannot hold", () => {
    expect(() => yamlScalar(Number.NaN)).toThrow(/cannot write NaN/);
    expect(() => toYamlText({ f: () => 1 } as never)).toThrow(/not a YAML scalar/);
  });
});
