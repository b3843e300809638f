/**
 * The real chain: a file registry and a rules file → the live control plane (`ControlPlane`, ADS over real gRPC)
 * → `dubbo-mesh proxy --xds` (in process, and as a process for the command-line contract) → real
 * `sofa-rpc-node` consumers and providers. Calls go where the rules say; a provider added to the registry is
 * routable within 1 s; a rules edit moves established connections within 1 s; a plugin configuration the filter
 * refuses is NACKed with the filter's reason and traffic stays on the last good one; the control plane stopped
 * and restarted under traffic fails no call and the proxy resyncs; a proxy started while the control plane is
 * down serves from its cache.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { ControlPlane } from "../../control/live/control-plane.js";
import { EnvoyResources, encodeEnvoy } from "../../control/live/resource-sets.js";
import { Publisher } from "../../control/live/publisher.js";
import { MeshWatch } from "../../control/live/mesh-watch.js";
import { AdsServer } from "../../control/xds/ads-server.js";
import { makeResource, SnapshotCache } from "../../control/xds/snapshot.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { encodeJson } from "../../control/generate/xds/proto-json.js";
import { ProxyServer } from "../../proxy/server/proxy-server.js";
import { decodeResource } from "../../proxy/xds/xds-resources.js";
import { type Consumer, type Provider, startConsumer, startProvider } from "../support/dubbo-peers.js";
import { DEMO_RULES, SERVICE, VERSION, demoMethods, registryYaml, settled, tally, traffic } from "./harness.js";

type Json = Record<string, unknown>;

const GRAY_V1 = DEMO_RULES.replace("match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v2}]", "match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v1}]");

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const gray = { requestProps: { "dubbo.tag": "gray" } };

describe("control plane → xDS → dubbo-mesh proxy --xds", () => {
  let dir: string;
  let v1: Provider;
  let v2: Provider;
  let control: ControlPlane | undefined;
  let xdsPort = 0;
  let proxy: ProxyServer | undefined;
  const consumers: Consumer[] = [];
  const logs: string[] = [];

  const startControl = async (port = 0) => {
    control = await ControlPlane.start({
      registry: `file:${join(dir, "registry.yaml")}`,
      rules: join(dir, "rules.yaml"),
      mode: "dubbo-proxy",
      wasm: parseWasmSource(),
      xds: `127.0.0.1:${port}`,
      admin: null,
      mcp: false,
      clusters: { connectTimeoutMs: 500, outlierDetection: { consecutiveErrors: 3, baseEjectionTimeMs: 5000, maxEjectionTimeMs: 30_000, maxEjectionPercent: 50 } },
      log: () => {},
    });
    xdsPort = control.xdsPort;
  };
  const startProxy = async () => {
    const p = await ProxyServer.start({
      xds: { server: `127.0.0.1:${xdsPort}`, cacheDir: join(dir, "cache"), nodeId: "test-proxy" },
      listen: { host: "127.0.0.1", port: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      log: (level, m) => logs.push(`${level}: ${m}`),
    });
    proxy = p;
    return p;
  };
  const consumer = async () => {
    const l = proxy!.listenerAddresses[0]!;
    const c = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: VERSION, timeout: 3000 });
    consumers.push(c);
    return c;
  };
  const adminJson = async <T>(path: string): Promise<T> => {
    const a = proxy!.adminAddress!;
    return (await (await fetch(`http://${a.host}:${a.port}${path}`)).json()) as T;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-xds-"));
    v1 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v1") });
    v2 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v2") });
    writeFileSync(join(dir, "registry.yaml"), registryYaml([{ address: v1.address, revision: "v1" }, { address: v2.address, revision: "v2" }]));
    writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
    await startControl();
    await startProxy();
    await proxy!.whenReady();
  });
  afterAll(async () => {
    await Promise.allSettled(consumers.map((c) => c.close()));
    await proxy?.close();
    await control?.close();
    await Promise.allSettled([v1?.close(), v2?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("is configured by what it receives: calls go where the rules say; /config_dump shows the xDS state", async () => {
    expect(proxy!.ready).toBe(true);
    const c = await consumer();
    expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
    expect(tally(await Promise.all(Array.from({ length: 10 }, () => c.invoke("greet", ["x"]))))).toEqual({ v1: 10 });
    const a = proxy!.adminAddress!;
    expect((await fetch(`http://${a.host}:${a.port}/ready`)).status).toBe(200);
    const dump = await adminJson<{ xds: { connected: boolean; types: Record<string, { version: string; resources: Record<string, string>; lastAck: unknown }> } }>("/config_dump");
    expect(dump.xds.connected).toBe(true);
    const clusters = dump.xds.types[XdsTypeUrl.cluster]!;
    expect(new Set(Object.keys(clusters.resources))).toEqual(
      new Set([
        "outbound|20880||org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
        "outbound|20880|v1|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
        "outbound|20880|v2|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
      ]),
    );
    expect(clusters.lastAck).not.toBeNull();
    expect(Object.keys(dump.xds.types[XdsTypeUrl.listener]!.resources)).toEqual(["dubbo_mesh_20880"]);
    // Cluster fields from the control plane: outlier detection and the connect timeout it was given
    const live = await adminJson<Array<{ name: string; outlierDetection: { consecutiveErrors: number }; lbPolicy: string }>>("/clusters");
    expect(live.every((x) => x.outlierDetection.consecutiveErrors === 3 && x.lbPolicy === "ROUND_ROBIN")).toBe(true);
  });

  it("routes to a provider added to the registry within 1 s", async () => {
    const v1b = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v1b") });
    try {
      const c = await consumer();
      const greet = traffic(c, (x) => x.invoke("greet", ["n"]));
      try {
        await settled(greet.results, 0, "v1", 10, 5000);
        const edit = Date.now();
        writeFileSync(
          join(dir, "registry.yaml"),
          registryYaml([{ address: v1.address, revision: "v1" }, { address: v1b.address, revision: "v1" }, { address: v2.address, revision: "v2" }]),
        );
        await until("a call answered by the new provider", () => greet.results.some((r) => r.at >= edit && r.subset === "v1b"), 3000);
        const first = greet.results.find((r) => r.at >= edit && r.subset === "v1b")!;
        expect(first.at - edit).toBeLessThan(1000);
      } finally {
        await greet.stop();
      }
      expect(greet.failures).toEqual([]);
    } finally {
      writeFileSync(join(dir, "registry.yaml"), registryYaml([{ address: v1.address, revision: "v1" }, { address: v2.address, revision: "v2" }]));
      await until("the provider removed", async () => (await adminJson<Array<{ endpoints: unknown[] }>>("/clusters")).every((x) => x.endpoints.length <= 2));
      await v1b.close();
    }
  });

  it("moves established connections within 1 s of a rules edit, with no failed call", async () => {
    const c = await consumer();
    const t = traffic(c, (x) => x.invoke("sayHello", ["g"], gray));
    try {
      await settled(t.results, 0, "v2", 20, 5000);
      const connections = proxy!.downstreamCount;
      const edit = Date.now();
      writeFileSync(join(dir, "rules.yaml"), GRAY_V1);
      expect(await settled(t.results, edit, "v1", 50, 3000)).toBeLessThan(1000);
      const back = Date.now();
      writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
      expect(await settled(t.results, back, "v2", 50, 3000)).toBeLessThan(1000);
      expect(proxy!.downstreamCount).toBe(connections);
    } finally {
      await t.stop();
    }
    expect(t.failures).toEqual([]);
  });

  it("keeps serving with no failed call while the control plane is stopped and restarted, then resyncs", async () => {
    const c = await consumer();
    const t = traffic(c, (x) => x.invoke("sayHello", ["g"], gray));
    try {
      await settled(t.results, 0, "v2", 20, 5000);
      const port = xdsPort;
      await control!.close();
      await until("the proxy saw the stream end", () => logs.some((l) => /xDS: stream to .* ended/.test(l)));
      const during = t.results.length;
      await until("calls while the control plane is down", () => t.results.length > during + 50);
      writeFileSync(join(dir, "rules.yaml"), GRAY_V1); // changed while it was down
      await startControl(port);
      const restarted = Date.now();
      await settled(t.results, restarted, "v1", 50, 15_000); // resynced: the rules edited meanwhile apply
    } finally {
      await t.stop();
      writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
    }
    expect(t.failures).toEqual([]);
    await until("back to the demo rules", async () => (await c.invoke("sayHello", ["g"], gray)) === "v2:hello g");
  });

  it("starts from its cache while the control plane is down, as a process, and says so", async () => {
    await proxy!.close();
    proxy = undefined;
    const port = xdsPort;
    await control!.close();
    control = undefined;
    const cli = join(packageRoot, "cli", "index.ts");
    const script = `import(${JSON.stringify(pathToFileURL(cli).href)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c))`;
    const args = ["proxy", "--xds", `127.0.0.1:${port}`, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--cache", join(dir, "cache")];
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script, ...args], { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await until("the ready line", () => /ready/.test(out), 20_000);
      expect(out).toMatch(/ready: listening on 127\.0\.0\.1:\d+ \(from the cache in .*not reached yet\)/);
      const port2 = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const c = await startConsumer({ address: `127.0.0.1:${port2}`, interface: SERVICE, version: VERSION, timeout: 3000 });
      consumers.push(c);
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
      expect(await c.invoke("greet", ["g"])).toBe("v1:greet g");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 40_000);
});

describe("a resource the proxy refuses (NACK)", () => {
  let dir: string;
  let v1: Provider;
  let v2: Provider;
  let server: AdsServer;
  let proxy: ProxyServer;
  const snapshot = new SnapshotCache();
  /** the Listener as generated (inline wasm filter), before a test replaces it */
  let lastGoodListener: Uint8Array | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-xds-nack-"));
    v1 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v1") });
    v2 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v2") });
    writeFileSync(join(dir, "registry.yaml"), registryYaml([{ address: v1.address, revision: "v1" }, { address: v2.address, revision: "v2" }]));
    writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
    // the model → the Envoy resources, as the control plane publishes them, into a snapshot this test controls
    const watch = await MeshWatch.start({ registry: `file:${join(dir, "registry.yaml")}`, rules: join(dir, "rules.yaml"), onModel: () => {}, log: () => {} });
    const model = watch.model;
    watch.close();
    // what the live generator publishes (the wasm filter by ECDS), but with the Listener carrying the wasm filter's
    // configuration inline, the form a Listener the tests below replace has
    const generated = new EnvoyResources({ mode: "dubbo-proxy", wasm: parseWasmSource() }).build(model);
    generated.delete(XdsTypeUrl.extensionConfig);
    new Publisher(snapshot, encodeEnvoy).publish(generated);
    const ecdsConfig = new EnvoyResources({ mode: "dubbo-proxy", wasm: parseWasmSource() }).build(model).get(XdsTypeUrl.extensionConfig)![0]!.object;
    const live = generated.get(XdsTypeUrl.listener)![0]!;
    const liveJson = live.object as { filter_chains: Array<{ filters: Json[] }> };
    const inline = {
      ...liveJson,
      filter_chains: [{ filters: [{ name: "envoy.filters.network.wasm", typed_config: ecdsConfig["typed_config"] }, liveJson.filter_chains[0]!.filters[1]!] }],
    };
    snapshot.update(XdsTypeUrl.listener, [makeResource(XdsTypeUrl.listener, live.name, encodeEnvoy(XdsTypeUrl.listener, inline))]);
    lastGoodListener = [...snapshot.resources(XdsTypeUrl.listener).values()][0]!.bytes;
    server = new AdsServer(snapshot);
    const port = await server.start("127.0.0.1:0");
    proxy = await ProxyServer.start({
      xds: { server: `127.0.0.1:${port}` },
      listen: { host: "127.0.0.1", port: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      log: () => {},
    });
    await proxy.whenReady();
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    await Promise.allSettled([v1?.close(), v2?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("NACKs a plugin configuration the filter refuses, naming the problem, and keeps routing by the last good one", async () => {
    const l = proxy.listenerAddresses[0]!;
    const c = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: VERSION, timeout: 3000 });
    try {
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
      const generation = proxy.filterVm.rootContextId;
      // the Listener again, its wasm filter's plugin configuration one the filter refuses (version 2)
      const listener = snapshot.resources(XdsTypeUrl.listener).values().next().value!;
      const json = decodeResource(XdsTypeUrl.listener, listener.bytes) as { name: string; filter_chains: Array<{ filters: Array<{ typed_config: { config: object } }> }> };
      const wasm = json.filter_chains[0]!.filters[0]!.typed_config;
      const bad = {
        name: json.name,
        address: { socket_address: { address: "127.0.0.1", port_value: 20880 } },
        filter_chains: [{ filters: [{ name: "envoy.filters.network.wasm", typed_config: { ...wasm, config: { ...wasm.config, configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"version": 2, "services": []}' } } } }] }],
      };
      snapshot.update(XdsTypeUrl.listener, [makeResource(XdsTypeUrl.listener, listener.name, encodeJson(XdsTypeUrl.listener, bad))]);
      let message = "";
      await until("the NACK", () => {
        const stream = server.status().streams[0];
        message = stream?.types[XdsTypeUrl.listener]?.lastNack?.message ?? "";
        return message !== "";
      });
      expect(message).toMatch(/the filter refused the plugin configuration: .*version/);
      // the last good configuration stays in force, on this connection and on new ones
      expect(proxy.filterVm.rootContextId).toBe(generation);
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
      const dump = (await (await fetch(`http://${proxy.adminAddress!.host}:${proxy.adminAddress!.port}/config_dump`)).json()) as {
        xds: { types: Record<string, { lastNack: { error: string } | null }> };
      };
      expect(dump.xds.types[XdsTypeUrl.listener]!.lastNack!.error).toBe(message);
      // a resource the proxy cannot use at all: a cluster type it does not support
      snapshot.update(XdsTypeUrl.cluster, [
        makeResource(XdsTypeUrl.cluster, "dns", encodeJson(XdsTypeUrl.cluster, { name: "dns", type: "STRICT_DNS", connect_timeout: "1s" })),
      ]);
      await until("the Cluster NACK", () => (server.status().streams[0]?.types[XdsTypeUrl.cluster]?.lastNack?.message ?? "") !== "");
      expect(server.status().streams[0]!.types[XdsTypeUrl.cluster]!.lastNack!.message).toMatch(/^Cluster dns\.type: "STRICT_DNS" is not supported/);
      expect(await c.invoke("greet", ["g"])).toBe("v1:greet g");
    } finally {
      await c.close();
    }
  });
  it("takes the plugin configuration by ECDS (config_discovery): an update reaches established connections, a refused one is NACKed", async () => {
    const l = proxy.listenerAddresses[0]!;
    const c = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: VERSION, timeout: 3000 });
    try {
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
      // the Listener as the live generator writes it: the wasm filter by config_discovery, its configuration by ECDS
      const good = [...snapshot.resources(XdsTypeUrl.listener).values()][0]!;
      const inlineJson = decodeResource(XdsTypeUrl.listener, lastGoodListener!) as {
        filter_chains: Array<{ filters: Array<{ name: string; typed_config: { "@type": string; config: { configuration: { value: string } } } }> }>;
      };
      const [wasmFilter, dubboProxy] = inlineJson.filter_chains[0]!.filters;
      const wasm = wasmFilter!.typed_config;
      const ecds = (plugin: string) =>
        makeResource(
          XdsTypeUrl.extensionConfig,
          "dubbo-mesh",
          encodeJson(XdsTypeUrl.extensionConfig, { name: "dubbo-mesh", typed_config: { ...wasm, config: { ...wasm.config, configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: plugin } } } }),
        );
      const listenerJson = {
        name: good.name,
        address: { socket_address: { address: "127.0.0.1", port_value: 20880 } },
        filter_chains: [
          {
            filters: [
              { name: "dubbo-mesh", config_discovery: { config_source: { ads: {}, resource_api_version: "V3" }, type_urls: [wasm["@type"]] } },
              {
                name: dubboProxy!.name,
                typed_config: {
                  "@type": dubboProxy!.typed_config["@type"],
                  stat_prefix: "dubbo_mesh",
                  drds: { config_source: { ads: {}, resource_api_version: "V3" }, route_config_name: "dubbo-mesh" },
                },
              },
            ],
          },
        ],
      };
      const plugin = JSON.parse(wasm.config.configuration.value) as { services: Array<{ routes: Array<{ name: string; destinations: Array<{ cluster: string; weight: number }> }> }> };
      snapshot.update(XdsTypeUrl.extensionConfig, [ecds(JSON.stringify(plugin))]);
      snapshot.update(XdsTypeUrl.dubboRoute, [
        makeResource(XdsTypeUrl.dubboRoute, "dubbo-mesh", encodeJson(XdsTypeUrl.dubboRoute, { name: "dubbo-mesh", route_config: [] })),
      ]);
      snapshot.update(XdsTypeUrl.listener, [makeResource(XdsTypeUrl.listener, good.name, encodeJson(XdsTypeUrl.listener, listenerJson))]);
      await until("the ECDS resource held", () => {
        const types = server.status().streams[0]?.types ?? {};
        return (
          types[XdsTypeUrl.extensionConfig]?.lastAck !== undefined &&
          types[XdsTypeUrl.dubboRoute]?.lastAck !== undefined &&
          types[XdsTypeUrl.listener]?.lastAck?.version === types[XdsTypeUrl.listener]?.lastSent?.version
        );
      });
      await until("ready on the ECDS configuration", () => proxy.ready);
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v2:hello g");
      // the gray route moved to v1 by ECDS alone: the established connection follows
      const grayRoute = plugin.services[0]!.routes.find((r) => r.name === "gray")!;
      grayRoute.destinations = [{ cluster: "outbound|20880|v1|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo", weight: 100 }];
      snapshot.update(XdsTypeUrl.extensionConfig, [ecds(JSON.stringify(plugin))]);
      await until("gray calls on the same connection going to v1", async () => (await c.invoke("sayHello", ["g"], gray)) === "v1:hello g");
      // a plugin configuration the filter refuses, by ECDS: NACKed on the ECDS type, traffic stays on the last good one
      snapshot.update(XdsTypeUrl.extensionConfig, [ecds('{"version": 1, "services": "none"}')]);
      let message = "";
      await until("the ECDS NACK", () => {
        message = server.status().streams[0]?.types[XdsTypeUrl.extensionConfig]?.lastNack?.message ?? "";
        return message !== "";
      });
      expect(message).toMatch(/the filter refused the plugin configuration: .*services/);
      expect(await c.invoke("sayHello", ["g"], gray)).toBe("v1:hello g");
    } finally {
      await c.close();
    }
  });
});
