/**
 * The ZooKeeper registry against a real ZooKeeper (dev/zookeeper.ts), with providers written by a
 * real sofa-rpc-node server and by a client that writes nodes the way Java Dubbo does.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zookeeper from "node-zookeeper-client";
import type { Client } from "node-zookeeper-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistry, type Provider, type Registry, type RegistryState } from "../../control/registry/index.js";
import { ZookeeperRegistry, type ZookeeperRegistryOptions, parseZookeeperTarget } from "../../control/registry/zookeeper-registry.js";
import { generate } from "../../control/cli-generate.js";
import { DEFAULT_WASM_URL } from "../../control/generate/xds/wasm-filter.js";
import { packageRoot } from "../../common/paths.js";
import { ZooKeeperServer, freePort } from "../../dev/zookeeper.js";

const require = createRequire(import.meta.url);

let zk: ZooKeeperServer;
beforeAll(async () => {
  zk = await ZooKeeperServer.start();
});
afterAll(async () => {
  await zk?.dispose();
});

/** java.net.URLEncoder.encode(s, "UTF-8"), as Dubbo's URL.encode uses it for node names. */
function javaUrlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A ZooKeeper client that registers providers like Java Dubbo's ZookeeperRegistry. */
class JavaStyleWriter {
  private constructor(private readonly client: Client) {}

  static async connect(connect: string): Promise<JavaStyleWriter> {
    const client = zookeeper.createClient(connect, { sessionTimeout: 4000, spinDelay: 100, retries: 1 });
    await within("writer connect", new Promise<void>((resolve) => {
      client.once("connected", () => resolve());
      client.connect();
    }));
    return new JavaStyleWriter(client);
  }

  static path(url: string, root = "/dubbo"): { dir: string; node: string } {
    const u = new URL(url);
    const iface = u.searchParams.get("interface") ?? u.pathname.slice(1);
    const dir = `${root}/${javaUrlEncode(iface)}/providers`;
    return { dir, node: `${dir}/${javaUrlEncode(url)}` };
  }

  /** Persistent parents, ephemeral provider node (dynamic=true). */
  async register(url: string, options: { ephemeral?: boolean; rawName?: string; root?: string } = {}): Promise<string> {
    const { dir, node } = JavaStyleWriter.path(url, options.root);
    const path = options.rawName !== undefined ? `${dir}/${options.rawName}` : node;
    await within("mkdirp", new Promise<void>((resolve, reject) => this.client.mkdirp(dir, (err) => (err ? reject(err) : resolve()))));
    const mode = options.ephemeral === false ? zookeeper.CreateMode.PERSISTENT : zookeeper.CreateMode.EPHEMERAL;
    await within("create", new Promise<void>((resolve, reject) => this.client.create(path, Buffer.alloc(0), mode, (err) => (err ? reject(err) : resolve()))));
    return path;
  }

  async unregister(url: string, root?: string): Promise<void> {
    await this.remove(JavaStyleWriter.path(url, root).node);
  }

  async remove(path: string): Promise<void> {
    await within("remove", new Promise<void>((resolve, reject) => this.client.remove(path, (err) => (err ? reject(err) : resolve()))));
  }

  close(): void {
    this.client.close();
  }
}

