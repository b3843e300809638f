/**
 * The proxy's life with real peers: the filter reloaded under traffic (rules edit, new .wasm), a bad
 * configuration edit that changes nothing, the admin API, heartbeats answered locally, graceful drain.
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { splitFrames } from "../../dev/split-frames.js";
import { DEMO_RULES, type Mesh, holding, proxyConfig, startMesh, tally } from "./harness.js";

const require = createRequire(import.meta.url);
const dubbo = require("dubbo-remoting/lib/protocol/index.js") as {
  requestEncode(id: number, req: Record<string, unknown>, options: Record<string, unknown>): Buffer;
};
const Response = require("dubbo-remoting/lib/protocol/response.js") as {
  decode(buf: Buffer): { packetId: number; packetType: string; data: { appResponse: unknown } | null };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("reloading under traffic", () => {
  let mesh: Mesh;
  const v2 = holding("v2");
  beforeAll(async () => {
    mesh = await startMesh({ v2Methods: { slow: v2.held("slow") } });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("applies a rules edit to new and established connections alike, and loses nothing", async () => {
    const old = await mesh.consumer();
    const vm = mesh.proxy.filterVm;
    const root = vm.rootContextId;
    let stop = false;
    let calls = 0;
    const failures: string[] = [];
    const traffic = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          try {
            await old.invoke("greet", ["x"]);
            calls++;
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    const slowCall = old.invoke("slow", ["across"], { requestProps: { "dubbo.tag": "gray" } });
    await until("the slow call at the provider", () => v2.arrived() === 1);
    // greet now goes to v2 instead of v1
    writeFileSync(join(mesh.dir, "rules.yaml"), DEMO_RULES.replace("name: greet-v1\n      match: {method: {exact: greet}}\n      route: [{subset: v1}]", "name: greet-v2\n      match: {method: {exact: greet}}\n      route: [{subset: v2}]"));
    await until("the filter reconfigured", () => vm.rootContextId !== root);
    const fresh = await mesh.consumer();
    expect(tally(await Promise.all(Array.from({ length: 20 }, () => fresh.invoke("greet", ["y"]))))).toEqual({ v2: 20 });
    const before = calls;
    await until("more calls on the old connection", () => calls >= before + 16);
    stop = true;
    await traffic;
    v2.release();
    expect(calls).toBeGreaterThan(before); // the old connection kept working through the reload
    expect(failures).toEqual([]);
    expect(await slowCall).toBe("v2:slow across"); // in flight across the reload
    // the old connection follows the new rules too (a new root context in the same VM, docs/host.md)
    expect(await old.invoke("greet", ["z"])).toBe("v2:greet z");
  });

  it("loads a new .wasm from a config edit, and keeps the last good configuration after a bad edit", async () => {
    const wasmCopy = join(mesh.dir, "filter.wasm");
    copyFileSync(join(packageRoot, "build", "dubbo_filter.wasm"), wasmCopy);
    const vm = mesh.proxy.filterVm;
    let generation = vm.generation;
    const withWasm = proxyConfig(mesh.dir).replace("filter:\n", `filter:\n  wasm: ${wasmCopy}\n`);
    mesh.writeConfig(withWasm);
    // same bytes, other file: the config change is applied but the VM stays
    await until("the reload", () => mesh.proxy.configDump() !== null && (mesh.proxy.configDump() as { filter: { wasm: string } }).filter.wasm === wasmCopy);
    expect(vm.generation).toBe(generation);
    // a different module (the debug build) at that path is loaded for new connections
    copyFileSync(join(packageRoot, "build", "dubbo_filter.debug.wasm"), wasmCopy);
    await until("the new module", () => vm.generation > generation);
    generation = vm.generation;
    const c = await mesh.consumer();
    expect(await c.invoke("sayHello", ["w"], { requestProps: { "dubbo.tag": "gray" } })).toBe("v2:hello w");

    mesh.writeConfig("listeners: [oops");
    await until("the failed reload", () => mesh.proxy.lastReload?.ok === false);
    // one line: file, line and column, the yaml library's message
    expect(mesh.proxy.lastReload?.error).toMatch(/proxy\.yaml:1:\d+: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
    mesh.writeConfig(withWasm.replace("clusterDefaults:", "clusterDefaults:\n  lbPolicy: FASTEST"));
    await until("the second failed reload", () => /lbPolicy/.test(mesh.proxy.lastReload?.error ?? ""));
    expect(mesh.proxy.lastReload?.error).toMatch(/clusterDefaults\.lbPolicy: expected one of/);
    expect(vm.generation).toBe(generation);
    // still serving with the last good configuration, old and new connections alike
    const d = await mesh.consumer();
    expect(await d.invoke("sayHello", ["still"], { requestProps: { "dubbo.tag": "gray" } })).toBe("v2:hello still");
    expect(await c.invoke("greet", ["still"])).toMatch(/^v[12]:greet still$/);
    const dump = (await (await fetch(`${mesh.adminUrl}/config_dump`)).json()) as { lastReload: { ok: boolean } };
    expect(dump.lastReload.ok).toBe(false);
  });
});

describe("admin API, heartbeats and drain", () => {
  let mesh: Mesh;
  const v1 = holding("v1");
  const v2 = holding("v2");
  beforeAll(async () => {
    // a short drain quiet time: the drain below ends soon after the last answer (test/proxy/client-connections has the rest)
    mesh = await startMesh({
      v1Methods: { slow: v1.held("slow") },
      v2Methods: { slow: v2.held("slow") },
      extraConfig: "clientConnections: {drainQuietMs: 200}\n",
    });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("serves /stats, /clusters, /config_dump, /ready and /healthz", async () => {
    const c = await mesh.consumer();
    await Promise.all(Array.from({ length: 10 }, () => c.invoke("greet", ["s"])));
    const stats = await fetch(`${mesh.adminUrl}/stats`);
    expect(stats.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await stats.text();
    expect(text).toMatch(/dubbo_mesh_requests_total\{service="org\.apache\.dubbo\.demo\.DemoService",method="greet",route="greet-v1",cluster="outbound\|20880\|v1\|[^"]+",result="ok"\} 10/);
    expect(text).toMatch(/dubbo_mesh_request_duration_seconds_bucket\{service="org\.apache\.dubbo\.demo\.DemoService",method="greet",route="greet-v1",cluster="[^"]+",le="\+Inf"\} 10/);
    expect(text).toMatch(/dubbo_mesh_request_duration_seconds_count\{[^}]*method="greet"[^}]*\} 10/);
    expect(text).toMatch(/dubbo_mesh_cluster_endpoints_healthy\{cluster="outbound\|20880\|v1\|[^"]+"\} 1/);
    expect(text).toMatch(/dubbo_mesh_filter_metric\{name="[^"]*responses\.status\.20",kind="counter"\} [1-9]/);
    // metric types as Prometheus reads them, and the process metrics under their standard names
    expect(text).toContain("# TYPE dubbo_mesh_requests_total counter\n");
    expect(text).toContain("# TYPE dubbo_mesh_request_duration_seconds histogram\n");
    expect(text).toContain("# TYPE dubbo_mesh_cluster_requests_active gauge\n");
    expect(text).toMatch(/\n# TYPE process_cpu_user_seconds_total counter\nprocess_cpu_user_seconds_total \d/);
    expect(text).toMatch(/\nprocess_resident_memory_bytes \d+/);
    expect(text).not.toContain("dubbo_mesh_proxy_process");
    const clusters = (await (await fetch(`${mesh.adminUrl}/clusters`)).json()) as { name: string; endpoints: { address: string; labels: Record<string, string> }[] }[];
    expect(new Set(clusters.map((x) => x.name))).toEqual(
      new Set([
        "outbound|20880||org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
        "outbound|20880|v1|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
        "outbound|20880|v2|org.apache.dubbo.demo.demoservice.v1-0-0.dubbo",
      ]),
    );
    // the subset cluster's ClusterLoadAssignment holds the v2 provider only
    expect(clusters.find((x) => x.name.includes("|v2|"))?.endpoints.map((e) => e.address)).toEqual([mesh.v2.address]);
    const dump = (await (await fetch(`${mesh.adminUrl}/config_dump`)).json()) as { filter: { pluginConfiguration: { version: number; services: unknown[] } } };
    expect(dump.filter.pluginConfiguration.version).toBe(1);
    expect(dump.filter.pluginConfiguration.services).toHaveLength(1);
    expect((await fetch(`${mesh.adminUrl}/ready`)).status).toBe(200);
    expect((await fetch(`${mesh.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${mesh.adminUrl}/nope`)).status).toBe(404);
  });

  it("answers a client's heartbeat itself, with the same id", async () => {
    const [host, port] = mesh.address.split(":");
    const sock = connect({ host, port: Number(port) });
    const heartbeat = Buffer.from([0xda, 0xbb, 0xe2, 0, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0, 1, 0x4e]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      sock.once("data", resolve);
      sock.once("error", reject);
      sock.write(heartbeat);
    });
    sock.destroy();
    expect([...reply]).toEqual([0xda, 0xbb, 0x22, 20, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0, 1, 0x4e]);
  });

  it("drains: stops accepting, finishes what is in flight, then stops", async () => {
    const c = await mesh.consumer(5000);
    const inflight = c.invoke("slow", ["drain"], { requestProps: { "dubbo.tag": "gray" } });
    const greetInFlight = c.invoke("greet", ["last"]);
    await until("the slow call at the provider", () => v2.arrived() === 1);
    const drained = mesh.proxy.drain(3000);
    expect((await fetch(`${mesh.adminUrl}/ready`).catch(() => ({ status: 0 }))).status).not.toBe(200);
    const [host, port] = mesh.address.split(":");
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port: Number(port) });
      s.once("connect", () => {
        s.destroy();
        resolve(false);
      });
      s.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(await greetInFlight).toBe("v1:greet last");
    await until("only the connection of the slow call left", () => mesh.proxy.downstreamCount === 1); // the drain waits for it
    v2.release();
    await drained;
    expect(await inflight).toBe("v2:slow drain");
    expect(mesh.proxy.downstreamCount).toBe(0);
  });
});

describe("a client that half-closes", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("still gets the answers to what it sent before its FIN", async () => {
    const [host, port] = mesh.address.split(":");
    const sock = connect({ host, port: Number(port), allowHalfOpen: true });
    await new Promise((r) => sock.once("connect", r));
    // a real request (encoded by dubbo-remoting, as a Node consumer sends it) and a heartbeat, then FIN
    const request = dubbo.requestEncode(
      77,
      { serverSignature: "org.apache.dubbo.demo.DemoService:1.0.0", methodName: "greet", args: ["fin"], requestProps: {}, group: "" },
      { codecType: "hessian2" },
    );
    const heartbeat = Buffer.from([0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0x4e]);
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => sock.once("end", r));
    sock.end(Buffer.concat([request, heartbeat]));
    await ended;
    sock.destroy();
    const frames = splitFrames(Buffer.concat(chunks));
    expect(frames).toHaveLength(2);
    const response = frames.map((f) => Response.decode(f)).find((f) => f.packetType === "response")!;
    expect(response.packetId).toBe(77);
    expect(response.data?.appResponse).toBe("v1:greet fin");
  });
});

describe("request ids", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("gives each client its own 64-bit ids back, though requests of many clients share one upstream connection", async () => {
    const [host, port] = mesh.address.split(":");
    const clients = await Promise.all(
      [0, 1].map(async () => {
        const sock = connect({ host, port: Number(port) });
        await new Promise((r) => sock.once("connect", r));
        const chunks: Buffer[] = [];
        sock.on("data", (d: Buffer) => chunks.push(d));
        return { sock, chunks };
      }),
    );
    // the same ids on both clients, one above 2^32: both go to v1 (greet-v1), on one upstream connection
    const ids = [2 ** 32 + 5, 7, 2 ** 40 + 1];
    for (const [n, c] of clients.entries()) {
      c.sock.write(
        Buffer.concat(
          ids.map((id) =>
            dubbo.requestEncode(
              id,
              { serverSignature: "org.apache.dubbo.demo.DemoService:1.0.0", methodName: "greet", args: [`c${n}-${id}`], requestProps: {}, group: "" },
              { codecType: "hessian2" },
            ),
          ),
        ),
      );
    }
    await until("all answers", () => clients.every((c) => Buffer.concat(c.chunks).length > 0 && countFrames(Buffer.concat(c.chunks)) === 3));
    for (const [n, c] of clients.entries()) {
      const got = new Map<bigint, unknown>();
      for (const frame of splitFrames(Buffer.concat(c.chunks))) got.set(frame.readBigUInt64BE(4), Response.decode(frame).data?.appResponse);
      for (const id of ids) expect(got.get(BigInt(id))).toBe(`v1:greet c${n}-${id}`);
      c.sock.destroy();
    }
    const v1 = mesh.proxy.clusters.all().find((cl) => cl.name.includes("|v1|"))!;
    expect(v1.counters.connectionsTotal).toBe(1);
  });
});

function countFrames(all: Buffer): number {
  let n = 0;
  for (let off = 0; off + 16 <= all.length; n++) {
    const len = 16 + all.readInt32BE(off + 12);
    if (off + len > all.length) break;
    off += len;
  }
  return n;
}

describe("one-way requests", () => {
  const seen: string[] = [];
  let mesh: Mesh;
  beforeAll(async () => {
    const record = (subset: string) => ({
      async note(text: string) {
        seen.push(`${subset}:${text}`);
        return null;
      },
    });
    mesh = await startMesh({ v1Methods: record("v1"), v2Methods: record("v2") });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("are routed and delivered, on a fresh upstream connection and on an established one, and nothing waits for them", async () => {
    const [host, port] = mesh.address.split(":");
    const sock = connect({ host, port: Number(port) });
    await new Promise((r) => sock.once("connect", r));
    const oneWay = (id: number, text: string, tag?: string) => {
      const f = dubbo.requestEncode(
        id,
        { serverSignature: "org.apache.dubbo.demo.DemoService:1.0.0", methodName: "note", args: [text], requestProps: tag ? { "dubbo.tag": tag } : {}, group: "" },
        { codecType: "hessian2" },
      );
      f[2] &= ~0x40; // clear the two-way flag
      return f;
    };
    sock.write(oneWay(1, "first", "gray")); // v2; its upstream connection is still being established
    await until("the first note", () => seen.length === 1);
    sock.write(Buffer.concat([oneWay(2, "second", "gray"), oneWay(3, "third", "gray")]));
    await until("three notes", () => seen.length === 3);
    expect(seen).toEqual(["v2:first", "v2:second", "v2:third"]);
    sock.destroy();
    const v2 = mesh.proxy.clusters.all().find((c) => c.name.includes("|v2|"))!;
    await until("nothing in flight", () => v2.active === 0);
    expect(v2.endpoints[0].active).toBe(0);
    const stats = await (await fetch(`${mesh.adminUrl}/stats`)).text();
    expect(stats).toMatch(/dubbo_mesh_requests_total\{[^}]*method="note",route="gray"[^}]*result="one_way"\} 3/);
  });
});
