/**
 * The live control plane end to end: providers registered in a real ZooKeeper the way Java Dubbo registers
 * them → `ControlPlane` (MeshWatch, publisher, ADS server, admin API) → real grpc-js ADS clients (Envoy-like
 * Delta and SotW streams, and one that subscribes as istiod does for MCP).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { ControlPlane } from "../../control/live/control-plane.js";
import { decodeMcpResource } from "../../control/mcp/decode.js";
import { ISTIOD_SUBSCRIBED_TYPE_URLS, MCP_RESOURCE_TYPE_URL, kindOfTypeUrl } from "../../control/mcp/type-urls.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { generatedObjects } from "../support/generated-objects.js";
import { AdsTestClient, type DeltaResponse, type DeltaTestStream, type SotwResponse, type SotwTestStream } from "../support/ads-client.js";
import { DubboZkWriter } from "../../dev/dubbo-zk-writer.js";
import { endpointPorts } from "../support/xds-resources.js";
import { ZooKeeperServer } from "../../dev/zookeeper.js";

const RULES = readFileSync(new URL("../../examples/rules.yaml", import.meta.url), "utf8");
const DEMO = "org.apache.dubbo.demo.DemoService";
const ORDERS = "com.acme.orders.OrderService";
const provider = (iface: string, port: number, revision = "v1") => `dubbo://127.0.0.1:${port}/${iface}?interface=${iface}&version=1.0.0&revision=${revision}`;

/** The whole-service cluster of a demo service (Istio's naming: outbound|PORT||HOST). */
function wholeCluster(names: Iterable<string>, iface: string): string {
  const name = [...names].find((n) => n.startsWith("outbound|") && n.includes(`||${iface.toLowerCase()}.`));
  if (!name) throw new Error(`no whole-service cluster for ${iface} in ${[...names].join(", ")}`);
  return name;
}

