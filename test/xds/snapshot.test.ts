import { describe, expect, it } from "vitest";
import { SnapshotCache, contentHash, makeResource, setVersion, type SnapshotChange } from "../../control/xds/snapshot.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { inPushOrder, isFullStateType } from "../../control/xds/type-urls.js";
import { nodeScope } from "../../control/xds/node-scope.js";
import { clusterResource, endpointResource } from "../support/xds-resources.js";

const EDS = XdsTypeUrl.endpoint;

describe("SnapshotCache", () => {
  it("versions a resource by the hash of its bytes and a type by its set of name:version pairs", () => {
    const a = endpointResource("a", [1]);
    expect(a.version).toBe(contentHash(a.bytes));
    expect(endpointResource("a", [1]).version).toBe(a.version);
    expect(endpointResource("a", [2]).version).not.toBe(a.version);

    // two caches filled in different orders (two replicas) agree on every version
    const one = new SnapshotCache();
    one.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const two = new SnapshotCache();
    two.update(EDS, [endpointResource("b", [2])]);
    two.update(EDS, [endpointResource("a", [1])]);
    expect(two.version(EDS)).toBe(one.version(EDS));
    expect(one.version(EDS)).toBe(setVersion(one.resources(EDS).values()));
    expect(one.version(EDS)).not.toBe(one.version(XdsTypeUrl.cluster));

    // the type version is kept up to date per change: a change and its undoing give the first version back
    const first = one.version(EDS);
    one.update(EDS, [endpointResource("a", [5])], ["b"]);
    expect(one.version(EDS)).not.toBe(first);
    expect(one.version(EDS)).toBe(setVersion([endpointResource("a", [5])]));
    one.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    expect(one.version(EDS)).toBe(first);
    one.setType(EDS, []);
    expect(one.version(EDS)).toBe(new SnapshotCache().version(EDS));
  });

  it("reports only effective changes to its listeners", () => {
    const cache = new SnapshotCache();
    const changes: SnapshotChange[] = [];
    cache.onChange((c) => changes.push(c));
    expect(cache.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])])?.upserted).toEqual(["a", "b"]);
    expect(cache.update(EDS, [endpointResource("a", [1])])).toBeUndefined(); // same bytes
    expect(cache.update(EDS, [], ["nope"])).toBeUndefined(); // removing what is not there
    const change = cache.update(EDS, [endpointResource("a", [3])], ["b"])!;
    expect(change).toMatchObject({ typeUrl: EDS, upserted: ["a"], removed: ["b"] });
    expect(cache.version(EDS)).toBe(setVersion([endpointResource("a", [3])]));
    expect(changes).toHaveLength(2);
    // a new scope with the same bytes is a change (it decides who receives the resource)
    expect(cache.update(EDS, [endpointResource("a", [3], "svc")])?.upserted).toEqual(["a"]);
  });

  it("setType replaces the whole type", () => {
    const cache = new SnapshotCache();
    cache.update(XdsTypeUrl.cluster, [clusterResource("a"), clusterResource("b")]);
    const change = cache.setType(XdsTypeUrl.cluster, [clusterResource("b"), clusterResource("c")])!;
    expect(change.upserted).toEqual(["c"]);
    expect(change.removed).toEqual(["a"]);
    expect([...cache.resources(XdsTypeUrl.cluster).keys()].sort()).toEqual(["b", "c"]);
    expect(cache.setType(XdsTypeUrl.cluster, [clusterResource("c"), clusterResource("b")])).toBeUndefined();
  });

  it("rejects bad input with errors naming it", () => {
    const cache = new SnapshotCache();
    expect(() => cache.update(EDS, [clusterResource("a")])).toThrow(/resource 'a' has type .*Cluster, not .*ClusterLoadAssignment/);
    expect(() => cache.update(EDS, [endpointResource("a", [1]), endpointResource("a", [2])])).toThrow(/'a' given twice/);
    expect(() => cache.update(EDS, [endpointResource("a", [1])], ["a"])).toThrow(/'a' both upserted and removed/);
    expect(() => makeResource(EDS, "", new Uint8Array())).toThrow(/needs a name/);
    expect(() => cache.update("", [])).toThrow(/type URL must not be empty/);
  });
});

describe("type URLs", () => {
  it("orders pushes make-before-break and knows which types are full-state", () => {
    const order = inPushOrder([
      "networking.istio.io/v1alpha3/ServiceEntry",
      XdsTypeUrl.extensionConfig,
      XdsTypeUrl.listener,
      XdsTypeUrl.dubboRoute,
      XdsTypeUrl.endpoint,
      XdsTypeUrl.cluster,
      XdsTypeUrl.route,
    ]);
    expect(order).toEqual([
      XdsTypeUrl.cluster,
      XdsTypeUrl.endpoint,
      XdsTypeUrl.listener,
      XdsTypeUrl.route,
      XdsTypeUrl.dubboRoute,
      XdsTypeUrl.extensionConfig,
      "networking.istio.io/v1alpha3/ServiceEntry",
    ]);
    expect(isFullStateType(XdsTypeUrl.listener)).toBe(true);
    expect(isFullStateType(XdsTypeUrl.cluster)).toBe(true);
    expect(isFullStateType("networking.istio.io/v1alpha3/ServiceEntry")).toBe(true);
    expect(isFullStateType(XdsTypeUrl.endpoint)).toBe(false);
    expect(isFullStateType(XdsTypeUrl.dubboRoute)).toBe(false);
    expect(isFullStateType(XdsTypeUrl.extensionConfig)).toBe(false);
  });
});

describe("nodeScope", () => {
  it("reads DUBBO_MESH_SERVICES as a list or a comma-separated string, with prefix globs", () => {
    expect(nodeScope({})).toBeUndefined();
    const list = nodeScope({ DUBBO_MESH_SERVICES: ["org.demo.A", "org.other.*"] })!;
    expect(list.matches("org.demo.A")).toBe(true);
    expect(list.matches("org.demo.AB")).toBe(false);
    expect(list.matches("org.other.X")).toBe(true);
    const text = nodeScope({ DUBBO_MESH_SERVICES: " org.demo.A , org.b.* ," })!;
    expect(text.patterns).toEqual(["org.demo.A", "org.b.*"]);
    expect(nodeScope({ DUBBO_MESH_SERVICES: "*" })!.matches("anything")).toBe(true);
    expect(nodeScope({ DUBBO_MESH_SERVICES: [] })!.matches("x")).toBe(false);
    expect(() => nodeScope({ DUBBO_MESH_SERVICES: [1] })).toThrow(/DUBBO_MESH_SERVICES must be a list of interface names .* got \[1\]/);
  });
});
