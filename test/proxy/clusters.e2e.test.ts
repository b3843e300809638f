/**
 * Cluster behaviour behind an inline plugin configuration and hand-written clusters: empty clusters, dead
 * endpoints, retry of connection failures onto a live endpoint, ejection — with a real provider and consumer.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Consumer, type Provider, startConsumer, startProvider } from "../support/dubbo-peers.js";
import { ProxyServer } from "../../proxy/server/proxy-server.js";

const SERVICE = "com.example.Clusters";

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback port with nothing listening. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("clusters", () => {
  let provider: Provider;
  let proxy: ProxyServer;
  let consumer: Consumer;
  let dead: number;
  const logs: string[] = [];
  beforeAll(async () => {
    provider = await startProvider({
      interface: SERVICE,
      version: "1.0.0",
      methods: { async empty() { return "x"; }, async dead() { return "x"; }, async mixed() { return "live"; }, async missing() { return "x"; }, async tight() { return "one"; }, async flaky() { return "ok"; } },
    });
    dead = await deadPort();
    const route = (method: string, cluster: string) => ({ name: method, match: { method: { exact: method } }, destinations: [{ cluster, weight: 1 }] });
    proxy = await ProxyServer.start({
      config: {
        listeners: [{ name: "l", address: "127.0.0.1:0" }],
        admin: null,
        filter: {
          configuration: {
            version: 1,
            services: [{
              interface: SERVICE,
              version: "1.0.0",
              defaultCluster: "mixed",
              routes: [route("empty", "empty"), route("dead", "dead"), route("missing", "not-configured"), route("tight", "tight"), route("flaky", "flaky")],
            }],
          },
        },
        clusters: [
          { name: "empty" },
          { name: "dead", connectTimeoutMs: 300, endpoints: [`127.0.0.1:${dead}`] },
          {
            name: "flaky",
            lbPolicy: "RANDOM",
            outlierDetection: { consecutiveErrors: 1, baseEjectionTimeMs: 300, maxEjectionPercent: 50 },
            endpoints: [`127.0.0.1:${dead}`, provider.address],
          },
          // one connection allowed for two endpoints: everything goes over the one that has it
          { name: "tight", circuitBreakers: { maxConnections: 1 }, endpoints: [provider.address, `127.0.0.1:${dead}`] },
          {
            name: "mixed",
            outlierDetection: { consecutiveErrors: 2, baseEjectionTimeMs: 60000, maxEjectionPercent: 50 },
            endpoints: [`127.0.0.1:${dead}`, provider.address],
          },
        ],
      },
      log: (_level, message) => logs.push(message),
    });
    const l = proxy.listenerAddresses[0];
    consumer = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: "1.0.0" });
  });
  afterAll(async () => {
    await consumer?.close();
    await proxy?.close();
    await provider?.close();
  });

  it("answers a request for a cluster without endpoints with a Dubbo error", async () => {
    await expect(consumer.invoke("empty", [])).rejects.toThrow("dubbo-mesh: cluster empty has no endpoints");
  });

  it("answers a request for a cluster the configuration lacks with a Dubbo error", async () => {
    await expect(consumer.invoke("missing", [])).rejects.toThrow("dubbo-mesh: cluster not-configured is not configured");
  });

  it("answers when the only endpoint refuses connections, quickly", async () => {
    const t0 = Date.now();
    await expect(consumer.invoke("dead", [])).rejects.toThrow(new RegExp(`dubbo-mesh: cluster dead: endpoint 127\\.0\\.0\\.1:${dead}: connect failed: .*ECONNREFUSED`));
    expect(Date.now() - t0).toBeLessThan(1000);
    // and again, while the pool is in connect backoff: refused at once, with the last reason
    await expect(consumer.invoke("dead", [])).rejects.toThrow(
      new RegExp(`dubbo-mesh: no endpoint of cluster dead accepts connections \\(127\\.0\\.0\\.1:${dead}: connect failed: .*ECONNREFUSED`),
    );
  });

  it("brings an ejected endpoint back after its ejection time, and ejects it longer the next time", async () => {
    const flaky = proxy.clusters.get("flaky")!;
    const deadEndpoint = flaky.endpoints.find((e) => e.port === dead)!;
    const callUntil = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) {
        expect(await consumer.invoke("flaky", [])).toBe("ok"); // a failed connect is retried on the live one
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(cond()).toBe(true);
    };
    const ejectionLogs = () => logs.filter((m) => m.startsWith(`cluster flaky: ejected 127.0.0.1:${dead} for `));
    await callUntil(() => deadEndpoint.ejected);
    expect(deadEndpoint.ejections).toBe(1);
    expect(ejectionLogs()).toEqual([expect.stringContaining(" for 300 ms ")]);
    const firstUntil = deadEndpoint.ejectedUntil;
    await waitFor("the first ejection to end", () => !deadEndpoint.ejected);
    expect(performance.now()).toBeGreaterThanOrEqual(firstUntil - 2); // not before its 300 ms were up
    await callUntil(() => deadEndpoint.ejected);
    expect(deadEndpoint.ejections).toBe(2);
    expect(ejectionLogs()).toEqual([expect.stringContaining(" for 300 ms "), expect.stringContaining(" for 600 ms ")]); // 2 × 300 ms
    const secondUntil = deadEndpoint.ejectedUntil;
    expect(secondUntil).toBeGreaterThan(firstUntil);
    await waitFor("the second ejection to end", () => !deadEndpoint.ejected);
    expect(performance.now()).toBeGreaterThanOrEqual(secondUntil - 2);
  });

  it("keeps to max connections: requests use the connection there is", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => consumer.invoke("tight", [])));
    expect(results).toEqual(Array(10).fill("one"));
    const tight = proxy.clusters.get("tight")!;
    expect(tight.counters.connectionsTotal).toBe(1);
    expect(tight.counters.connectFailures).toBe(0); // the dead endpoint was never dialled
  });

  it("retries connection failures on another endpoint and ejects the dead one", async () => {
    const mixed = proxy.clusters.get("mixed")!;
    // Calls spread over time: the dead endpoint is tried again after each connect backoff (100, 200 ms...).
    const end = Date.now() + 20_000;
    while (mixed.healthyCount > 1 && Date.now() < end) {
      const results = await Promise.all(Array.from({ length: 5 }, () => consumer.invoke("mixed", [])));
      expect(results).toEqual(Array(5).fill("live"));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(mixed.counters.retries).toBeGreaterThan(0);
    const deadEndpoint = mixed.endpoints.find((e) => e.port === dead)!;
    expect(deadEndpoint.ejected).toBe(true);
    expect(mixed.healthyCount).toBe(1);
  });
});

describe("non-Dubbo bytes", () => {
  async function echoServer() {
    const s = createServer((c) => c.pipe(c));
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return s;
  }
  /** Sends `text` and waits until `text.length` bytes came back or the proxy closed the connection. */
  async function exchange(port: number, text: string): Promise<{ reply: string; closed: boolean }> {
    const sock = (await import("node:net")).connect({ host: "127.0.0.1", port });
    let reply = "";
    let closed = false;
    const done = new Promise<void>((resolve) => {
      sock.on("data", (d: Buffer) => {
        reply += d.toString();
        if (reply.length >= text.length) resolve();
      });
      sock.once("close", () => {
        closed = true;
        resolve();
      });
    });
    sock.on("error", () => undefined);
    sock.write(text);
    await done;
    const result = { reply, closed };
    sock.destroy();
    return result;
  }
  const start = (nonDubbo: string, echoPort: number) =>
    ProxyServer.start({
      config: {
        listeners: [{ name: "l", address: "127.0.0.1:0", defaultCluster: "echo" }],
        admin: null,
        filter: { configuration: { version: 1, nonDubbo, services: [] } },
        clusters: [{ name: "echo", endpoints: [`127.0.0.1:${echoPort}`] }],
      },
      log: () => undefined,
    });

  it("with the filter's nonDubbo: passthrough, are proxied byte for byte to the listener's cluster, as tcp_proxy would", async () => {
    const echo = await echoServer();
    const proxy = await start("passthrough", (echo.address() as AddressInfo).port);
    try {
      const r = await exchange(proxy.listenerAddresses[0].port, "GET / HTTP/1.0\r\n\r\n");
      expect(r.reply).toBe("GET / HTTP/1.0\r\n\r\n");
    } finally {
      await proxy.close();
      echo.close();
    }
  });

  it("with nonDubbo: close, close the connection", async () => {
    const echo = await echoServer();
    const proxy = await start("close", (echo.address() as AddressInfo).port);
    try {
      const r = await exchange(proxy.listenerAddresses[0].port, "GET / HTTP/1.0\r\n\r\n");
      expect(r).toEqual({ reply: "", closed: true });
    } finally {
      await proxy.close();
      echo.close();
    }
  });
});