async function until<T>(what: string, get: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let zk: ZooKeeperServer;
let writer: DubboZkWriter;
beforeAll(async () => {
  zk = await ZooKeeperServer.start();
  writer = await DubboZkWriter.connect(zk.connectString);
}, 60_000);
afterAll(async () => {
  writer?.close();
  await zk?.dispose();
});

describe("ZooKeeper → dubbo-mesh control → ADS clients", () => {
  let cp: ControlPlane | undefined;
  let client: AdsTestClient | undefined;
  let dir: string;
  const registered: string[] = [];
  const logs: string[] = [];

  afterEach(async () => {
    client?.close();
    client = undefined;
    await cp?.close();
    cp = undefined;
    for (const url of registered.splice(0)) await writer.unregister(url).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(urls: string[], options: { mcp?: boolean } = {}) {
    dir = mkdtempSync(join(tmpdir(), "control-e2e-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    for (const url of urls) await register(url);
    cp = await ControlPlane.start({
      registry: `zookeeper://${zk.connectString}/dubbo`,
      rules,
      mode: "dubbo-proxy",
      wasm: parseWasmSource(),
      xds: "127.0.0.1:0",
      admin: { host: "127.0.0.1", port: 0 },
      mcp: options.mcp ?? false,
      log: (line) => logs.push(line),
    });
    client = new AdsTestClient(`127.0.0.1:${cp.xdsPort}`, undefined, { "grpc.max_receive_message_length": -1 });
    return { rules };
  }

  async function register(url: string) {
    await writer.register(url);
    registered.push(url);
  }

  async function unregister(url: string) {
    await writer.unregister(url);
    registered.splice(registered.indexOf(url), 1);
  }

  async function admin(path: string): Promise<{ status: number; text: string }> {
    const a = cp!.adminAddress!;
    const res = await fetch(`http://${a.host}:${a.port}${path}`);
    return { status: res.status, text: await res.text() };
  }

  /** A Delta stream holding LDS and CDS (wildcard) and the EDS of every cluster, everything ACKed. */
  async function envoyLike(id: string): Promise<{ stream: DeltaTestStream; clusters: string[] }> {
    const stream = client!.delta({ id });
    stream.subscribe(XdsTypeUrl.cluster, ["*"]);
    const cds = await stream.nextOf(XdsTypeUrl.cluster);
    stream.ack(cds);
    const clusters = cds.resources.map((r) => r.name);
    stream.subscribe(XdsTypeUrl.endpoint, clusters);
    stream.ack(await stream.nextOf(XdsTypeUrl.endpoint));
    stream.subscribe(XdsTypeUrl.listener, ["*"]);
    stream.ack(await stream.nextOf(XdsTypeUrl.listener));
    return { stream, clusters };
  }

  /** Waits for the EDS update of `cluster` on a Delta stream, ACKs it, and returns its ports. */
  async function nextEndpoints(stream: DeltaTestStream, cluster: string): Promise<number[]> {
    for (;;) {
      const r: DeltaResponse = await stream.next(2000);
      stream.ack(r);
      if (r.type_url !== XdsTypeUrl.endpoint) continue;
      const cla = r.resources.find((x) => x.name === cluster);
      if (cla) return endpointPorts(cla.resource.value).sort((a, b) => a - b);
    }
  }

  it("a provider registering in ZooKeeper reaches a subscribed client's EDS within 1 s, and its leaving too; only EDS is re-encoded and pushed", async () => {
    await start([provider(DEMO, 20881)]);
    const { stream, clusters } = await envoyLike("envoy-1");
    const cluster = wholeCluster(clusters, DEMO);
    expect(endpointPorts(stream.responses.all.find((r) => r.type_url === XdsTypeUrl.endpoint)!.resources.find((r) => r.name === cluster)!.resource.value)).toEqual([20881]);
    const listenerVersion = stream.held.get(XdsTypeUrl.listener);

    const t0 = performance.now();
    await register(provider(DEMO, 20882, "v2"));
    expect(await nextEndpoints(stream, cluster)).toEqual([20881, 20882]);
    const joinMs = performance.now() - t0;
    expect(joinMs).toBeLessThan(1000);
    // the rebuild encoded only the assignments of the whole service and of subset v2 (the clusters, the routes,
    // the filter configuration and the Listener were the previous objects, not encoded again)
    const dump = JSON.parse((await admin("/config_dump")).text) as { lastPublish: { encoded: number; changed: unknown } };
    expect(dump.lastPublish).toMatchObject({ encoded: 2, changed: { [XdsTypeUrl.endpoint]: { upserted: 2, removed: 0 } } });

    const t1 = performance.now();
    await unregister(provider(DEMO, 20881));
    expect(await nextEndpoints(stream, cluster)).toEqual([20882]);
    expect(performance.now() - t1).toBeLessThan(1000);

    // the registry changes sent EDS only: no Cluster (same services) and no Listener (same routes) went out
    const after = await stream.barrier();
    const types = new Set(stream.responses.all.slice(3).map((r) => r.type_url));
    expect(after.filter((r) => r.type_url !== XdsTypeUrl.endpoint)).toEqual([]);
    expect([...types].filter((t) => !t.startsWith("test.barrier/"))).toEqual([XdsTypeUrl.endpoint]);
    expect(stream.held.get(XdsTypeUrl.listener)).toEqual(listenerVersion);
  });

  it("a new service in ZooKeeper brings its Clusters (CDS) and its endpoints to a wildcard client", async () => {
    await start([provider(DEMO, 20881)]);
    const { stream } = await envoyLike("envoy-new-service");
    await register(provider(ORDERS, 20891));
    const cds = await stream.nextOf(XdsTypeUrl.cluster, 2000);
    stream.ack(cds);
    const orders = wholeCluster(cds.resources.map((r) => r.name), ORDERS);
    stream.subscribe(XdsTypeUrl.endpoint, [orders]);
    expect(await nextEndpoints(stream, orders)).toEqual([20891]);
  });

  it("a bad rules edit keeps the last good snapshot and says so on /config_dump; a good edit changes only DRDS and ECDS, never the Listener", async () => {
    const { rules } = await start([provider(DEMO, 20881)]);
    const stream = client!.sotw({ id: "envoy-rules" });
    stream.subscribe(XdsTypeUrl.listener);
    const lds = await stream.nextOf(XdsTypeUrl.listener);
    stream.ack(lds);
    stream.subscribe(XdsTypeUrl.dubboRoute, ["dubbo-mesh"]);
    const drds = await stream.nextOf(XdsTypeUrl.dubboRoute);
    stream.ack(drds);
    stream.subscribe(XdsTypeUrl.extensionConfig, ["dubbo-mesh.filter"]);
    const ecds = await stream.nextOf(XdsTypeUrl.extensionConfig);
    stream.ack(ecds);
    const before = JSON.parse((await admin("/config_dump")).text) as { snapshot: unknown; sources: { rules: { ok: boolean } } };
    expect(before.sources.rules.ok).toBe(true);

    writeFileSync(`${rules}.tmp`, "apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nspec: [not, a, rule\n");
    renameSync(`${rules}.tmp`, rules);
    const bad = await until("the rules reload to fail", async () => {
      const dump = JSON.parse((await admin("/config_dump")).text) as { snapshot: unknown; sources: { rules: { ok: boolean; message: string } } };
      return dump.sources.rules.ok === false && dump;
    });
    expect(bad.sources.rules.message).toMatch(/keeping the last good rules/);
    expect(bad.snapshot).toEqual(before.snapshot);
    expect(logs.some((l) => /rules .*keeping the last good rules/.test(l))).toBe(true);
    expect(await stream.barrier()).toEqual([]);

    // the rules file fixed (without the deny rule): new routes (DRDS) and a new filter configuration (ECDS) go
    // out, the source is ok again, and the Listener is not sent again (its version is the same)
    writeFileSync(`${rules}.tmp`, RULES.replace(/ {2}deny:\n(?: {4}.*\n)+/, ""));
    renameSync(`${rules}.tmp`, rules);
    const nextRoutes = (await stream.nextOf(XdsTypeUrl.dubboRoute, 3000)) as SotwResponse;
    expect(nextRoutes.version_info).not.toBe(drds.version_info);
    stream.ack(nextRoutes);
    const nextFilter = (await stream.nextOf(XdsTypeUrl.extensionConfig, 3000)) as SotwResponse;
    expect(nextFilter.version_info).not.toBe(ecds.version_info);
    stream.ack(nextFilter);
    expect((await stream.barrier()).filter((r) => r.type_url === XdsTypeUrl.listener)).toEqual([]);
    const dump = JSON.parse((await admin("/config_dump")).text) as { sources: { rules: { ok: boolean } }; snapshot: Record<string, { version: string }> };
    expect(dump.sources.rules.ok).toBe(true);
    expect(dump.snapshot[XdsTypeUrl.listener]!.version).toBe(lds.version_info);
  });

  it("the admin API: /nodes shows the node, its subscriptions and last ACK and NACK; /stats counts pushes and NACKs; /ready", async () => {
    await start([provider(DEMO, 20881)]);
    expect(await admin("/ready")).toEqual({ status: 200, text: "LIVE\n" });
    const stream: SotwTestStream = client!.sotw({ id: "envoy-admin", cluster: "consumers", metadata: { DUBBO_MESH_SERVICES: [DEMO] } });
    stream.subscribe(XdsTypeUrl.cluster);
    const cds = await stream.nextOf(XdsTypeUrl.cluster);
    stream.ack(cds);
    stream.subscribe(XdsTypeUrl.listener);
    const lds = await stream.nextOf(XdsTypeUrl.listener);
    stream.nack(lds, "listener rejected by the test");
    await stream.barrier();

    const nodes = JSON.parse((await admin("/nodes")).text) as {
      variant: string;
      node: { id: string; cluster: string };
      scope: string[] | null;
      types: Record<string, { wildcard: boolean; lastAck?: { version: string }; lastNack?: { message: string; version: string } }>;
    }[];
    expect(nodes).toHaveLength(1);
    const n = nodes[0]!;
    expect(n).toMatchObject({ variant: "sotw", node: { id: "envoy-admin", cluster: "consumers" }, scope: [DEMO] });
    expect(n.types[XdsTypeUrl.cluster]).toMatchObject({ wildcard: true, lastAck: { version: cds.version_info } });
    expect(n.types[XdsTypeUrl.listener]).toMatchObject({ wildcard: true, lastNack: { message: "listener rejected by the test" } });
    expect(n.types[XdsTypeUrl.listener]!.lastAck).toBeUndefined();

    const stats = (await admin("/stats")).text;
    const count = (name: string, typeUrl: string) =>
      Number(new RegExp(`^${name}\\{type_url="${typeUrl.replace(/\./g, "\\.")}"\\} (\\d+)`, "m").exec(stats)?.[1] ?? NaN);
    expect(count("dubbo_mesh_control_pushes_total", XdsTypeUrl.cluster)).toBe(1);
    expect(count("dubbo_mesh_control_pushes_total", XdsTypeUrl.listener)).toBe(1);
    expect(count("dubbo_mesh_control_nacks_total", XdsTypeUrl.listener)).toBe(1);
    expect(stats).toMatch(/^dubbo_mesh_control_connected_streams\{variant="sotw"\} 1$/m);
  });

  it("a scoped node (DUBBO_MESH_SERVICES) receives only the Clusters of the services it consumes", async () => {
    await start([provider(DEMO, 20881), provider(ORDERS, 20891)]);
    const full = client!.delta({ id: "envoy-full" });
    full.subscribe(XdsTypeUrl.cluster, ["*"]);
    const all = (await full.nextOf(XdsTypeUrl.cluster)).resources.map((r) => r.name);
    const scoped = client!.delta({ id: "envoy-scoped", metadata: { DUBBO_MESH_SERVICES: ["com.acme.*"] } });
    scoped.subscribe(XdsTypeUrl.cluster, ["*"]);
    const mine = (await scoped.nextOf(XdsTypeUrl.cluster)).resources.map((r) => r.name);
    expect(all.some((n) => n.includes(DEMO.toLowerCase()))).toBe(true);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((n) => n.includes(ORDERS.toLowerCase()))).toBe(true);
    expect(mine.length).toBeLessThan(all.length);
  });
});

describe("MCP: an istiod-like client of dubbo-mesh control --mcp", () => {
  let cp: ControlPlane | undefined;
  let client: AdsTestClient | undefined;
  let dir: string;
  const registered: string[] = [];

  afterEach(async () => {
    client?.close();
    await cp?.close();
    for (const url of registered.splice(0)) await writer.unregister(url).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Subscribes to every type istiod 1.30 asks a config source for, at once, and ACKs each answer as istiod does. */
  function istiodLike(): { stream: SotwTestStream; latest: Map<string, SotwResponse> } {
    const stream = client!.sotw({ id: "istiod-1", cluster: "Kubernetes" });
    for (const typeUrl of ISTIOD_SUBSCRIBED_TYPE_URLS) stream.subscribe(typeUrl);
    return { stream, latest: new Map<string, SotwResponse>() };
  }

  async function readUntilSynced(stream: SotwTestStream, latest: Map<string, SotwResponse>): Promise<void> {
    while (!ISTIOD_SUBSCRIBED_TYPE_URLS.every((t) => latest.has(t))) {
      const r = await stream.next(5000);
      stream.ack(r);
      latest.set(r.type_url, r);
    }
  }

  /** The ServiceEntry of `iface` in a response, decoded. */
  function serviceEntry(r: SotwResponse, iface: string) {
    return r.resources.map((a) => decodeMcpResource(a.value)).find((d) => (d.spec["hosts"] as string[]).some((h) => h.startsWith(`${iface.toLowerCase()}.`)));
  }

  it("answers every subscribed type (empty ones with an empty list) and each resource decodes; registry changes reach the ServiceEntry within 1 s", async () => {
    dir = mkdtempSync(join(tmpdir(), "control-mcp-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    for (const url of [provider(DEMO, 20881)]) {
      await writer.register(url);
      registered.push(url);
    }
    cp = await ControlPlane.start({
      registry: `zookeeper://${zk.connectString}/dubbo`,
      rules,
      mode: "dubbo-proxy",
      wasm: parseWasmSource(),
      xds: "127.0.0.1:0",
      admin: null,
      mcp: true,
      log: () => undefined,
    });
    client = new AdsTestClient(`127.0.0.1:${cp.xdsPort}`, undefined, { "grpc.max_receive_message_length": -1 });
    const { stream, latest } = istiodLike();
    await readUntilSynced(stream, latest);

    // every object generate makes for this model, by kind, as NAMESPACE/NAME
    const expected = new Map<string, string[]>();
    for (const o of generatedObjects(cp.model!, { mode: "dubbo-proxy", wasm: parseWasmSource() })) {
      const { kind, metadata } = o as { kind: string; metadata: { name: string; namespace?: string } };
      expected.set(kind, [...(expected.get(kind) ?? []), `${metadata.namespace ?? "istio-system"}/${metadata.name}`].sort());
    }
    const kinds = new Map<string, number>();
    for (const [typeUrl, r] of latest) {
      const kind = kindOfTypeUrl(typeUrl);
      if (kind === undefined) {
        expect(r.resources, typeUrl).toEqual([]);
        continue;
      }
      kinds.set(kind, r.resources.length);
      expect(r.resources.map((a) => decodeMcpResource(a.value).name).sort(), typeUrl).toEqual(expected.get(kind) ?? []);
      for (const any of r.resources) {
        expect(any.type_url).toBe(MCP_RESOURCE_TYPE_URL);
        const d = decodeMcpResource(any.value);
        expect(d.kind).toBe(kind);
        expect(d.name).toMatch(/^[a-z0-9-]+\/[a-z0-9.-]+$/);
        expect(d.version).toMatch(/^[0-9a-f]{16}$/);
      }
    }
    expect(kinds.get("ServiceEntry")).toBeGreaterThan(0);
    expect(kinds.get("DestinationRule")).toBeGreaterThan(0);
    expect(kinds.get("EnvoyFilter")).toBe(2); // the wasm filter and the mode's (generate's default form)
    expect(kinds.get("WasmPlugin")).toBe(0); // answered, with an empty list
    for (const t of ISTIOD_SUBSCRIBED_TYPE_URLS.filter((t) => ["Gateway", "VirtualService", "AuthorizationPolicy", "Sidecar"].some((k) => t.endsWith(`/${k}`)))) {
      expect(latest.get(t)!.resources).toEqual([]);
    }
    const seType = ISTIOD_SUBSCRIBED_TYPE_URLS.find((t) => t.endsWith("/ServiceEntry"))!;
    const endpointsOf = (r: SotwResponse) => ((serviceEntry(r, DEMO)?.spec["endpoints"] ?? []) as { address: string; ports: Record<string, number> }[]).map((e) => Object.values(e.ports)[0]).sort();
    expect(endpointsOf(latest.get(seType)!)).toEqual([20881]);

    /** The next ServiceEntry response (ACKing everything), and how long it took. */
    const nextServiceEntries = async () => {
      for (;;) {
        const r = await stream.next(2000);
        stream.ack(r);
        if (r.type_url === seType) return r;
      }
    };
    const t0 = performance.now();
    await writer.register(provider(DEMO, 20882, "v2"));
    registered.push(provider(DEMO, 20882, "v2"));
    expect(endpointsOf(await nextServiceEntries())).toEqual([20881, 20882]);
    expect(performance.now() - t0).toBeLessThan(1000);

    const t1 = performance.now();
    await writer.unregister(provider(DEMO, 20881));
    registered.splice(registered.indexOf(provider(DEMO, 20881)), 1);
    expect(endpointsOf(await nextServiceEntries())).toEqual([20882]);
    expect(performance.now() - t1).toBeLessThan(1000);
  });
});

describe("dubbo-mesh control (process)", () => {
  it("prints a ready line once serving, re-reads its sources on SIGHUP and stops within 2 s of SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "control-cli-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    const url = provider(DEMO, 20871);
    await writer.register(url);
    // cli/index.ts is what bin/dubbo-mesh.js runs (from dist/); run its main from the sources here
    const cli = pathToFileURL(join(packageRoot, "cli", "index.ts")).href;
    const script = `import(${JSON.stringify(cli)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c))`;
    const args = ["control", "--registry", `zookeeper://${zk.connectString}/dubbo`, "--rules", rules, "--xds", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script, ...args], { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const ready = await until("the ready line", () => /ready: ADS on 127\.0\.0\.1:(\d+), admin (http:\S+\/);/.exec(out) ?? undefined, 30_000);
      expect(out).toMatch(/1 services, 1 endpoints/);
      const adminUrl = ready[2]!;
      const ads = new AdsTestClient(`127.0.0.1:${ready[1]}`);
      try {
        const stream = ads.sotw({ id: "envoy-cli" });
        stream.subscribe(XdsTypeUrl.cluster);
        expect((await stream.nextOf(XdsTypeUrl.cluster)).resources.length).toBeGreaterThan(0);
      } finally {
        ads.close();
      }
      child.kill("SIGHUP");
      const build = await until("a rebuild for the SIGHUP", async () => {
        const dump = (await (await fetch(`${adminUrl}config_dump`)).json()) as { sources: { build: { reason: string } } };
        return dump.sources.build.reason.includes("reload") && dump.sources.build;
      });
      expect(build.reason).toMatch(/reload/);
      expect(err).toMatch(/SIGHUP: re-reading the rules and the registry/);
      const t0 = performance.now();
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      child.kill("SIGKILL");
      await writer.unregister(url);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