function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ZooKeeper ${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

async function waitFor(what: string, cond: () => boolean, ms = 1000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`not seen within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

interface Watched {
  registry: Registry;
  updates: (readonly Provider[])[];
  warnings: string[];
  states: RegistryState[];
  urls(iface?: string): string[];
}

/** Follows `uri`; `options` (ZooKeeper only) build the registry directly with those settings. */
async function watch(uri: string, options?: ZookeeperRegistryOptions): Promise<Watched> {
  const w: Watched = {
    registry: undefined as unknown as Registry,
    updates: [],
    warnings: [],
    states: [],
    urls(iface) {
      return this.registry
        .providers()
        .filter((p) => iface === undefined || p.interface === iface)
        .map((p) => p.url);
    },
  };
  const listener = {
    onUpdate: (p: readonly Provider[]) => w.updates.push(p),
    onWarning: (m: string) => w.warnings.push(m),
    onState: (s: RegistryState) => w.states.push(s),
  };
  w.registry = options ? new ZookeeperRegistry(uri.slice("zookeeper:".length), uri, listener, options) : createRegistry(uri, listener);
  await w.registry.start();
  return w;
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

describe("zookeeper registry URI", () => {
  it("parses hosts and the root; the default root covers Dubbo and sofa-rpc", () => {
    expect(parseZookeeperTarget("//127.0.0.1:2181")).toEqual({ connect: "127.0.0.1:2181", roots: ["/dubbo", "/sofa-rpc"] });
    expect(parseZookeeperTarget("//a:1,b:2/custom/")).toEqual({ connect: "a:1,b:2", roots: ["/custom"] });
    expect(() => parseZookeeperTarget("127.0.0.1:2181")).toThrow(/zookeeper:\/\/HOST:PORT/);
    expect(() => parseZookeeperTarget("//nohost")).toThrow(/'nohost' is not HOST:PORT/);
  });
});

describe("zookeeper registry with a real ZooKeeper", () => {
  it("sees a real sofa-rpc-node server registered through its ZookeeperRegistry (default root), and its removal", async () => {
    const { RpcServer } = require("sofa-rpc-node").server;
    const { ZookeeperRegistry } = require("sofa-rpc-node").registry;
    const sofaRegistry = new ZookeeperRegistry({ logger: quiet, address: zk.connectString });
    const port = await freePort();
    const server = new RpcServer({ logger: quiet, registry: sofaRegistry, port, protocol: require("dubbo-remoting"), publishAddress: "127.0.0.1" });
    server.addService({ interfaceName: "com.example.sofa.Echo", version: "1.0.0", group: "blue" }, { async echo(s: string) { return s; } });
    const w = await watch(`zookeeper://${zk.connectString}`);
    try {
      await server.start();
      await server.publish();
      await waitFor("the sofa-rpc-node provider", () => w.urls("com.example.sofa.Echo").length === 1);
      const p = w.registry.providers().find((x) => x.interface === "com.example.sofa.Echo")!;
      expect(p).toMatchObject({ host: "127.0.0.1", port, version: "1.0.0", group: "blue", weight: 100 });
      expect(p.params.get("language")).toBe("nodejs");
      expect(p.url.startsWith(`dubbo://127.0.0.1:${port}?`)).toBe(true); // the variant without a path segment
      await server.close();
      await waitFor("the sofa-rpc-node provider gone", () => w.urls("com.example.sofa.Echo").length === 0);
    } finally {
      await w.registry.close();
      await sofaRegistry.close();
    }
  });

  it("sees standard Dubbo URLs written as Java writes them: added, changed, removed, each within a second", async () => {
    const writer = await JavaStyleWriter.connect(zk.connectString);
    const iface = "org.apache.dubbo.demo.GreetingService";
    const a = `dubbo://127.0.0.1:20891/${iface}?anyhost=true&application=demo-provider&dubbo=2.0.2&dynamic=true&generic=false&interface=${iface}&methods=greet,hello&pid=6&revision=v1&side=provider&timestamp=1618918522655&version=1.0.0`;
    const b = a.replace(":20891/", ":20892/").replace("revision=v1", "revision=v2");
    const w = await watch(`zookeeper://${zk.connectString}/dubbo`);
    try {
      expect(w.urls(iface)).toEqual([]);
      await writer.register(a);
      await waitFor("provider a added", () => w.urls(iface).length === 1);
      const pa = w.registry.providers().find((p) => p.interface === iface)!;
      expect(pa).toMatchObject({ host: "127.0.0.1", port: 20891, version: "1.0.0", group: "", weight: 100 });
      expect(pa.params.get("methods")).toBe("greet,hello");

      await writer.register(b);
      await waitFor("provider b added", () => w.urls(iface).length === 2);

      // Dubbo re-registers a changed provider: a new node with the new URL, the old node removed.
      const b2 = `${b}&weight=50`;
      await writer.register(b2);
      await writer.unregister(b);
      await waitFor("provider b changed", () => w.registry.providers().some((p) => p.port === 20892 && p.weight === 50) && w.urls(iface).length === 2);

      await writer.unregister(a);
      await waitFor("provider a removed", () => w.urls(iface).length === 1 && w.urls(iface)[0] === b2);
      expect(w.updates.length).toBeGreaterThanOrEqual(4);
      expect(w.warnings).toEqual([]);
    } finally {
      await w.registry.close();
      writer.close(); // ephemeral nodes go with the session
    }
  });

  it("skips a malformed provider node with a warning that quotes it and keeps the good ones", async () => {
    const writer = await JavaStyleWriter.connect(zk.connectString);
    const iface = "org.apache.dubbo.demo.MalformedService";
    const good = `dubbo://127.0.0.1:20893/${iface}?interface=${iface}&version=1.0.0`;
    const w = await watch(`zookeeper://${zk.connectString}/dubbo`);
    try {
      await writer.register(good);
      await writer.register(good, { rawName: javaUrlEncode(`dubbo://127.0.0.1/${iface}?version=1.0.0`) }); // no port
      await writer.register(good, { rawName: "not-a-url-at-all" });
      await writer.register(good, { rawName: "dubbo%3A%2F%2F127.0.0.1%3A1%2F%E0%A4%A" }); // broken percent-encoding
      await waitFor("three warnings", () => w.warnings.length >= 3);
      await waitFor("the good provider", () => w.urls(iface).length === 1);
      expect(w.urls(iface)).toEqual([good]);
      expect(w.warnings.join("\n")).toContain(`malformed provider URL "dubbo://127.0.0.1/${iface}?version=1.0.0": no port`);
      expect(w.warnings.join("\n")).toContain('malformed provider URL "not-a-url-at-all"');
      expect(w.warnings.join("\n")).toMatch(/malformed provider node ".*%E0%A4%A": bad URL encoding/);
    } finally {
      await w.registry.close();
      writer.close();
    }
  });

  it("keeps the endpoints while ZooKeeper is down, then reconnects with its watches re-armed", async () => {
    const iface = "org.apache.dubbo.demo.OutageService";
    const a = `dubbo://127.0.0.1:20894/${iface}?interface=${iface}&version=1.0.0`;
    const writer = await JavaStyleWriter.connect(zk.connectString);
    await writer.register(a, { ephemeral: false });
    writer.close();
    // a short session (the server grants 2..20 ticks of 200 ms): it expires while ZooKeeper is down
    const w = await watch(`zookeeper://${zk.connectString}/dubbo`, { sessionTimeoutMs: 2000 });
    try {
      expect(w.urls(iface)).toEqual([a]);
      const updatesBefore = w.updates.length;
      await zk.stop();
      await waitFor("disconnected", () => w.states.includes("disconnected"), 3000);
      // down past the session's end: the registry gives the session up and keeps trying with a new one
      await waitFor("the session given up", () => w.states.includes("expired"), 5000);
      expect(w.urls(iface)).toEqual([a]); // last known endpoints kept
      expect(w.updates.length).toBe(updatesBefore); // nothing was published as removed
      await zk.restart();
      await waitFor("reconnected", () => w.states.at(-1) === "connected", 15_000).catch((e: Error) => {
        throw new Error(`${e.message} (states: ${w.states.join(", ")})`);
      });
      expect(w.urls(iface)).toEqual([a]);
      // a fresh client (the first one's session may not have survived a slow restart) changes the state
      const writer2 = await JavaStyleWriter.connect(zk.connectString);
      try {
        const b = a.replace(":20894/", ":20895/");
        await writer2.register(b, { ephemeral: false });
        await waitFor("a provider added after the restart", () => w.urls(iface).length === 2, 1000);
        await writer2.unregister(a);
        await writer2.unregister(b);
        await waitFor("removals after the restart", () => w.urls(iface).length === 0);
      } finally {
        writer2.close();
      }
    } finally {
      await w.registry.close();
    }
  });

  it("dubbo-mesh generate reads a ZooKeeper registry", async () => {
    const writer = await JavaStyleWriter.connect(zk.connectString);
    const iface = "org.apache.dubbo.demo.DemoService";
    const v1 = `dubbo://127.0.0.1:20881/${iface}?interface=${iface}&version=1.0.0&revision=v1`;
    const v2 = `dubbo://127.0.0.1:20882/${iface}?interface=${iface}&version=1.0.0&revision=v2`;
    const out = mkdtempSync(join(tmpdir(), "dubbo-mesh-zk-generate-"));
    try {
      await writer.register(v1);
      await writer.register(v2);
      const written = await generate({
        registry: `zookeeper://${zk.connectString}/dubbo`,
        rules: join(packageRoot, "examples", "rules.yaml"),
        out,
        mode: "dubbo-proxy",
        wasm: DEFAULT_WASM_URL,
        port: 20880,
      });
      expect(written).toContain("service-entries.yaml");
      // the same providers as examples/registry.yaml's, from ZooKeeper: the same routing, the same clusters
      const fromZk = JSON.parse(readFileSync(join(out, "plugin-config.json"), "utf8"));
      const fromFile = JSON.parse(readFileSync(join(packageRoot, "envoyfilters", "dubbo-proxy", "plugin-config.json"), "utf8"));
      expect(fromZk).toEqual(fromFile);
      const se = readFileSync(join(out, "service-entries.yaml"), "utf8");
      expect(se).toContain("tcp-dubbo: 20881");
      expect(se).toContain("tcp-dubbo: 20882");
    } finally {
      writer.close();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("after a restart that lost the data (session expired) reconciles to what the server now holds", async () => {
    const writer = await JavaStyleWriter.connect(zk.connectString);
    const iface = "org.apache.dubbo.demo.ExpiryService";
    const old = `dubbo://127.0.0.1:20896/${iface}?interface=${iface}&version=1.0.0`;
    await writer.register(old, { ephemeral: false });
    writer.close();
    const w = await watch(`zookeeper://${zk.connectString}/dubbo`);
    try {
      expect(w.urls(iface)).toEqual([old]);
      await zk.stop();
      await waitFor("disconnected", () => w.states.includes("disconnected"), 3000);
      expect(w.urls(iface)).toEqual([old]);
      await zk.restart({ wipe: true });
      const writer2 = await JavaStyleWriter.connect(zk.connectString);
      const fresh = old.replace(":20896/", ":20897/");
      await writer2.register(fresh, { ephemeral: false });
      await waitFor("the session expired", () => w.states.includes("expired"), 8000);
      await waitFor("reconciled to the new state", () => w.urls(iface).length === 1 && w.urls(iface)[0] === fresh, 5000);
      writer2.close();
    } finally {
      await w.registry.close();
    }
  });
});
