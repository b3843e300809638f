/**
 * The SotW protocol rules of the ADS server, each against a real grpc-js client on loopback.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AdsServer } from "../../control/xds/ads-server.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";
import type { PushEvent } from "../../control/xds/stream-state.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { AdsTestClient, type SotwResponse } from "../support/ads-client.js";
import { clusterResource, endpointPorts, endpointResource, listenerResource, opaqueResource, resourceName } from "../support/xds-resources.js";

const CDS = XdsTypeUrl.cluster;
const EDS = XdsTypeUrl.endpoint;
const LDS = XdsTypeUrl.listener;

const open: { server: AdsServer; client: AdsTestClient }[] = [];

async function setup(snapshot = new SnapshotCache(), pushes: PushEvent[] = []) {
  const server = new AdsServer(snapshot, { hooks: { onPush: (e) => pushes.push(e) } });
  const port = await server.start();
  const client = new AdsTestClient(`127.0.0.1:${port}`);
  open.push({ server, client });
  return { snapshot, server, client, port, pushes };
}

afterEach(async () => {
  for (const { server, client } of open.splice(0)) {
    client.close();
    await server.stop();
  }
});

const names = (r: SotwResponse) => r.resources.map((a) => resourceName(r.type_url, a.value)).sort();

describe("ADS SotW", () => {
  it("answers wildcard CDS and LDS with the full state, a version per type and a nonce per response", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(CDS, [clusterResource("a"), clusterResource("b")]);
    snapshot.update(LDS, [listenerResource("l", 20880)]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(CDS);
    s.subscribe(LDS);
    const cds = await s.nextOf(CDS);
    const lds = await s.nextOf(LDS);
    expect(names(cds)).toEqual(["a", "b"]);
    expect(cds.resources.every((a) => a.type_url === CDS)).toBe(true);
    // each Any holds exactly the snapshot's bytes
    for (const a of cds.resources) expect(Buffer.from(a.value)).toEqual(Buffer.from(snapshot.get(CDS, resourceName(CDS, a.value))!.bytes));
    expect(names(lds)).toEqual(["l"]);
    expect(cds.version_info).toBe(snapshot.version(CDS));
    expect(lds.version_info).toBe(snapshot.version(LDS));
    expect(cds.version_info).not.toBe(lds.version_info);
    expect(cds.nonce).not.toBe(lds.nonce);
    s.ack(cds);
    s.ack(lds);

    // a changed cluster: the whole CDS state again, under a new version; LDS untouched
    snapshot.update(CDS, [clusterResource("b", 5)], ["a"]);
    const cds2 = await s.nextOf(CDS);
    expect(names(cds2)).toEqual(["b"]);
    expect(cds2.version_info).toBe(snapshot.version(CDS));
    expect(cds2.version_info).not.toBe(cds.version_info);
    expect(cds2.nonce).not.toBe(cds.nonce);
    s.ack(cds2);
    expect(await s.barrier()).toEqual([]);
  });

  it("sends nothing when nothing changed: after an ACK, and for an update that changes no bytes", async () => {
    const { snapshot, client, pushes } = await setup();
    snapshot.update(CDS, [clusterResource("a")]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(CDS);
    s.ack(await s.nextOf(CDS));
    snapshot.update(CDS, [clusterResource("a")]);
    s.subscribe(CDS); // a repeated request with the same names and version
    expect(await s.barrier()).toEqual([]);
    expect(pushes.filter((p) => p.typeUrl === CDS)).toHaveLength(1);
  });

  it("ignores a request with a stale nonce", async () => {
    const { snapshot, client, server } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(EDS, ["a"]);
    const first = await s.nextOf(EDS);
    snapshot.update(EDS, [endpointResource("a", [3])]);
    const second = await s.nextOf(EDS);
    expect(second.nonce).not.toBe(first.nonce);
    // the client answers the first response late, asking for b: stale, so neither ACK nor subscription change
    s.send({ type_url: EDS, resource_names: ["a", "b"], version_info: first.version_info, response_nonce: first.nonce });
    expect(await s.barrier()).toEqual([]);
    const type = server.status().streams[0]!.types[EDS]!;
    expect(type.names).toEqual(["a"]);
    expect(type.lastAck).toBeUndefined();
    // the same request with the latest nonce is honoured
    s.send({ type_url: EDS, resource_names: ["a", "b"], version_info: second.version_info, response_nonce: second.nonce });
    const third = await s.nextOf(EDS);
    expect(names(third)).toEqual(["b"]);
    expect(server.status().streams[0]!.types[EDS]!.lastAck).toMatchObject({ version: second.version_info, nonce: second.nonce });
  });

  it("detects a NACK by error_detail and resends nothing until the type changes", async () => {
    const { snapshot, client, server } = await setup();
    snapshot.update(CDS, [clusterResource("a")]);
    snapshot.update(EDS, [endpointResource("a", [1])]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(CDS);
    s.ack(await s.nextOf(CDS));
    s.subscribe(EDS, ["a"]);
    s.ack(await s.nextOf(EDS));
    snapshot.update(CDS, [clusterResource("a", 2)]);
    snapshot.update(EDS, [endpointResource("a", [2])]);
    const badCds = await s.nextOf(CDS);
    const badEds = await s.nextOf(EDS);
    s.nack(badCds, "cluster a: bad connect_timeout");
    s.nack(badEds, "endpoint a: bad port");
    expect(await s.barrier()).toEqual([]); // no resend loop
    const status = server.status();
    const cds = status.streams[0]!.types[CDS]!;
    expect(cds.lastNack).toMatchObject({ nonce: badCds.nonce, message: "cluster a: bad connect_timeout", code: 3 });
    expect(cds.lastAck?.version).not.toBe(badCds.version_info);
    expect(status.counters.nacks).toEqual({ [CDS]: 1, [EDS]: 1 });
    // a new version is sent
    snapshot.update(CDS, [clusterResource("a", 3)]);
    const fixed = await s.nextOf(CDS);
    expect(fixed.version_info).not.toBe(badCds.version_info);
    snapshot.update(EDS, [endpointResource("a", [3])]);
    expect(endpointPorts((await s.nextOf(EDS)).resources[0]!.value)).toEqual([3]);
  });

  it("remembers EDS names that do not exist yet and sends them when they appear, alone", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1])]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(EDS, ["a", "later"]);
    const r1 = await s.nextOf(EDS);
    expect(names(r1)).toEqual(["a"]);
    s.ack(r1);
    snapshot.update(EDS, [endpointResource("later", [7]), endpointResource("unwanted", [8])]);
    const r2 = await s.nextOf(EDS);
    expect(names(r2)).toEqual(["later"]);
    expect(endpointPorts(r2.resources[0]!.value)).toEqual([7]);
    s.ack(r2);
    // a change of a resource not subscribed sends nothing
    snapshot.update(EDS, [endpointResource("unwanted", [9])]);
    expect(await s.barrier()).toEqual([]);
  });

  it("answers newly subscribed names even when unchanged, and again after an unsubscribe", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const s = client.sotw({ id: "n1" });
    s.subscribe(EDS, ["a"]);
    s.ack(await s.nextOf(EDS));
    s.subscribe(EDS, ["a", "b"]);
    const r = await s.nextOf(EDS);
    expect(names(r)).toEqual(["b"]);
    s.ack(r);
    s.subscribe(EDS, ["b"]); // unsubscribe a: nothing to send
    expect(await s.barrier()).toEqual([]);
    snapshot.update(EDS, [endpointResource("a", [5])]); // no longer subscribed
    expect(await s.barrier()).toEqual([]);
    s.subscribe(EDS, ["a", "b"]);
    expect(names(await s.nextOf(EDS))).toEqual(["a"]);
  });

  it("pushes one change in make-before-break order: CDS, EDS, LDS, then DRDS, ECDS and other types", async () => {
    const { snapshot, client } = await setup();
    const drds = XdsTypeUrl.dubboRoute;
    const ecds = XdsTypeUrl.extensionConfig;
    const mcp = "networking.istio.io/v1alpha3/ServiceEntry";
    const s = client.sotw({ id: "n1" });
    for (const [type, subscription] of [
      [mcp, []],
      [ecds, ["dubbo-filter"]],
      [drds, ["routes"]],
      [LDS, []],
      [EDS, ["a"]],
      [CDS, []],
    ] as const) {
      s.subscribe(type, [...subscription]);
    }
    // the full-state types are answered at once (empty), the named ones have nothing yet
    for (const type of [mcp, LDS, CDS]) s.ack(await s.nextOf(type));
    // one rebuild, written in the reverse order
    snapshot.update(mcp, [opaqueResource(mcp, "default/a", "se")]);
    snapshot.update(ecds, [opaqueResource(ecds, "dubbo-filter", "cfg")]);
    snapshot.update(drds, [opaqueResource(drds, "routes", "r")]);
    snapshot.update(LDS, [listenerResource("l", 1)]);
    snapshot.update(EDS, [endpointResource("a", [1])]);
    snapshot.update(CDS, [clusterResource("a")]);
    const order = [];
    for (let i = 0; i < 6; i++) order.push((await s.next()).type_url);
    expect(order).toEqual([CDS, EDS, LDS, drds, ecds, mcp]);
  });

  it("answers every subscribed unknown type (MCP), empty or not, as full state", async () => {
    const { snapshot, client } = await setup();
    const se = "networking.istio.io/v1alpha3/ServiceEntry";
    const dr = "networking.istio.io/v1alpha3/DestinationRule";
    const mcpResource = "type.googleapis.com/istio.mcp.v1alpha1.Resource";
    snapshot.update(se, [opaqueResource(se, "ns/a", "a", { anyTypeUrl: mcpResource }), opaqueResource(se, "ns/b", "b", { anyTypeUrl: mcpResource })]);
    const s = client.sotw({ id: "istiod" });
    s.subscribe(se);
    s.subscribe(dr);
    const r1 = await s.nextOf(se);
    const r2 = await s.nextOf(dr);
    expect(r1.resources.map((a) => Buffer.from(a.value).toString()).sort()).toEqual(["a", "b"]);
    expect(r1.resources.every((a) => a.type_url === mcpResource)).toBe(true);
    expect(r2.resources).toEqual([]);
    expect(r2.version_info).toBe(snapshot.version(dr));
    s.ack(r1);
    s.ack(r2);
    snapshot.update(se, [], ["ns/a"]);
    const r3 = await s.nextOf(se);
    expect(r3.resources.map((a) => Buffer.from(a.value).toString())).toEqual(["b"]); // full state: a is gone
  });

  it("sends nothing to a client reconnecting with the current version, on this replica or another", async () => {
    const fill = (snapshot: SnapshotCache) => snapshot.update(CDS, [clusterResource("a"), clusterResource("b", 2)]);
    const { snapshot, client } = await setup();
    fill(snapshot);
    const s1 = client.sotw({ id: "n1" });
    s1.subscribe(CDS);
    const r = await s1.nextOf(CDS);
    s1.ack(r);
    await s1.close();

    const again = client.sotw({ id: "n1" });
    again.subscribe(CDS, [], { version: r.version_info });
    expect(await again.barrier()).toEqual([]);

    // another replica, with the same model built independently (resources in another order)
    const other = new SnapshotCache();
    other.update(CDS, [clusterResource("b", 2)]);
    other.update(CDS, [clusterResource("a")]);
    const replica = await setup(other);
    const moved = replica.client.sotw({ id: "n1" });
    moved.subscribe(CDS, [], { version: r.version_info });
    expect(await moved.barrier()).toEqual([]);
    // and a change after the reconnect is pushed as usual
    other.update(CDS, [clusterResource("c")]);
    expect(names(await moved.nextOf(CDS))).toEqual(["a", "b", "c"]);
    // a client that holds an older version gets the state at once
    const stale = replica.client.sotw({ id: "n2" });
    stale.subscribe(CDS, [], { version: r.version_info });
    expect(names(await stale.nextOf(CDS))).toEqual(["a", "b", "c"]);
  });

  it("treats an empty first request as wildcard, and an empty list after named ones as no subscription", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(CDS, [clusterResource("a"), clusterResource("b")]);
    const s = client.sotw({ id: "grpc-client" });
    s.subscribe(CDS, ["a"]);
    const r1 = await s.nextOf(CDS);
    expect(names(r1)).toEqual(["a"]);
    s.ack(r1);
    s.subscribe(CDS, ["*", "a"]);
    const r2 = await s.nextOf(CDS);
    expect(names(r2)).toEqual(["a", "b"]);
    s.ack(r2);
    s.subscribe(CDS, []);
    const r3 = await s.nextOf(CDS);
    expect(names(r3)).toEqual([]);
  });
});
