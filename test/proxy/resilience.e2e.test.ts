/**
 * Failure handling with real peers: a provider killed mid-traffic, request timeouts from the `timeout`
 * attachment, circuit breakers, and requests the proxy cannot route — each answered with a Dubbo error
 * response, never a hang.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, holding, startMesh, tally } from "./harness.js";
import { startConsumer } from "../support/dubbo-peers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const RULES = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: resilience}
spec:
  interface: org.apache.dubbo.demo.DemoService
  version: 1.0.0
  subsets:
    - {name: v1, labels: {revision: v1}}
    - {name: v2, labels: {revision: v2}}
  routes:
    - name: slow-v2
      match: {method: {exact: slow}}
      route: [{subset: v2}]
    - name: all
      route: [{}]
`;

/** Settle a promise with its outcome and how long it took. */
async function outcome<T>(p: Promise<T>): Promise<{ ok: boolean; value?: T; error?: string; ms: number }> {
  const t0 = Date.now();
  try {
    return { ok: true, value: await p, ms: Date.now() - t0 };
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: Date.now() - t0 };
  }
}

describe("a provider killed mid-traffic", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    // v2's slow calls never answer: they are in flight when v2 goes, however long getting there takes
    mesh = await startMesh({ rules: RULES, v2Methods: { slow: holding("v2").held("slow") } });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("moves traffic to the other provider; calls in flight on it fail with an error; nothing hangs", async () => {
    const c = await mesh.consumer(5000);
    // warm up: both endpoints take traffic
    expect(tally(await Promise.all(Array.from({ length: 20 }, () => c.invoke("sayHello", ["w"]))))).toEqual({ v1: 10, v2: 10 });

    const inflight = Array.from({ length: 4 }, () => outcome(c.invoke("slow", ["never"])));
    const traffic: Promise<{ ok: boolean; value?: unknown; error?: string; ms: number; at: number }>[] = [];
    let issued = 0;
    let killedAt = Infinity;
    let issuedAfterKill = 0;
    // Calls every 5 ms, until 60 have been issued well after the kill (bounded: 20 s).
    const loop = (async () => {
      const end = Date.now() + 20_000;
      while (issuedAfterKill < 60 && Date.now() < end) {
        const at = Date.now();
        if (at > killedAt + 100) issuedAfterKill++;
        issued++;
        traffic.push(outcome(c.invoke("sayHello", ["t"])).then((o) => ({ ...o, at })));
        await sleep(5);
      }
    })();
    // kill v2 once the slow calls are there and traffic flows
    await until("the slow calls at v2 and traffic", () => mesh.v2.received.filter((r) => r.method === "slow").length === 4 && issued >= 20);
    killedAt = Date.now();
    await mesh.v2.close();
    await loop;

    const slowResults = await Promise.all(inflight);
    for (const r of slowResults) {
      expect(r.ok).toBe(false);
      // failed when the connection went (not a timeout)
      expect(r.error).toMatch(/lost with the request in flight|closed/);
    }
    const results = await Promise.all(traffic);
    const after = results.filter((r) => r.at > killedAt + 100);
    expect(after.length).toBeGreaterThan(50);
    for (const r of after) expect(r).toMatchObject({ ok: true, value: "v1:hello t" });
    // Only calls that could have been in flight to v2 when it went may fail, and with the proxy's error.
    for (const r of results.filter((x) => !x.ok)) {
      expect(r.at).toBeLessThanOrEqual(killedAt + 100);
      expect(r.error).toMatch(/dubbo-mesh: cluster .*(lost with the request in flight|connect failed)/);
    }
    expect(results.filter((x) => x.ok).length).toBeGreaterThan(results.length / 2);

    // The dead endpoint is ejected after consecutive failures; a call routed only to v2 fails fast.
    const onlyV2 = await outcome(c.invoke("slow", ["fast"]));
    expect(onlyV2.ok).toBe(false);
    expect(onlyV2.ms).toBeLessThan(1000);
    const clusters = (await (await fetch(`${mesh.adminUrl}/clusters`)).json()) as {
      name: string;
      endpoints: { address: string; healthy: boolean }[];
    }[];
    const whole = clusters.find((cl) => cl.name.startsWith("outbound|20880||"))!;
    expect(whole.endpoints.find((e) => e.address === mesh.v2.address)?.healthy).toBe(false);
    expect(whole.endpoints.find((e) => e.address === mesh.v1.address)?.healthy).toBe(true);
  });
});

describe("timeouts, circuit breakers and unroutable requests", () => {
  let mesh: Mesh;
  // slow calls (routed to v2) wait until released: they stay in flight as long as the test needs
  const v2 = holding("v2");
  beforeAll(async () => {
    mesh = await startMesh({
      rules: RULES,
      v2Methods: { slow: v2.held("slow") },
      extraConfig: `  circuitBreakers: {maxRequests: 3}\n`,
    });
  });
  afterAll(async () => {
    v2.release();
    await mesh?.close();
  });

  it("honours the timeout attachment: the proxy answers with a timeout error long before the client gives up", async () => {
    const c = await mesh.consumer(5000);
    const r = await outcome(c.invoke("slow", ["timeout"], { requestProps: { timeout: "200" } }));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/no response from 127\.0\.0\.1:\d+ within 200 ms/); // the proxy's answer, not the client's 5 s timeout
    expect(r.ms).toBeGreaterThanOrEqual(180);
    // the connection stays usable, and the late response is dropped
    expect(await c.invoke("sayHello", ["after"])).toMatch(/^v[12]:hello after$/);
  });

  it("trips the max-requests circuit breaker with a Dubbo error, not a hang", async () => {
    const c = await mesh.consumer(5000);
    const arrivedBefore = v2.arrived(); // the timeout test's call is still held at v2, but no longer active in the proxy
    const calls = Array.from({ length: 8 }, () => outcome(c.invoke("slow", ["cb"])));
    // the three admitted calls are held at the provider; the other five are refused meanwhile
    const settled: Awaited<(typeof calls)[number]>[] = [];
    for (const p of calls) void p.then((r) => settled.push(r));
    await until("five refusals", () => settled.length === 5);
    expect(v2.arrived() - arrivedBefore).toBe(3);
    for (const r of settled) expect(r.error).toMatch(/over its limit of 3 active requests/);
    v2.release();
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.ok).map((r) => r.value)).toEqual(["v2:slow cb", "v2:slow cb", "v2:slow cb"]);
    expect(results.filter((r) => !r.ok)).toHaveLength(5);
  });

  it("answers a request for a service no rule or registry knows with a Dubbo error naming it", async () => {
    const stranger = await startConsumer({ address: mesh.address, interface: "com.example.Nobody", version: "1.0.0" });
    try {
      const r = await outcome(stranger.invoke("hello", ["x"]));
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/dubbo-mesh: no route for com\.example\.Nobody\.hello/);
      expect(r.ms).toBeLessThan(1000);
    } finally {
      await stranger.close();
    }
    const stats = await (await fetch(`${mesh.adminUrl}/stats`)).text();
    expect(stats).toMatch(/dubbo_mesh_requests_total\{service="com\.example\.Nobody",method="hello",route="[^"]*",cluster="",result="no_route"\} 1/);
  });
});
