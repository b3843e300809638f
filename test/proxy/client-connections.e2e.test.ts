/**
 * Client connections with real peers: the drain (Dubbo's readonly event on every connection, calls in flight
 * and calls sent after the event all answered, the drain timeout as the bound), the idle timeout (heartbeats
 * and requests in flight keep a connection open) and TCP keepalive (seen on the proxy's socket with `ss`).
 *
 * The readonly event is checked where a real consumer receives it: the tests wrap dubbo-remoting's decoder
 * factory — the `protocol` sofa-rpc-node's consumers decode with — and record every event frame decoded.
 * (sofa-rpc-node itself ignores the event: dubbo-remoting decodes any request event as a "heartbeat" packet
 * and the consumer's connection listens for responses only, so it keeps sending; the proxy serves on.)
 */
import { execFileSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import type { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dubboProtocol } from "../support/dubbo-peers.js";
import { type Mesh, startMesh } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const slowMethods = (subset: string) => ({
  async slow(ms: number) {
    await sleep(ms);
    return `${subset}:slept ${ms}`;
  },
});

/** Record the data of every event frame a dubbo-remoting decoder decodes while `on` (the consumers' side included). */
function recordDecodedEvents(): { events: unknown[]; restore(): void } {
  const protocol = dubboProtocol as { decoder(options: unknown): Writable };
  const original = protocol.decoder;
  const events: unknown[] = [];
  protocol.decoder = (options: unknown) => {
    const decoder = original(options);
    decoder.on("heartbeat", (packet: { data: unknown }) => events.push(packet.data));
    return decoder;
  };
  return { events, restore: () => (protocol.decoder = original) };
}

function openSocket(address: string): Promise<Socket> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: Number(port) });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

describe("drain", () => {
  let mesh: Mesh;
  let recorder: ReturnType<typeof recordDecodedEvents>;
  beforeAll(async () => {
    recorder = recordDecodedEvents();
    mesh = await startMesh({ v1Methods: slowMethods("v1"), v2Methods: slowMethods("v2") });
  });
  afterAll(async () => {
    recorder?.restore();
    await mesh?.close();
  });

  it("sends the readonly event on every client connection and loses no call, in flight or sent after the event", async () => {
    const gray = { "dubbo.tag": "gray" }; // route gray: v2; greet: v1
    const consumers = await Promise.all([0, 1, 2].map(() => mesh.consumer(8000)));
    // every consumer is connected and has been served once before the drain
    expect(await Promise.all(consumers.map((c) => c.invoke("greet", ["up"])))).toEqual(["v1:greet up", "v1:greet up", "v1:greet up"]);
    const calls: Promise<unknown>[] = [];
    for (const c of consumers) {
      calls.push(c.invoke("slow", [400], { requestProps: gray }), c.invoke("slow", [200], { requestProps: gray }), c.invoke("greet", ["in flight"]));
    }
    await until("the calls reach the providers", () => mesh.proxy.clusters.all().reduce((n, cl) => n + cl.active, 0) >= 6);
    expect(recorder.events.filter((e) => e === "R")).toEqual([]);

    const t0 = Date.now();
    const drained = mesh.proxy.drain(8000);
    await until("the readonly event at each consumer", () => recorder.events.filter((e) => e === "R").length === 3);
    expect((await fetch(`${mesh.adminUrl}/ready`)).status).toBe(503);
    await expect(openSocket(mesh.address)).rejects.toThrow(/ECONNREFUSED/);
    // sofa-rpc-node does not act on the event and keeps calling on the same connections: still served
    for (const c of consumers) calls.push(c.invoke("greet", ["after readonly"]), c.invoke("slow", [100], { requestProps: gray }));
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(results.map((r) => (r as PromiseFulfilledResult<unknown>).value)).toEqual(
      [0, 1, 2].flatMap(() => ["v2:slept 400", "v2:slept 200", "v1:greet in flight"]).concat([0, 1, 2].flatMap(() => ["v1:greet after readonly", "v2:slept 100"])),
    );
    // then each connection goes quiet and is closed: the drain ends long before its timeout
    await drained;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(mesh.proxy.downstreamCount).toBe(0);
    expect(mesh.logs.some((l) => /^info: draining: readonly event sent on 3 client connection\(s\)/.test(l))).toBe(true);
    expect(mesh.logs.some((l) => /drain timeout/.test(l))).toBe(false);
  });
});

describe("drain timeout", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ v2Methods: slowMethods("v2"), extraConfig: "drainTimeoutMs: 400\n" });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("bounds the drain: what is still in flight then is cut, and the client hears of it at once", async () => {
    const c = await mesh.consumer(10_000);
    const long = c.invoke("slow", [5000], { requestProps: { "dubbo.tag": "gray" } }).then(
      () => "answered",
      (err: Error) => err.name,
    );
    await until("the call at the provider", () => mesh.proxy.clusters.all().some((cl) => cl.active === 1));
    const t0 = Date.now();
    await mesh.proxy.drain(); // the configured drainTimeoutMs
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(2000);
    expect(mesh.logs).toContain("warn: drain timeout after 400 ms: closing 1 client connection(s) with 1 request(s) in flight");
    expect(await long).toBe("RpcSocketCloseError"); // not its 10 s response timeout
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe("idle timeout and TCP keepalive", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ v2Methods: slowMethods("v2"), extraConfig: "clientConnections: {idleTimeoutMs: 1000, tcpKeepaliveMs: 45000}\n" });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("closes a connection that stays silent for the idle timeout", async () => {
    const s = await openSocket(mesh.address);
    const t0 = Date.now();
    await new Promise((r) => s.once("close", r));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(mesh.logs.some((l) => /^info: client 127\.0\.0\.1:\d+: idle for 1000 ms; closing$/.test(l))).toBe(true);
  });

  it("counts heartbeats as activity, as Dubbo does, and never closes a connection with a call in flight", async () => {
    const s = await openSocket(mesh.address);
    let replies = 0;
    let closed = false;
    s.on("data", (d: Buffer) => (replies += d.length / 17));
    s.once("close", () => (closed = true));
    const heartbeat = Buffer.from([0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x4e]);
    const beat = setInterval(() => s.write(heartbeat), 100);
    try {
      await until("30 heartbeats answered (3 s, three idle timeouts)", () => replies >= 30 || closed);
      expect(closed).toBe(false);
    } finally {
      clearInterval(beat);
    }
    await until("the close once the heartbeats stop", () => closed);

    // a call far longer than the idle timeout, on an otherwise silent connection
    const c = await mesh.consumer(5000);
    expect(await c.invoke("slow", [2500], { requestProps: { "dubbo.tag": "gray" } })).toBe("v2:slept 2500");
  });

  it("turns TCP keepalive on for client connections with the configured idle time", async () => {
    const s = await openSocket(mesh.address);
    try {
      const port = mesh.address.split(":")[1];
      await until("the connection accepted", () => mesh.proxy.downstreamCount > 0);
      const out = execFileSync("ss", ["-tnoH", "state", "established", `( sport = :${port} and dport = :${s.localPort} )`]).toString();
      // the kernel's keepalive timer on the proxy's side, started at 45 s
      expect(out).toMatch(/timer:\(keepalive,4[0-5]sec,0\)/);
    } finally {
      s.destroy();
    }
  });
});
