import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { envoyProtoRoot, protoSource } from "../../control/generate/xds/envoy-protos.js";

/** Whether V8 holds the string in its one-byte form (the serializer tags two-byte strings 'c'). */
function oneByte(s: string): boolean {
  const bytes = serialize(s);
  return bytes[2] === 0x22; // '"': one-byte string (two-byte ones are tagged 'c', after a padding byte)
}

describe("Envoy proto sources", () => {
  const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-proto-"));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, "utf8");
    return path;
  };

  it("typographic characters in // comments become '?' and the text is one-byte", () => {
    const path = write("a.proto", 'syntax = "proto3";\n// the cluster’s “fuzzy” name\nmessage A { string name = 1; } // it’s\n');
    const text = protoSource(path);
    expect(text).toBe('syntax = "proto3";\n// the cluster?s ?fuzzy? name\nmessage A { string name = 1; } // it?s\n');
    expect(oneByte(text)).toBe(true);
  });

  it("a text with such characters anywhere else is left as it is", () => {
    for (const body of ['option (x) = "’"; // it’s\n', "/* it’s */\n", 'string s = 1 [default = "a//’"];\n']) {
      const text = `syntax = "proto2";\n${body}`;
      expect(protoSource(write("b.proto", text))).toBe(text);
    }
    expect(protoSource(write("c.proto", "plain\n"))).toBe("plain\n");
  });

  it("the loaded Envoy names are one-byte strings (Envoy's protos have ’ and “ ” in comments)", () => {
    const root = envoyProtoRoot();
    const names = Object.keys(root.lookupEnum("envoy.config.cluster.v3.Cluster.DiscoveryType").values);
    names.push(...Object.keys(root.lookupType("envoy.config.listener.v3.Listener").fields));
    expect(names.length).toBeGreaterThan(30);
    expect(names.filter((n) => !oneByte(n))).toEqual([]);
  });
});
