/**
 * The Delta protocol rules of the ADS server, each against a real grpc-js client on loopback.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AdsServer } from "../../control/xds/ads-server.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { AdsTestClient, type DeltaResponse } from "../support/ads-client.js";
import { clusterResource, endpointPorts, endpointResource } from "../support/xds-resources.js";

const CDS = XdsTypeUrl.cluster;
const EDS = XdsTypeUrl.endpoint;

const open: { server: AdsServer; client: AdsTestClient }[] = [];

async function setup(snapshot = new SnapshotCache()) {
  const server = new AdsServer(snapshot);
  const port = await server.start();
  const client = new AdsTestClient(`127.0.0.1:${port}`);
  open.push({ server, client });
  return { snapshot, server, client };
}

afterEach(async () => {
  for (const { server, client } of open.splice(0)) {
    client.close();
    await server.stop();
  }
});

const sent = (r: DeltaResponse) => r.resources.map((x) => x.name).sort();

describe("ADS Delta", () => {
  it("sends a wildcard subscription everything, with per-resource versions, then only what changed or was removed", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(CDS, [clusterResource("a"), clusterResource("b"), clusterResource("c")]);
    const s = client.delta({ id: "n1" });
    s.subscribe(CDS);
    const r1 = await s.nextOf(CDS);
    expect(sent(r1)).toEqual(["a", "b", "c"]);
    for (const res of r1.resources) {
      expect(res.version).toBe(snapshot.get(CDS, res.name)!.version);
      expect(res.resource.type_url).toBe(CDS);
      expect(Buffer.from(res.resource.value)).toEqual(Buffer.from(snapshot.get(CDS, res.name)!.bytes));
    }
    expect(r1.system_version_info).toBe(snapshot.version(CDS));
    s.ack(r1);

    snapshot.update(CDS, [clusterResource("b", 9)], ["c"]);
    const r2 = await s.nextOf(CDS);
    expect(sent(r2)).toEqual(["b"]);
    expect(r2.removed_resources).toEqual(["c"]);
    expect(r2.nonce).not.toBe(r1.nonce);
    s.ack(r2);
    snapshot.update(CDS, [clusterResource("b", 9)]); // same bytes: nothing
    expect(await s.barrier()).toEqual([]);
  });

  it("answers named subscriptions, says at once when a name does not exist, and sends it when it appears", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const s = client.delta({ id: "n1" });
    s.subscribe(EDS, ["a", "later"]);
    const r1 = await s.nextOf(EDS);
    expect(sent(r1)).toEqual(["a"]);
    expect(r1.removed_resources).toEqual(["later"]);
    s.ack(r1);
    snapshot.update(EDS, [endpointResource("later", [3]), endpointResource("b", [4])]);
    const r2 = await s.nextOf(EDS);
    expect(sent(r2)).toEqual(["later"]);
    expect(endpointPorts(r2.resources[0]!.resource.value)).toEqual([3]);
    s.ack(r2);
    expect(await s.barrier()).toEqual([]);
  });

  it("honours unsubscribe: nothing sent for it, and later changes of it are not pushed", async () => {
    const { snapshot, client, server } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const s = client.delta({ id: "n1" });
    s.subscribe(EDS, ["a", "b"]);
    s.ack(await s.nextOf(EDS));
    s.subscribe(EDS, [], { unsubscribe: ["a"] });
    expect(await s.barrier()).toEqual([]);
    snapshot.update(EDS, [endpointResource("a", [5])]);
    expect(await s.barrier()).toEqual([]);
    expect(server.status().streams[0]!.types[EDS]).toMatchObject({ names: ["b"], resourceCount: 1 });
    // subscribing again sends it, although the client may still have an older copy
    s.subscribe(EDS, ["a"]);
    expect(sent(await s.nextOf(EDS))).toEqual(["a"]);
  });

  it("honours subscription changes that carry a stale nonce", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1]), endpointResource("b", [2])]);
    const s = client.delta({ id: "n1" });
    s.subscribe(EDS, ["a"]);
    const r1 = await s.nextOf(EDS);
    snapshot.update(EDS, [endpointResource("a", [3])]);
    const r2 = await s.nextOf(EDS);
    s.subscribe(EDS, ["b"], { nonce: r1.nonce });
    const r3 = await s.nextOf(EDS);
    expect(sent(r3)).toEqual(["b"]);
    expect(r2.nonce).not.toBe(r1.nonce);
  });

  it("resends nothing after a NACK until the resource changes, and shows the NACK", async () => {
    const { snapshot, client, server } = await setup();
    snapshot.update(EDS, [endpointResource("a", [1])]);
    const s = client.delta({ id: "n1" });
    s.subscribe(EDS, ["a"]);
    s.ack(await s.nextOf(EDS));
    snapshot.update(EDS, [endpointResource("a", [2])]);
    const bad = await s.nextOf(EDS);
    s.nack(bad, "a: port 2 refused");
    expect(await s.barrier()).toEqual([]);
    const type = server.status().streams[0]!.types[EDS]!;
    expect(type.lastNack).toMatchObject({ nonce: bad.nonce, version: bad.system_version_info, message: "a: port 2 refused" });
    snapshot.update(EDS, [endpointResource("a", [3])]);
    const fixed = await s.nextOf(EDS);
    expect(endpointPorts(fixed.resources[0]!.resource.value)).toEqual([3]);
    s.ack(fixed);
    expect(await s.barrier()).toEqual([]); // the ACK is processed once the probe behind it is answered
    expect(server.status().streams[0]!.types[EDS]!.lastAck).toMatchObject({ nonce: fixed.nonce });
  });

  it("on reconnect with initial_resource_versions sends only what differs, on this replica or another", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(CDS, [clusterResource("a"), clusterResource("b"), clusterResource("c")]);
    const s1 = client.delta({ id: "n1" });
    s1.subscribe(CDS);
    s1.ack(await s1.nextOf(CDS));
    const held = Object.fromEntries(s1.held.get(CDS)!);
    await s1.close();

    // same server, nothing changed: nothing sent
    const s2 = client.delta({ id: "n1" });
    s2.subscribe(CDS, ["*"], { initialVersions: held });
    expect(await s2.barrier()).toEqual([]);

    // another replica with the same model built on its own: nothing sent either
    const other = new SnapshotCache();
    other.update(CDS, [clusterResource("c"), clusterResource("b"), clusterResource("a")]);
    const replica = await setup(other);
    const s3 = replica.client.delta({ id: "n1" });
    s3.subscribe(CDS, ["*"], { initialVersions: held });
    expect(await s3.barrier()).toEqual([]);

    // while the client was away, b changed and c went: only those
    other.update(CDS, [clusterResource("b", 7)], ["c"]);
    const s4 = replica.client.delta({ id: "n1" });
    s4.subscribe(CDS, ["*"], { initialVersions: held });
    const r = await s4.nextOf(CDS);
    expect(sent(r)).toEqual(["b"]);
    expect(r.removed_resources).toEqual(["c"]);
  });

  it("answers a name unsubscribed while a wildcard still covers it", async () => {
    const { snapshot, client } = await setup();
    snapshot.update(CDS, [clusterResource("a"), clusterResource("b")]);
    const s = client.delta({ id: "n1" });
    s.subscribe(CDS, ["*", "a", "ghost"]);
    const r1 = await s.nextOf(CDS);
    expect(sent(r1)).toEqual(["a", "b"]);
    expect(r1.removed_resources).toEqual(["ghost"]);
    s.ack(r1);
    s.subscribe(CDS, [], { unsubscribe: ["a", "ghost"] });
    const r2 = await s.nextOf(CDS);
    expect(sent(r2)).toEqual(["a"]); // still in the wildcard: the client keeps it
    expect(r2.removed_resources).toEqual(["ghost"]);
  });

  it("answers a first request even when there is nothing (an empty response)", async () => {
    const { client } = await setup();
    const s = client.delta({ id: "n1" });
    s.subscribe(XdsTypeUrl.extensionConfig, ["dubbo-filter"]);
    const r = await s.nextOf(XdsTypeUrl.extensionConfig);
    expect(r.resources).toEqual([]);
    expect(r.removed_resources).toEqual(["dubbo-filter"]);
  });
});
