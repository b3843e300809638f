/**
 * End to end with real peers: two sofa-rpc-node providers (v1, v2) and sofa-rpc-node consumers calling through
 * the proxy, which routes every request on the consumer's one multiplexed connection as the .wasm decides.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, startMesh, tally } from "./harness.js";

/** Run `n` calls with at most `concurrency` in flight. */
async function many<T>(n: number, concurrency: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await call(i);
      }
    }),
  );
  return out;
}

describe("routing through the proxy (demo rules)", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("routes by method: greet always goes to v1", async () => {
    const c = await mesh.consumer();
    const results = await many(60, 8, (i) => c.invoke("greet", [`u${i}`]));
    expect(tally(results)).toEqual({ v1: 60 });
    expect(results[7]).toBe("v1:greet u7");
  });

  it("routes by attachment: dubbo.tag=gray always goes to v2, on the same connection as untagged calls", async () => {
    const c = await mesh.consumer();
    const gray = many(60, 8, () => c.invoke("sayHello", ["g"], { requestProps: { "dubbo.tag": "gray" } }));
    const greet = many(60, 8, () => c.invoke("greet", ["x"]));
    expect(tally(await gray)).toEqual({ v2: 60 });
    expect(tally(await greet)).toEqual({ v1: 60 });
  });

  it("splits 90/10 within ±3 points over 2000 calls", async () => {
    const c = await mesh.consumer();
    const results = await many(2000, 32, () => c.invoke("sayHello", ["s"]));
    const t = tally(results);
    expect((t.v1 ?? 0) + (t.v2 ?? 0)).toBe(2000);
    const v1Share = (t.v1 ?? 0) / 2000;
    expect(v1Share).toBeGreaterThanOrEqual(0.87);
    expect(v1Share).toBeLessThanOrEqual(0.93);
  });

  it("denies by rule: the call fails with the rule's name, the client and other clients go on", async () => {
    const victim = await mesh.consumer();
    const bystander = await mesh.consumer();
    await expect(victim.invoke("deleteUser", ["bob"], { timeout: 2000 })).rejects.toThrow(/request denied by rule 'no-deletes'/);
    expect(await victim.invoke("greet", ["next"])).toBe("v1:greet next");
    expect(await bystander.invoke("greet", ["still here"])).toBe("v1:greet still here");
    const stats = await (await fetch(`${mesh.adminUrl}/stats`)).text();
    expect(stats).toMatch(/dubbo_mesh_filter_metric\{name="[^"]*denied[^"]*",kind="counter"\} [1-9]/);
  });
});

describe("consistent hashing on an attachment", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({
      rules: `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: sticky}
spec:
  interface: org.apache.dubbo.demo.DemoService
  version: 1.0.0
  routes:
    - name: all
      route: [{}]
  loadBalancer: {consistentHash: {attachment: user}}
`,
    });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("sends the same key to the same endpoint every time, and different keys to both", async () => {
    const a = await mesh.consumer();
    const b = await mesh.consumer();
    const placement = new Map<string, string>();
    for (let u = 0; u < 40; u++) {
      const user = `user-${u}`;
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).invoke("sayHello", [user], { requestProps: { user } })),
      );
      const where = new Set(results.map((r) => String(r).split(":")[0]));
      expect(where.size, `${user} landed on ${[...where].join(", ")}`).toBe(1);
      placement.set(user, [...where][0]);
    }
    const counts = tally([...placement.values()]);
    expect(counts.v1).toBeGreaterThan(5);
    expect(counts.v2).toBeGreaterThan(5);
    const clusters = (await (await fetch(`${mesh.adminUrl}/clusters`)).json()) as { lbPolicy: string; endpoints: unknown[] }[];
    expect(clusters.some((c) => c.lbPolicy === "RING_HASH" && c.endpoints.length === 2)).toBe(true);
  });
});

describe("without the per-request extension (Envoy's way)", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ proxyOptions: { routeExtension: false } });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("routes each connection by the envoy.tcp_proxy.cluster filter state its first request set", async () => {
    const a = await mesh.consumer();
    expect(await a.invoke("greet", ["a"])).toBe("v1:greet a"); // greet-v1 chose the connection's cluster
    const grayOnA = await Promise.all(Array.from({ length: 10 }, () => a.invoke("sayHello", ["a"], { requestProps: { "dubbo.tag": "gray" } })));
    expect(tally(grayOnA)).toEqual({ v1: 10 });
    const b = await mesh.consumer();
    expect(await b.invoke("sayHello", ["b"], { requestProps: { "dubbo.tag": "gray" } })).toBe("v2:hello b");
    expect(tally(await Promise.all(Array.from({ length: 10 }, () => b.invoke("greet", ["b"]))))).toEqual({ v2: 10 });
  });
});

describe("upstream keep-alive", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("sends a heartbeat on an idle upstream connection and the provider answers it", async () => {
    const c = await mesh.consumer();
    expect(await c.invoke("greet", ["k"])).toBe("v1:greet k");
    const v1 = mesh.proxy.clusters.all().find((cl) => cl.name.includes("|v1|"))!;
    const conn = v1.endpoints[0].pool.conns[0];
    conn.keepAlive(); // notes the reads so far
    const reads = conn.readCount;
    conn.keepAlive(); // nothing read since: heartbeat
    expect(conn.heartbeatsSent).toBe(1);
    const end = Date.now() + 2000;
    while (conn.readCount === reads && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(conn.readCount).toBeGreaterThan(reads);
    expect(await c.invoke("greet", ["k2"])).toBe("v1:greet k2"); // same connection still serves
    expect(v1.endpoints[0].pool.conns[0]).toBe(conn);
  });
});
