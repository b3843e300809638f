/**
 * The ADS client over Delta against a real grpc-js server on loopback that the test scripts by hand.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AdsClient } from "../../proxy/xds/ads-client.js";
import { XdsType } from "../../proxy/xds/xds-resources.js";
import { recordedClient, versions } from "./client-harness.js";
import { dubboListener, dubboRoutes, edsCluster, loadAssignment, staticCluster, wasmExtensionConfig } from "./envoy-fixtures.js";
import { ScriptedAdsServer } from "./scripted-ads-server.js";

const { cluster: CDS, listener: LDS, clusterLoadAssignment: EDS, dubboRoutes: DRDS, extensionConfig: ECDS } = XdsType;

let server: ScriptedAdsServer | undefined;
let client: AdsClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.stop();
  const violations = server?.violations() ?? [];
  client = undefined;
  server = undefined;
  expect(violations).toEqual([]);
});

describe("ADS client, Delta", () => {
  it("opens a Delta stream with node and the wildcard CDS and LDS subscriptions", async () => {
    server = await ScriptedAdsServer.start();
    const made = recordedClient({ server: server.address, node: { id: "proxy-1", cluster: "c1", services: ["com.example.*"] } });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    expect(stream.kind).toBe("delta");
    const cds = await stream.takeType(CDS);
    expect(cds.node).toMatchObject({
      id: "proxy-1",
      cluster: "c1",
      user_agent_name: "dubbo-mesh",
      metadata: { fields: { DUBBO_MESH_SERVICES: { listValue: { values: [{ stringValue: "com.example.*" }] } } } },
    });
    expect(cds.resource_names_subscribe ?? []).toEqual([]);
    expect(cds.initial_resource_versions ?? {}).toEqual({});
    const lds = await stream.takeType(LDS);
    expect(lds.node).toBeUndefined(); // only the first request of a stream
    expect(lds.resource_names_subscribe ?? []).toEqual([]);
  });

  it("ACKs with the response's nonce, emits the full state, and EDS names follow the Clusters", async () => {
    server = await ScriptedAdsServer.start();
    const made = recordedClient({ server: server.address });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);

    const n1 = stream.sendDelta(CDS, [
      { name: "a", version: "a1", resource: edsCluster("a", "a-eds") },
      { name: "b", version: "b1", resource: edsCluster("b") },
      { name: "s", version: "s1", resource: staticCluster("s", 20999) },
    ]);
    const ack = await stream.takeType(CDS, "the CDS ACK");
    expect(ack.response_nonce).toBe(n1);
    expect(ack.error_detail).toBeUndefined();
    // the EDS names of the EDS clusters: service_name, else the cluster's name; the STATIC one asks for none
    const eds = await stream.takeType(EDS, "the EDS subscription");
    expect(eds.resource_names_subscribe).toEqual(["a-eds", "b"]);
    expect(versions(client, CDS)).toEqual({ a: "a1", b: "b1", s: "s1" });
    const update = made.events.updates.find((u) => u.typeUrl === CDS)!;
    expect(update.source).toBe("server");
    expect(update.resources.get("a")!.resource).toMatchObject({ name: "a", type: "EDS", eds_cluster_config: { service_name: "a-eds" } });
    expect(client.missing().get(EDS)).toEqual(["a-eds", "b"]);

    const n2 = stream.sendDelta(EDS, [{ name: "a-eds", version: "e1", resource: loadAssignment("a-eds", [20881, 20882]) }]);
    expect((await stream.takeType(EDS, "the EDS ACK")).response_nonce).toBe(n2);
    const endpoints = client.resources(EDS).get("a-eds")!.resource as { endpoints: { lb_endpoints: unknown[] }[] };
    expect(endpoints.endpoints[0]!.lb_endpoints).toHaveLength(2);
    expect(client.missing().get(EDS)).toEqual(["b"]);

    // cluster a removed: its EDS name is unsubscribed and its assignment dropped
    const n3 = stream.sendDelta(CDS, [], ["a"]);
    expect((await stream.takeType(CDS)).response_nonce).toBe(n3);
    const unsub = await stream.takeType(EDS, "the EDS unsubscription");
    expect(unsub.resource_names_unsubscribe).toEqual(["a-eds"]);
    expect(unsub.resource_names_subscribe ?? []).toEqual([]);
    expect(versions(client, CDS)).toEqual({ b: "b1", s: "s1" });
    expect(versions(client, EDS)).toEqual({});
    expect(stream.unanswered(CDS) + stream.unanswered(EDS)).toBe(0);
  });

  it("subscribes the DRDS routes and the ECDS configuration the Listener names, and follows Listener changes", async () => {
    server = await ScriptedAdsServer.start();
    const made = recordedClient({ server: server.address });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);

    stream.sendDelta(LDS, [{ name: "dubbo", version: "l1", resource: dubboListener("dubbo", "routes-1", "dubbo-mesh.wasm") }]);
    await stream.takeType(LDS, "the LDS ACK");
    expect((await stream.takeType(DRDS)).resource_names_subscribe).toEqual(["routes-1"]);
    expect((await stream.takeType(ECDS)).resource_names_subscribe).toEqual(["dubbo-mesh.wasm"]);

    stream.sendDelta(DRDS, [{ name: "routes-1", version: "r1", resource: dubboRoutes("routes-1", "com.example.Greeter", "a") }]);
    stream.sendDelta(ECDS, [{ name: "dubbo-mesh.wasm", version: "w1", resource: wasmExtensionConfig("dubbo-mesh.wasm", '{"version":1}') }]);
    await stream.takeType(DRDS, "the DRDS ACK");
    await stream.takeType(ECDS, "the ECDS ACK");
    expect(client.resources(DRDS).get("routes-1")!.resource).toMatchObject({
      route_config: [{ interface: "com.example.Greeter", routes: [{ route: { cluster: "a" } }] }],
    });
    expect(client.resources(ECDS).get("dubbo-mesh.wasm")!.resource).toMatchObject({
      typed_config: { config: { root_id: "dubbo_mesh", configuration: { value: '{"version":1}' } } },
    });
    expect(client.missing().size).toBe(0);

    // the Listener now names other routes and another filter: both follow
    stream.sendDelta(LDS, [{ name: "dubbo", version: "l2", resource: dubboListener("dubbo", "routes-2", "other.wasm") }]);
    await stream.takeType(LDS, "the second LDS ACK");
    const drds = await stream.takeType(DRDS);
    expect([drds.resource_names_subscribe, drds.resource_names_unsubscribe]).toEqual([["routes-2"], ["routes-1"]]);
    const ecds = await stream.takeType(ECDS);
    expect([ecds.resource_names_subscribe, ecds.resource_names_unsubscribe]).toEqual([["other.wasm"], ["dubbo-mesh.wasm"]]);
    expect(versions(client, DRDS)).toEqual({});
    expect(versions(client, ECDS)).toEqual({});
    expect(made.events.updates.filter((u) => u.typeUrl === DRDS).at(-1)!.resources.size).toBe(0);
  });

  it("NACKs what the validator rejects with error_detail INVALID_ARGUMENT and keeps the last good resources", async () => {
    server = await ScriptedAdsServer.start();
    const seen: { typeUrl: string; names: string[]; next: string[] }[] = [];
    const made = recordedClient({
      server: server.address,
      validate: (typeUrl, resources, next) => {
        seen.push({ typeUrl, names: resources.map((r) => r.name), next: [...next.keys()] });
        if (typeUrl !== ECDS) return null;
        const bad = resources.find((r) => JSON.stringify(r.resource).includes("not json"));
        return bad ? `${bad.name}: plugin configuration is not JSON` : null;
      },
    });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);
    stream.sendDelta(LDS, [{ name: "dubbo", version: "l1", resource: dubboListener("dubbo", "routes", "f.wasm") }]);
    await stream.takeType(LDS);
    await stream.takeType(DRDS);
    await stream.takeType(ECDS);

    const good = stream.sendDelta(ECDS, [{ name: "f.wasm", version: "w1", resource: wasmExtensionConfig("f.wasm", '{"version":1}') }]);
    expect((await stream.takeType(ECDS)).response_nonce).toBe(good);
    const badNonce = stream.sendDelta(ECDS, [{ name: "f.wasm", version: "w2", resource: wasmExtensionConfig("f.wasm", "not json") }]);
    const nack = await stream.takeType(ECDS, "the NACK");
    expect(nack.response_nonce).toBe(badNonce);
    expect(nack.error_detail).toEqual({ code: 3, message: "f.wasm: plugin configuration is not JSON" });
    expect(made.events.nacks).toEqual([{ typeUrl: ECDS, nonce: badNonce, error: "f.wasm: plugin configuration is not JSON" }]);
    expect(versions(client, ECDS)).toEqual({ "f.wasm": "w1" });
    expect(client.resources(ECDS).get("f.wasm")!.resource).toMatchObject({ typed_config: { config: { configuration: { value: '{"version":1}' } } } });
    expect(seen.filter((s) => s.typeUrl === ECDS)).toEqual([
      { typeUrl: ECDS, names: ["f.wasm"], next: ["f.wasm"] },
      { typeUrl: ECDS, names: ["f.wasm"], next: ["f.wasm"] },
    ]);

    // a resource that does not decode as its type is NACKed before the validator sees it
    const wrong = stream.sendDelta(ECDS, [{ name: "f.wasm", version: "w3", resource: { type_url: ECDS, value: Buffer.from([0xff, 0xff, 0xff]) } }]);
    const nack2 = await stream.takeType(ECDS, "the NACK of bytes that do not decode");
    expect(nack2.response_nonce).toBe(wrong);
    expect(nack2.error_detail!.message).toMatch(/TypedExtensionConfig that does not decode/);
    const mistyped = stream.sendDelta(ECDS, [{ name: "f.wasm", version: "w4", resource: edsCluster("f.wasm") }]);
    const nack3 = await stream.takeType(ECDS, "the NACK of a resource of another type");
    expect(nack3.response_nonce).toBe(mistyped);
    expect(nack3.error_detail!.message).toBe(`a resource of type ${CDS} in a response of type ${ECDS}`);
    expect(versions(client, ECDS)).toEqual({ "f.wasm": "w1" });
    expect(seen.filter((s) => s.typeUrl === ECDS)).toHaveLength(2);

    // the next good one is applied
    const fixed = stream.sendDelta(ECDS, [{ name: "f.wasm", version: "w5", resource: wasmExtensionConfig("f.wasm", '{"version":2}') }]);
    const ack = await stream.takeType(ECDS);
    expect([ack.response_nonce, ack.error_detail]).toEqual([fixed, undefined]);
    expect(versions(client, ECDS)).toEqual({ "f.wasm": "w5" });
  });

  it("changes no subscription for a rejected CDS response", async () => {
    server = await ScriptedAdsServer.start();
    const made = recordedClient({
      server: server.address,
      validate: (typeUrl, _resources, next) => (typeUrl === CDS && next.size > 1 ? `at most one cluster, got ${next.size}` : null),
    });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);
    stream.sendDelta(CDS, [{ name: "a", version: "1", resource: edsCluster("a") }]);
    await stream.takeType(CDS);
    expect((await stream.takeType(EDS)).resource_names_subscribe).toEqual(["a"]);
    const rejected = stream.sendDelta(CDS, [{ name: "b", version: "1", resource: edsCluster("b") }]);
    const nack = await stream.takeType(CDS);
    expect([nack.response_nonce, nack.error_detail?.message]).toEqual([rejected, "at most one cluster, got 2"]);
    // the next request is the ACK of the next response: no EDS subscription came in between
    const next = stream.sendDelta(CDS, [{ name: "a", version: "2", resource: edsCluster("a") }]);
    expect((await stream.take(() => true, "the next request")).response_nonce).toBe(next);
    expect(versions(client, CDS)).toEqual({ a: "2" });
    expect(client.missing()).toEqual(new Map([[EDS, ["a"]]]));
  });

  it("waits for an async validator, handling the responses one at a time and in order", async () => {
    server = await ScriptedAdsServer.start();
    const order: string[] = [];
    const made = recordedClient({
      server: server.address,
      // a slow validator (e.g. a filter VM being configured): e1 takes 100 ms and is rejected
      validate: async (typeUrl, resources) => {
        if (typeUrl !== EDS) return null;
        const version = resources[0]!.version;
        order.push(`validate ${version}`);
        if (version === "e1") await new Promise((resolve) => setTimeout(resolve, 100));
        order.push(`validated ${version}`);
        return version === "e1" ? "e1: refused" : null;
      },
    });
    client = made.client;
    client.on("nack", (e: { nonce: string }) => order.push(`nack ${e.nonce}`));
    client.on("ack", (e: { typeUrl: string; nonce: string }) => e.typeUrl === EDS && order.push(`ack ${e.nonce}`));
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);
    stream.sendDelta(CDS, [{ name: "a", version: "c1", resource: edsCluster("a") }]);
    await stream.takeType(CDS);
    await stream.takeType(EDS);
    const n1 = stream.sendDelta(EDS, [{ name: "a", version: "e1", resource: loadAssignment("a", [1]) }]);
    const n2 = stream.sendDelta(EDS, [{ name: "a", version: "e2", resource: loadAssignment("a", [2]) }]);
    const first = await stream.takeType(EDS);
    const second = await stream.takeType(EDS);
    expect([first.response_nonce, first.error_detail?.message, second.response_nonce, second.error_detail]).toEqual([n1, "e1: refused", n2, undefined]);
    expect(order).toEqual(["validate e1", "validated e1", `nack ${n1}`, "validate e2", "validated e2", `ack ${n2}`]);
    expect(versions(client, EDS)).toEqual({ a: "e2" });
  });

  it("applies removed_resources and ignores names it did not subscribe to", async () => {
    server = await ScriptedAdsServer.start();
    const made = recordedClient({ server: server.address });
    client = made.client;
    await client.start();
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);
    stream.sendDelta(CDS, [
      { name: "a", version: "1", resource: edsCluster("a") },
      { name: "b", version: "1", resource: edsCluster("b") },
    ]);
    await stream.takeType(CDS);
    await stream.takeType(EDS);
    stream.sendDelta(EDS, [
      { name: "a", version: "1", resource: loadAssignment("a", [1]) },
      { name: "b", version: "1", resource: loadAssignment("b", [2]) },
      { name: "z", version: "1", resource: loadAssignment("z", [3]) },
    ]);
    await stream.takeType(EDS);
    expect(versions(client, EDS)).toEqual({ a: "1", b: "1" });
    stream.sendDelta(EDS, [{ name: "b", version: "2", resource: loadAssignment("b", [2, 4]) }], ["a"]);
    await stream.takeType(EDS);
    expect(versions(client, EDS)).toEqual({ b: "2" });
    expect(made.events.updates.at(-1)).toMatchObject({ typeUrl: EDS, source: "server" });
    expect([...made.events.updates.at(-1)!.resources.keys()]).toEqual(["b"]);
  });

  it("reconnects after the server restarts, with backoff, initial_resource_versions and every subscription", async () => {
    server = await ScriptedAdsServer.start();
    const port = server.port;
    const made = recordedClient({ server: server.address, backoff: { baseMs: 40, maxMs: 160, random: () => 0.5 } });
    client = made.client;
    await client.start();
    const first = await server.stream(0);
    await first.takeType(CDS);
    await first.takeType(LDS);
    first.sendDelta(CDS, [{ name: "a", version: "a1", resource: edsCluster("a") }]);
    first.sendDelta(LDS, [{ name: "dubbo", version: "l1", resource: dubboListener("dubbo", "routes", "f.wasm") }]);
    await first.takeType(CDS);
    await first.takeType(EDS);
    await first.takeType(LDS);
    first.sendDelta(EDS, [{ name: "a", version: "e1", resource: loadAssignment("a", [1]) }]);
    first.sendDelta(DRDS, [{ name: "routes", version: "r1", resource: dubboRoutes("routes", "x.Y", "a") }]);
    await first.takeType(EDS, "the EDS ACK");
    await first.takeType(DRDS, "the DRDS subscription");
    await first.takeType(DRDS, "the DRDS ACK");

    await server.stop();
    await vi.waitFor(() => expect(made.events.disconnected.length).toBeGreaterThanOrEqual(4), { timeout: 10_000, interval: 10 });
    // full jitter with random() = 0.5: half of the ceilings 40, 80, 160, 160 (160 is the maximum)
    expect(made.events.disconnected.slice(0, 4).map((d) => d.retryInMs)).toEqual([20, 40, 80, 80]);
    expect(made.events.connected).toHaveLength(1);
    // the resources stay in force while disconnected
    expect(versions(client, CDS)).toEqual({ a: "a1" });

    server = await ScriptedAdsServer.start({ port });
    const second = await server.stream(0);
    const cds = await second.takeType(CDS);
    expect(cds.node?.id).toBe("test-node");
    expect(cds.initial_resource_versions).toEqual({ a: "a1" });
    expect((await second.takeType(LDS)).initial_resource_versions).toEqual({ dubbo: "l1" });
    const eds = await second.takeType(EDS);
    expect([eds.resource_names_subscribe, eds.initial_resource_versions]).toEqual([["a"], { a: "e1" }]);
    const drds = await second.takeType(DRDS);
    expect([drds.resource_names_subscribe, drds.initial_resource_versions]).toEqual([["routes"], { routes: "r1" }]);
    const ecds = await second.takeType(ECDS);
    expect([ecds.resource_names_subscribe, ecds.initial_resource_versions ?? {}]).toEqual([["f.wasm"], {}]);
    // a response on the new stream resets the backoff
    second.sendDelta(ECDS, [{ name: "f.wasm", version: "w1", resource: wasmExtensionConfig("f.wasm", "{}") }]);
    await second.takeType(ECDS, "the ECDS ACK");
    await vi.waitFor(() => expect(made.events.connected.length).toBe(2));
    const before = made.events.disconnected.length;
    await server.stop();
    await vi.waitFor(() => expect(made.events.disconnected.length).toBeGreaterThan(before));
    expect(made.events.disconnected[before]!.retryInMs).toBe(20);
  });
});
