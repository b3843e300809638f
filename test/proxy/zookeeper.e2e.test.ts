/**
 * The proxy on a ZooKeeper registry: providers registered the way Java Dubbo registers them
 * (/dubbo/<interface>/providers/<url-encoded provider URL>, ephemeral), rules from a file. A provider that
 * appears in ZooKeeper while the proxy runs gets traffic; one that disappears stops getting it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Provider, startConsumer, startProvider } from "../support/dubbo-peers.js";
import { ZooKeeperServer } from "../../dev/zookeeper.js";
import { ProxyServer } from "../../proxy/server/proxy-server.js";
import { DEMO_RULES, SERVICE, VERSION, demoMethods, tally } from "./harness.js";

const require = createRequire(import.meta.url);
const zookeeper = require("node-zookeeper-client") as {
  createClient(connect: string, options: Record<string, number>): ZkClient;
  CreateMode: { EPHEMERAL: number };
};
interface ZkClient {
  once(event: "connected", cb: () => void): void;
  connect(): void;
  close(): void;
  mkdirp(path: string, cb: (err: Error | null) => void): void;
  create(path: string, data: Buffer, mode: number, cb: (err: Error | null) => void): void;
  remove(path: string, cb: (err: Error | null) => void): void;
}

const providerUrl = (address: string, revision: string) =>
  `dubbo://${address}/${SERVICE}?interface=${SERVICE}&version=${VERSION}&revision=${revision}&side=provider&dynamic=true&methods=sayHello,greet`;
const nodePath = (url: string) => `/dubbo/${encodeURIComponent(SERVICE)}/providers/${encodeURIComponent(url)}`;
const call = (fn: (cb: (err: Error | null) => void) => void) =>
  new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("proxy on a ZooKeeper registry", () => {
  let zk: ZooKeeperServer;
  let client: ZkClient;
  let v1: Provider;
  let v2: Provider;
  let proxy: ProxyServer;
  let dir: string;
  beforeAll(async () => {
    zk = await ZooKeeperServer.start();
    client = zookeeper.createClient(zk.connectString, { sessionTimeout: 4000, spinDelay: 100, retries: 1 });
    await new Promise<void>((resolve) => {
      client.once("connected", resolve);
      client.connect();
    });
    v1 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v1") });
    v2 = await startProvider({ interface: SERVICE, version: VERSION, methods: demoMethods("v2") });
    await call((cb) => client.mkdirp(`/dubbo/${encodeURIComponent(SERVICE)}/providers`, cb));
    await call((cb) => client.create(nodePath(providerUrl(v1.address, "v1")), Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb));
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-zk-proxy-"));
    writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
    proxy = await ProxyServer.start({
      config: {
        listeners: [{ name: "l", address: "127.0.0.1:0" }],
        admin: null,
        filter: { registry: `zookeeper://${zk.connectString}`, rules: join(dir, "rules.yaml") },
      },
      log: () => undefined,
    });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    client?.close();
    await Promise.allSettled([v1?.close(), v2?.close()]);
    await zk?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("routes to the providers ZooKeeper lists, following their arrival and departure", async () => {
    const l = proxy.listenerAddresses[0];
    const c = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: VERSION });
    try {
      expect(await c.invoke("greet", ["a"])).toBe("v1:greet a");
      // no v2 provider yet: the gray route's cluster has no endpoint
      await expect(c.invoke("sayHello", ["a"], { requestProps: { "dubbo.tag": "gray" } })).rejects.toThrow(/has no endpoints/);

      const v2Url = providerUrl(v2.address, "v2");
      await call((cb) => client.create(nodePath(v2Url), Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb));
      await until("v2 in the gray cluster", async () => {
        try {
          return (await c.invoke("sayHello", ["b"], { requestProps: { "dubbo.tag": "gray" } })) === "v2:hello b";
        } catch {
          return false;
        }
      });
      const split = await Promise.all(Array.from({ length: 200 }, () => c.invoke("sayHello", ["s"])));
      const t = tally(split);
      expect(t.v1).toBeGreaterThan(150);
      expect(t.v2).toBeGreaterThan(5);

      await call((cb) => client.remove(nodePath(v2Url), cb));
      await until("v2 gone from the registry", () =>
        proxy.clusters.all().every((cl) => cl.endpoints.every((e) => e.address !== v2.address)),
      );
      // the v2 subset is empty again: its routes get the proxy's error, the others still work
      await expect(c.invoke("sayHello", ["c"], { requestProps: { "dubbo.tag": "gray" } })).rejects.toThrow(/v2\|.* has no endpoints/);
      expect(tally(await Promise.all(Array.from({ length: 20 }, () => c.invoke("greet", ["t"]))))).toEqual({ v1: 20 });
    } finally {
      await c.close();
    }
  });
});
