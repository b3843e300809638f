/**
 * What the ADS server does per node: scoped pushes (DUBBO_MESH_SERVICES), bad node metadata, the status the
 * admin API shows, the push hook, and stopping with streams open.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AdsServer } from "../../control/xds/ads-server.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";
import type { PushEvent, StreamStatus } from "../../control/xds/stream-state.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { AdsTestClient, type SotwResponse } from "../support/ads-client.js";
import { clusterResource, endpointResource, listenerResource, resourceName } from "../support/xds-resources.js";

const CDS = XdsTypeUrl.cluster;
const EDS = XdsTypeUrl.endpoint;
const LDS = XdsTypeUrl.listener;

const open: { server: AdsServer; client: AdsTestClient }[] = [];
afterEach(async () => {
  for (const { server, client } of open.splice(0)) {
    client.close();
    await server.stop();
  }
});

async function setup(options: ConstructorParameters<typeof AdsServer>[1] = {}) {
  const snapshot = new SnapshotCache();
  const server = new AdsServer(snapshot, options);
  const port = await server.start();
  const client = new AdsTestClient(`127.0.0.1:${port}`);
  open.push({ server, client });
  return { snapshot, server, client };
}

/** Two services' clusters and endpoints (scoped) and one listener (for everyone). */
function fill(snapshot: SnapshotCache) {
  snapshot.update(LDS, [listenerResource("dubbo", 20880)]);
  snapshot.update(CDS, [clusterResource("demo|a", 1, "org.demo.A"), clusterResource("other|b", 1, "org.other.B")]);
  snapshot.update(EDS, [endpointResource("demo|a", [1], "org.demo.A"), endpointResource("other|b", [2], "org.other.B")]);
}

const names = (r: SotwResponse) => r.resources.map((a) => resourceName(r.type_url, a.value)).sort();

describe("scoped pushes (DUBBO_MESH_SERVICES)", () => {
  it("sends a scoped SotW node only its services, and unscoped resources", async () => {
    const { snapshot, client, server } = await setup();
    fill(snapshot);
    const s = client.sotw({ id: "scoped", metadata: { DUBBO_MESH_SERVICES: ["org.demo.*"] } });
    s.subscribe(CDS);
    s.subscribe(LDS);
    s.subscribe(EDS, ["demo|a", "other|b"]);
    const cds = await s.nextOf(CDS);
    expect(names(cds)).toEqual(["demo|a"]);
    expect(names(await s.nextOf(LDS))).toEqual(["dubbo"]);
    expect(names(await s.nextOf(EDS))).toEqual(["demo|a"]);
    s.ack(cds);
    // a change to a service outside the scope sends nothing; one inside sends the scoped state
    snapshot.update(CDS, [clusterResource("other|b", 4, "org.other.B")]);
    snapshot.update(EDS, [endpointResource("other|b", [5], "org.other.B")]);
    expect(await s.barrier()).toEqual([]);
    snapshot.update(CDS, [clusterResource("demo|a2", 1, "org.demo.A2")]);
    expect(names(await s.nextOf(CDS))).toEqual(["demo|a", "demo|a2"]);
    expect(server.status().streams[0]!.scope).toEqual(["org.demo.*"]);

    // an unscoped node sees everything
    const all = client.sotw({ id: "all" });
    all.subscribe(CDS);
    expect(names(await all.nextOf(CDS))).toEqual(["demo|a", "demo|a2", "other|b"]);
  });

  it("sends a scoped Delta node only its services (comma-separated form)", async () => {
    const { snapshot, client } = await setup();
    fill(snapshot);
    const s = client.delta({ id: "scoped", metadata: { DUBBO_MESH_SERVICES: "org.other.B, org.none.*" } });
    s.subscribe(CDS);
    const r = await s.nextOf(CDS);
    expect(r.resources.map((x) => x.name)).toEqual(["other|b"]);
    s.ack(r);
    snapshot.update(CDS, [clusterResource("demo|a", 9, "org.demo.A")]);
    expect(await s.barrier()).toEqual([]);
  });

  it("ends a stream whose DUBBO_MESH_SERVICES is malformed, with a message naming it", async () => {
    const { client } = await setup();
    const s = client.sotw({ id: "bad", metadata: { DUBBO_MESH_SERVICES: { a: 1 } } });
    s.subscribe(CDS);
    const err = await s.responses.closed();
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/DUBBO_MESH_SERVICES must be a list/);
  });
});

