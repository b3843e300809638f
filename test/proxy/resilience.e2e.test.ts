/**
 * Failure handling with real peers: a provider killed mid-traffic, request timeouts from the `timeout`
 * attachment, circuit breakers, and requests the proxy cannot route — each answered with a Dubbo error
 * response, never a hang.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, startMesh, tally } from "./harness.js";
import { startConsumer } from "../support/dubbo-peers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

const slow = (subset: string) => ({
  async slow(ms: number) {
    await sleep(ms);
    return `${subset}:slept ${ms}`;
  },
});

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
    mesh = await startMesh({ rules: RULES, v1Methods: slow("v1"), v2Methods: slow("v2") });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("moves traffic to the other provider; calls in flight on it fail with an error; nothing hangs", async () => {
    const c = await mesh.consumer(5000);
    // warm up: both endpoints take traffic
    expect(tally(await Promise.all(Array.from({ length: 20 }, () => c.invoke("sayHello", ["w"]))))).toEqual({ v1: 10, v2: 10 });

    const inflight = Array.from({ length: 4 }, () => outcome(c.invoke("slow", [2000])));
    const traffic: Promise<{ ok: boolean; value?: unknown; error?: string; ms: number; at: number }>[] = [];
    const t0 = Date.now();
    let killedAt = Infinity;
    const loop = (async () => {
      while (Date.now() - t0 < 1500) {
        const at = Date.now();
        traffic.push(outcome(c.invoke("sayHello", ["t"])).then((o) => ({ ...o, at })));
        await sleep(5);
      }
    })();
    await sleep(300);
    killedAt = Date.now();
    await mesh.v2.close();
    await loop;

    const slowResults = await Promise.all(inflight);
    for (const r of slowResults) {
      expect(r.ok).toBe(false);
      expect(r.ms).toBeLessThan(1500); // failed when the connection went, not at the 2 s mark or a timeout
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
    const onlyV2 = await outcome(c.invoke("slow", [1]));
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
  beforeAll(async () => {
    mesh = await startMesh({
      rules: RULES,
      v1Methods: slow("v1"),
      v2Methods: slow("v2"),
      extraConfig: `  circuitBreakers: {maxRequests: 3}\n`,
    });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("honours the timeout attachment: the proxy answers with a timeout error long before the client gives up", async () => {
    const c = await mesh.consumer(5000);
    const r = await outcome(c.invoke("slow", [1500], { requestProps: { timeout: "200" } }));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/no response from 127\.0\.0\.1:\d+ within 200 ms/);
    expect(r.ms).toBeGreaterThanOrEqual(180);
    expect(r.ms).toBeLessThan(1000);
    // the connection stays usable, and the late response is dropped
    expect(await c.invoke("sayHello", ["after"])).toMatch(/^v[12]:hello after$/);
  });

  it("trips the max-requests circuit breaker with a Dubbo error, not a hang", async () => {
    const c = await mesh.consumer(5000);
    const results = await Promise.all(Array.from({ length: 8 }, () => outcome(c.invoke("slow", [300]))));
    const ok = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(ok.length).toBe(3);
    expect(refused.length).toBe(5);
    for (const r of refused) {
      expect(r.error).toMatch(/over its limit of 3 active requests/);
      expect(r.ms).toBeLessThan(200);
    }
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
