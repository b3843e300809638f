/**
 * SnapshotSource: the standalone proxy's in-process xDS source. Every change of a type is decoded from the
 * snapshot's bytes, validated, and accepted (ack + update) or rejected (nack, the last good state kept), types
 * in Envoy's order; a later good change replaces a rejected one.
 */
import { describe, expect, it } from "vitest";
import { SnapshotCache } from "../../control/xds/snapshot.js";
import { SnapshotSource } from "../../proxy/xds/snapshot-source.js";
import { XdsType, type XdsResource } from "../../proxy/xds/xds-resources.js";
import { clusterResource, endpointResource } from "../support/xds-resources.js";

describe("SnapshotSource", () => {
  it("judges the snapshot's types in Envoy's order, decoded, and follows its changes", async () => {
    const snapshot = new SnapshotCache();
    snapshot.setType(XdsType.clusterLoadAssignment, [endpointResource("c", [1])]);
    snapshot.setType(XdsType.cluster, [clusterResource("c")]);
    const seen: string[] = [];
    const source = new SnapshotSource(snapshot, (typeUrl, received) => {
      seen.push(`${typeUrl.split(".").pop()}:${received.map((r) => r.name).join(",")}`);
      return null;
    });
    const acks: string[] = [];
    source.on("ack", (e: { typeUrl: string }) => acks.push(e.typeUrl));
    await source.start();
    expect(seen).toEqual(["Cluster:c", "ClusterLoadAssignment:c"]);
    expect(acks).toEqual([XdsType.cluster, XdsType.clusterLoadAssignment]);
    const cla = source.resources(XdsType.clusterLoadAssignment).get("c")!;
    expect(cla.resource).toMatchObject({ cluster_name: "c", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 1 } } } }] }] });
    expect(source.missing().size).toBe(0);

    snapshot.setType(XdsType.clusterLoadAssignment, [endpointResource("c", [2])]);
    await source.settled();
    expect(seen.at(-1)).toBe("ClusterLoadAssignment:c");
    expect((source.resources(XdsType.clusterLoadAssignment).get("c")!.resource as { endpoints: unknown[] }).endpoints).toHaveLength(1);
    await source.close();
  });

  it("keeps the last good state of a type its validator rejects, and takes a later good change", async () => {
    const snapshot = new SnapshotCache();
    snapshot.setType(XdsType.cluster, [clusterResource("good")]);
    const source = new SnapshotSource(snapshot, (_t, _r, next: ReadonlyMap<string, XdsResource>) => (next.has("bad") ? "bad is not allowed" : null));
    const nacks: string[] = [];
    source.on("nack", (e: { error: string }) => nacks.push(e.error));
    await source.start();
    snapshot.setType(XdsType.cluster, [clusterResource("good"), clusterResource("bad")]);
    await source.settled();
    expect(nacks).toEqual(["bad is not allowed"]);
    expect([...source.resources(XdsType.cluster).keys()]).toEqual(["good"]);
    snapshot.setType(XdsType.cluster, [clusterResource("good", 2), clusterResource("other")]);
    await source.settled();
    expect([...source.resources(XdsType.cluster).keys()].sort()).toEqual(["good", "other"]);
    // the EDS names the Clusters ask for and the snapshot lacks are missing
    expect(source.missing().get(XdsType.clusterLoadAssignment)?.sort()).toEqual(["good", "other"]);
    await source.close();
  });
});
