/** The publisher encodes each generated object once, shares an encoding across type URL spellings, and changes nothing when an encoding fails. */
import { describe, expect, it } from "vitest";
import { Publisher } from "../../control/live/publisher.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";

const encodeText = (calls: string[]) => (typeUrl: string, object: object) => {
  const text = JSON.stringify(object);
  calls.push(`${typeUrl} ${text}`);
  if (text.includes("bad")) throw new Error(`cannot encode ${text}`);
  return new TextEncoder().encode(text);
};

describe("Publisher", () => {
  it("encodes a generated object once; an unchanged object is reused and changes nothing", () => {
    const calls: string[] = [];
    const cache = new SnapshotCache();
    const publisher = new Publisher(cache, encodeText(calls));
    const a = { v: 1 };
    const b = { v: 2 };
    const first = publisher.publish(new Map([["t", [{ name: "a", object: a }, { name: "b", object: b, scope: "svc" }]]]));
    expect(first).toEqual({ encoded: 2, changed: { t: { upserted: 2, removed: 0 } } });
    const b2 = { v: 3 };
    const second = publisher.publish(new Map([["t", [{ name: "a", object: a }, { name: "b", object: b2, scope: "svc" }]]]));
    expect(second).toEqual({ encoded: 1, changed: { t: { upserted: 1, removed: 0 } } });
    expect(calls).toHaveLength(3);
    expect(cache.get("t", "b")?.scope).toBe("svc");
    expect(publisher.publish(new Map([["t", [{ name: "a", object: a }]]]))).toEqual({ encoded: 0, changed: { t: { upserted: 0, removed: 1 } } });
  });

  it("shares one encoding between the type URL spellings of one object (MCP), each with its Any type URL", () => {
    const calls: string[] = [];
    const cache = new SnapshotCache();
    const publisher = new Publisher(cache, encodeText(calls), (t) => (t.startsWith("mcp/") ? "type.googleapis.com/istio.mcp.v1alpha1.Resource" : undefined));
    const se = { kind: "ServiceEntry" };
    const result = publisher.publish(new Map([["mcp/v1/ServiceEntry", [{ name: "ns/se", object: se }]], ["mcp/v1beta1/ServiceEntry", [{ name: "ns/se", object: se }]]]));
    expect(result.encoded).toBe(1);
    expect(cache.get("mcp/v1/ServiceEntry", "ns/se")!.bytes).toBe(cache.get("mcp/v1beta1/ServiceEntry", "ns/se")!.bytes);
    expect(cache.get("mcp/v1beta1/ServiceEntry", "ns/se")!.anyTypeUrl).toBe("type.googleapis.com/istio.mcp.v1alpha1.Resource");
  });

  it("changes nothing when one resource cannot be encoded", () => {
    const cache = new SnapshotCache();
    const publisher = new Publisher(cache, encodeText([]));
    publisher.publish(new Map([["t1", [{ name: "a", object: { v: 1 } }]]]));
    const before = cache.version("t1");
    expect(() =>
      publisher.publish(
        new Map([
          ["t1", [{ name: "a", object: { v: 2 } }]],
          ["t2", [{ name: "x", object: { v: "bad" } }]],
        ]),
      ),
    ).toThrow(/cannot encode/);
    expect(cache.version("t1")).toBe(before);
    expect(cache.resources("t2").size).toBe(0);
  });
});