describe("bad requests", () => {
  it("ends a stream whose request has no type_url", async () => {
    const { client } = await setup();
    const s = client.sotw({ id: "n" });
    s.send({ resource_names: [] });
    const err = await s.responses.closed();
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("DiscoveryRequest without type_url");
  });
});

describe("status and hooks", () => {
  it("shows each stream's node, subscriptions, what was sent, ACKed and NACKed, and counts pushes", async () => {
    const pushes: PushEvent[] = [];
    const opened: StreamStatus[] = [];
    const closed: StreamStatus[] = [];
    const { snapshot, client, server } = await setup({
      hooks: { onPush: (e) => pushes.push(e), onStreamOpen: (s) => opened.push(s), onStreamClose: (s) => closed.push(s) },
    });
    fill(snapshot);
    const s = client.sotw({ id: "envoy-1", cluster: "dubbo-consumer", metadata: { ISTIO_VERSION: "1.24" } });
    s.subscribe(CDS);
    const cds = await s.nextOf(CDS);
    s.ack(cds);
    s.subscribe(EDS, ["demo|a"]);
    const eds = await s.nextOf(EDS);
    s.nack(eds, "no");
    const d = client.delta({ id: "envoy-2" });
    d.subscribe(CDS);
    await d.nextOf(CDS);
    expect(await s.barrier()).toEqual([]);

    const status = server.status();
    expect(status.counters.connectedStreams).toEqual({ sotw: 1, delta: 1 });
    expect(status.counters.streamsOpened).toBe(2);
    const sotw = status.streams.find((x) => x.variant === "sotw")!;
    expect(sotw.node).toEqual({ id: "envoy-1", cluster: "dubbo-consumer", metadata: { ISTIO_VERSION: "1.24" }, userAgent: "" });
    expect(sotw.scope).toBeNull();
    expect(sotw.types[CDS]).toMatchObject({
      wildcard: true,
      resourceCount: 2,
      lastSent: { version: cds.version_info, nonce: cds.nonce, resources: 2 },
      lastAck: { version: cds.version_info, nonce: cds.nonce },
    });
    expect(sotw.types[EDS]).toMatchObject({ wildcard: false, names: ["demo|a"], lastNack: { nonce: eds.nonce, message: "no" } });
    expect(status.streams.find((x) => x.variant === "delta")!.node?.id).toBe("envoy-2");
    expect(status.resources[CDS]).toEqual({ version: snapshot.version(CDS), count: 2 });
    expect(status.counters.nacks).toEqual({ [EDS]: 1 });
    expect(JSON.parse(JSON.stringify(status))).toEqual(status); // JSON-able as it is

    // pushes: counted by type, with their size; a push a change caused carries its latency
    expect(status.counters.pushes[CDS]).toBe(2);
    expect(status.counters.pushBytes[CDS]).toBe(pushes.filter((p) => p.typeUrl === CDS).reduce((n, p) => n + p.bytes, 0));
    expect(pushes.every((p) => p.latencyMs === undefined)).toBe(true);
    snapshot.update(CDS, [clusterResource("demo|a", 3, "org.demo.A")]);
    const pushed = await s.nextOf(CDS);
    const event = pushes.find((p) => p.nonce === pushed.nonce)!;
    expect(event).toMatchObject({ nodeId: "envoy-1", variant: "sotw", typeUrl: CDS, version: pushed.version_info, bytes: pushed.bytes });
    expect(event.latencyMs).toBeGreaterThanOrEqual(0);
    expect(server.status().counters.pushLatencyMs.count).toBe(2); // to both streams

    expect(opened.map((o) => o.variant)).toEqual(["sotw", "delta"]);
    await d.close();
    expect(closed.map((c) => c.node?.id)).toEqual(["envoy-2"]);
    expect(server.status().counters.connectedStreams).toEqual({ sotw: 1, delta: 0 });
  });

  it("stops within 2 s with streams open, ending them", async () => {
    const snapshot = new SnapshotCache();
    const server = new AdsServer(snapshot);
    const port = await server.start();
    const client = new AdsTestClient(`127.0.0.1:${port}`);
    const s = client.sotw({ id: "n" });
    s.subscribe(CDS);
    await s.nextOf(CDS);
    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await s.responses.closed()).toBeUndefined(); // ended with status OK
    client.close();
  });
});
