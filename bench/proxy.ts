/**
 * `npm run bench:proxy` — what the fallback proxy costs a real Dubbo consumer.
 *
 * A sofa-rpc-node consumer calls a sofa-rpc-node provider (dubbo protocol) at 1, 16 and 64 concurrent calls:
 *   (a) direct     consumer → provider
 *   (b) proxy      consumer → dubbo-mesh proxy (the filter .wasm decides every request) → provider
 *   (c) pipe       consumer → a plain Node TCP pipe (no parsing) → provider
 * Provider, proxy and pipe run in child processes of their own (this file in another role), so each has its
 * own event loop, as in a real deployment. Prints one JSON object: requests/s, p50 and p99 latency per
 * path and concurrency, and the ratios (proxy vs pipe throughput, p99 the proxy adds over direct).
 *
 * A second section ("isolated") measures the proxy's own cost in one process, without the peers (see
 * `isolated`).
 *
 * A third ("deny") runs 64 concurrent calls through a proxy with a deny rule, alternating rounds with no call
 * denied and with 1% of calls denied (they carry the attachment the rule matches): every denied call must
 * fail with the rule's message, no other call may fail, and the throughput should stay within 5%. Then 40
 * raw connections each send 6 MiB of a 7 MiB frame and stop; the proxy's RSS is read from /proc before,
 * at its peak (VmHWM), after they close and after 2 s of ordinary calls, next to the number of connections
 * the proxy shed.
 *
 * BENCH_SECONDS (default 3) sets the measured time per point, taken in 3 rounds in which the paths take
 * turns; each point is preceded by a short warm-up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { cpus, loadavg } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startConsumer, startProvider } from "../proxy/demo/dubbo-peers.js";
import { ProxyServer } from "../proxy/server/proxy-server.js";

const SERVICE = "org.apache.dubbo.demo.BenchService";
const VERSION = "1.0.0";
const CONCURRENCY = [1, 16, 64];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 500;
const ROUNDS = 3;
const DENY_ATTACHMENT = "bench-deny";

async function role(name: string, arg: string | undefined): Promise<void> {
  let port: number;
  if (name === "provider") {
    const p = await startProvider({
      interface: SERVICE,
      version: VERSION,
      methods: {
        async echo(s: string) {
          return s;
        },
      },
    });
    port = p.port;
  } else if (name === "proxy") {
    const proxy = await ProxyServer.start({
      config: {
        listeners: [{ name: "bench", address: "127.0.0.1:0" }],
        admin: null,
        filter: {
          configuration: {
            version: 1,
            services: [{ interface: SERVICE, version: VERSION, defaultCluster: "bench", routes: [] }],
          },
        },
        clusters: [{ name: "bench", endpoints: [`127.0.0.1:${arg}`] }],
      },
      logLevel: "warn",
    });
    port = proxy.listenerAddresses[0].port;
  } else if (name === "proxy-deny") {
    // As "proxy", with a deny rule on an attachment the benchmark sends with 1% of calls.
    const proxy = await ProxyServer.start({
      config: {
        listeners: [{ name: "bench", address: "127.0.0.1:0" }],
        admin: null,
        filter: {
          configuration: {
            version: 1,
            services: [
              {
                interface: SERVICE,
                version: VERSION,
                defaultCluster: "bench",
                deny: [{ name: "bench-deny", match: { attachments: { [DENY_ATTACHMENT]: { present: true } } } }],
                routes: [],
              },
            ],
          },
        },
        clusters: [{ name: "bench", endpoints: [`127.0.0.1:${arg}`] }],
      },
      logLevel: "error",
    });
    port = proxy.listenerAddresses[0].port;
  } else if (name === "pipe") {
    const server = createServer({ noDelay: true }, (down) => {
      const up = connect({ host: "127.0.0.1", port: Number(arg), noDelay: true });
      down.pipe(up).pipe(down);
      const kill = () => {
        down.destroy();
        up.destroy();
      };
      down.on("error", kill).on("close", kill);
      up.on("error", kill).on("close", kill);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  } else throw new Error(`unknown role ${name}`);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

function startRole(name: string, arg?: string): Promise<{ child: ChildProcess; port: number }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ["--import", "tsx", self, "--role", name, ...(arg ? [arg] : [])], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve({ child, port: (JSON.parse(line) as { port: number }).port }));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

interface Point {
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

type Consumer = Awaited<ReturnType<typeof startConsumer>>;

/** Run `concurrency` closed loops of calls for `ms`; latencies of successful calls are appended to `into`. */
async function run(consumer: Consumer, concurrency: number, ms: number, into: number[] | null): Promise<number> {
  const payload = "x".repeat(64);
  let errors = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await consumer.invoke("echo", [payload]);
          into?.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return errors;
}

/**
 * One concurrency level for every path: a consumer per path, a warm-up each, then ROUNDS rounds in which the
 * paths take turns (so load from elsewhere on the machine falls on all of them alike).
 */
async function measureLevel(paths: Record<string, number>, concurrency: number): Promise<Record<string, Point>> {
  const consumers: Record<string, Consumer> = {};
  const latencies: Record<string, number[]> = {};
  const elapsed: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const [name, port] of Object.entries(paths)) {
    consumers[name] = await startConsumer({ address: `127.0.0.1:${port}`, interface: SERVICE, version: VERSION, timeout: 5000 });
    await run(consumers[name], concurrency, WARMUP_MS, null);
    latencies[name] = [];
    elapsed[name] = 0;
    errors[name] = 0;
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(paths)) {
      const t0 = performance.now();
      errors[name] += await run(consumers[name], concurrency, (SECONDS * 1000) / ROUNDS, latencies[name]);
      elapsed[name] += (performance.now() - t0) / 1000;
    }
  }
  const out: Record<string, Point> = {};
  for (const name of Object.keys(paths)) {
    await consumers[name].close();
    const l = latencies[name].sort((a, b) => a - b);
    const q = (p: number) => l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? NaN;
    out[name] = {
      concurrency,
      requestsPerSecond: Math.round(l.length / elapsed[name]),
      p50Ms: Number(q(0.5).toFixed(3)),
      p99Ms: Number(q(0.99).toFixed(3)),
      errors: errors[name],
    };
  }
  return out;
}

/**
 * The proxy's own cost, without the sofa-rpc-node peers: a raw client keeps W requests (pre-encoded frames)
 * in flight on one connection against a provider that answers every request with a canned response; client,
 * provider, proxy and pipe share this one process. Microseconds per request show what each hop costs.
 */
async function isolated(): Promise<Record<string, { inflight: number; requestsPerSecond: number; microsPerRequest: number }[]>> {
  const { requestEncode } = (await import("node:module")).createRequire(import.meta.url)("dubbo-remoting/lib/protocol/index.js") as {
    requestEncode(id: number, req: Record<string, unknown>, options: Record<string, unknown>): Buffer;
  };
  const frames = Array.from({ length: 1024 }, (_, i) =>
    requestEncode(i + 1, { serverSignature: `${SERVICE}:${VERSION}`, methodName: "echo", args: ["x".repeat(64)], requestProps: {}, group: "" }, { codecType: "hessian2" }),
  );
  const canned = createServer({ noDelay: true }, (s) => {
    let buf: Buffer = Buffer.alloc(0);
    s.on("error", () => undefined); // peers closing at the end of a point
    s.on("data", (d: Buffer) => {
      buf = buf.length > 0 ? Buffer.concat([buf, d]) : d;
      const out: Buffer[] = [];
      while (buf.length >= 16) {
        const len = 16 + buf.readInt32BE(12);
        if (buf.length < len) break;
        const r = Buffer.from([0xda, 0xbb, 0x02, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x91, 0x01, 0x78]);
        buf.copy(r, 4, 4, 12);
        out.push(r);
        buf = buf.subarray(len);
      }
      if (out.length > 0) s.write(Buffer.concat(out));
    });
  });
  await new Promise<void>((r) => canned.listen(0, "127.0.0.1", r));
  const providerPort = (canned.address() as AddressInfo).port;
  const proxy = await ProxyServer.start({
    config: {
      listeners: [{ name: "bench", address: "127.0.0.1:0" }],
      admin: null,
      filter: { configuration: { version: 1, services: [{ interface: SERVICE, version: VERSION, defaultCluster: "bench", routes: [] }] } },
      clusters: [{ name: "bench", endpoints: [`127.0.0.1:${providerPort}`] }],
    },
    logLevel: "warn",
  });
  const pipe = createServer({ noDelay: true }, (down) => {
    const up = connect({ host: "127.0.0.1", port: providerPort, noDelay: true });
    down.pipe(up).pipe(down);
    down.on("error", () => up.destroy());
    up.on("error", () => down.destroy());
  });
  await new Promise<void>((r) => pipe.listen(0, "127.0.0.1", r));
  const paths: Record<string, number> = { direct: providerPort, proxy: proxy.listenerAddresses[0].port, pipe: (pipe.address() as AddressInfo).port };
  const out: Record<string, { inflight: number; requestsPerSecond: number; microsPerRequest: number }[]> = { direct: [], proxy: [], pipe: [] };
  for (const inflight of [1, 64]) {
    for (const [name, port] of Object.entries(paths)) {
      const sock = connect({ host: "127.0.0.1", port, noDelay: true });
      sock.on("error", () => undefined);
      await new Promise((r) => sock.once("connect", r));
      let done = 0;
      let next = 0;
      let pending: Buffer = Buffer.alloc(0);
      sock.on("data", (d: Buffer) => {
        pending = pending.length > 0 ? Buffer.concat([pending, d]) : d;
        let n = 0;
        while (pending.length >= 16) {
          const len = 16 + pending.readInt32BE(12);
          if (pending.length < len) break;
          pending = pending.subarray(len);
          n++;
        }
        done += n;
        for (let i = 0; i < n; i++) sock.write(frames[next++ % frames.length]);
      });
      for (let i = 0; i < inflight; i++) sock.write(frames[next++ % frames.length]);
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      const start = done;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2));
      const ms = performance.now() - t0;
      sock.destroy();
      out[name].push({ inflight, requestsPerSecond: Math.round(((done - start) * 1000) / ms), microsPerRequest: Number(((ms * 1000) / (done - start)).toFixed(1)) });
    }
  }
  await proxy.close();
  canned.close();
  pipe.close();
  return out;
}

interface DenyCounts {
  answered: number;
  denied: number;
  deniedWithoutMessage: number;
  otherFailures: number;
}

/** 64 closed loops for `ms`; every `denyEvery`-th call (0: none) carries the attachment the deny rule matches. */
async function runMixed(consumer: Consumer, ms: number, denyEvery: number, counts: DenyCounts): Promise<void> {
  const payload = "x".repeat(64);
  const deny = { requestProps: { [DENY_ATTACHMENT]: "1" } };
  let n = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const denied = denyEvery > 0 && ++n % denyEvery === 0;
        try {
          await consumer.invoke("echo", [payload], denied ? deny : {});
          if (denied) counts.deniedWithoutMessage++; // a denied call must not succeed
          else counts.answered++;
        } catch (err) {
          if (!denied) counts.otherFailures++;
          else if (/request denied by rule 'bench-deny'/.test((err as Error).message)) counts.denied++;
          else counts.deniedWithoutMessage++;
        }
      }
    }),
  );
}

/** The run without denies and the run with 1% denied, alternating rounds on one proxy, 64 concurrent calls. */
async function mixedDeny(port: number): Promise<Record<string, unknown>> {
  const none: DenyCounts = { answered: 0, denied: 0, deniedWithoutMessage: 0, otherFailures: 0 };
  const mixed: DenyCounts = { answered: 0, denied: 0, deniedWithoutMessage: 0, otherFailures: 0 };
  const a = await startConsumer({ address: `127.0.0.1:${port}`, interface: SERVICE, version: VERSION, timeout: 5000 });
  const b = await startConsumer({ address: `127.0.0.1:${port}`, interface: SERVICE, version: VERSION, timeout: 5000 });
  const warm: DenyCounts = { answered: 0, denied: 0, deniedWithoutMessage: 0, otherFailures: 0 };
  await runMixed(a, WARMUP_MS, 0, warm);
  await runMixed(b, WARMUP_MS, 100, warm);
  let noneSeconds = 0;
  let mixedSeconds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let t0 = performance.now();
    await runMixed(a, (SECONDS * 1000) / ROUNDS, 0, none);
    noneSeconds += (performance.now() - t0) / 1000;
    t0 = performance.now();
    await runMixed(b, (SECONDS * 1000) / ROUNDS, 100, mixed);
    mixedSeconds += (performance.now() - t0) / 1000;
  }
  await a.close();
  await b.close();
  const noneRate = (none.answered + none.denied) / noneSeconds;
  const mixedRate = (mixed.answered + mixed.denied) / mixedSeconds;
  return {
    concurrency: 64,
    withoutDenies: { callsPerSecond: Math.round(noneRate), ...none },
    onePercentDenied: { callsPerSecond: Math.round(mixedRate), ...mixed },
    throughputRatio: Number((mixedRate / noneRate).toFixed(3)),
  };
}

/** VmRSS and VmHWM (peak) of a process, MiB, from /proc (Linux). */
function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: Math.round(kb("VmRSS") / 1024), peakMiB: Math.round(kb("VmHWM") / 1024) };
}

/**
 * 40 connections each send the header of a 7 MiB request and 6 MiB of its body, then stop. The proxy (default
 * maxBufferedBytes, 128 MiB) holds what it can and sheds the largest holders beyond that; its memory before,
 * at its peak and after the connections close.
 */
async function partialFrames(port: number, pid: number): Promise<Record<string, unknown>> {
  const before = memoryOf(pid);
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const head = Buffer.alloc(16);
  head.writeUInt16BE(0xdabb, 0);
  head[2] = 0xc2;
  head.writeInt32BE(7 << 20, 12);
  let shed = 0;
  const sockets = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const s = connect({ host: "127.0.0.1", port, noDelay: true });
      s.on("error", () => undefined);
      s.on("close", () => shed++);
      await new Promise((r) => s.once("connect", r));
      return s;
    }),
  );
  await Promise.all(
    sockets.map(async (s) => {
      s.write(head);
      for (let i = 0; i < 6 && !s.destroyed; i++) await new Promise<void>((r) => s.write(chunk, () => r()));
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const held = memoryOf(pid);
  const shedBeforeClose = shed;
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 2000));
  const after = memoryOf(pid);
  // The held bytes are garbage once their connections close; V8 frees them at its next full collection,
  // which ordinary traffic brings: 2 s of calls at 64 concurrent, then the RSS again.
  const consumer = await startConsumer({ address: `127.0.0.1:${port}`, interface: SERVICE, version: VERSION, timeout: 5000 });
  const traffic: DenyCounts = { answered: 0, denied: 0, deniedWithoutMessage: 0, otherFailures: 0 };
  await runMixed(consumer, 2000, 0, traffic);
  await consumer.close();
  const afterTraffic = memoryOf(pid);
  return {
    connections: 40,
    bytesSentEach: 16 + 6 * chunk.length,
    shedByProxy: shedBeforeClose,
    rssBeforeMiB: before.rssMiB,
    rssWhileHeldMiB: held.rssMiB,
    peakRssMiB: held.peakMiB,
    peakBeforeLoadMiB: before.peakMiB,
    rssAfterCloseMiB: after.rssMiB,
    rssAfterTrafficMiB: afterTraffic.rssMiB,
    callsAfter: traffic.answered,
    failuresAfter: traffic.otherFailures,
  };
}

async function main(): Promise<void> {
  const provider = await startRole("provider");
  const proxy = await startRole("proxy", String(provider.port));
  const pipe = await startRole("pipe", String(provider.port));
  const denyProxy = await startRole("proxy-deny", String(provider.port));
  const paths = { direct: provider.port, proxy: proxy.port, pipe: pipe.port };
  const results: Record<string, Point[]> = { direct: [], proxy: [], pipe: [] };
  let deny: Record<string, unknown>;
  let partial: Record<string, unknown>;
  try {
    for (const c of CONCURRENCY) {
      const level = await measureLevel(paths, c);
      for (const name of Object.keys(paths)) results[name].push(level[name]);
    }
    deny = await mixedDeny(denyProxy.port);
    partial = await partialFrames(denyProxy.port, denyProxy.child.pid!);
  } finally {
    for (const r of [provider, proxy, pipe, denyProxy]) r.child.stdin?.end();
  }
  const at = (path: string, c: number) => results[path].find((p) => p.concurrency === c)!;
  const ratios: Record<string, number> = {};
  for (const c of CONCURRENCY) {
    ratios[`proxyVsPipeThroughput@${c}`] = Number((at("proxy", c).requestsPerSecond / at("pipe", c).requestsPerSecond).toFixed(3));
    ratios[`proxyVsDirectThroughput@${c}`] = Number((at("proxy", c).requestsPerSecond / at("direct", c).requestsPerSecond).toFixed(3));
    ratios[`proxyAddedP99Ms@${c}`] = Number((at("proxy", c).p99Ms - at("direct", c).p99Ms).toFixed(3));
    ratios[`pipeAddedP99Ms@${c}`] = Number((at("pipe", c).p99Ms - at("direct", c).p99Ms).toFixed(3));
    ratios[`proxyAddedP50Ms@${c}`] = Number((at("proxy", c).p50Ms - at("direct", c).p50Ms).toFixed(3));
    // What the proxy's own work costs beyond the extra hop a plain pipe also adds.
    ratios[`proxyMinusPipeP99Ms@${c}`] = Number((at("proxy", c).p99Ms - at("pipe", c).p99Ms).toFixed(3));
  }
  const alone = await isolated();
  const iso = (path: string, w: number) => alone[path].find((p) => p.inflight === w)!;
  for (const w of [1, 64]) {
    ratios[`isolatedProxyMinusPipeMicros@${w}`] = Number((iso("proxy", w).microsPerRequest - iso("pipe", w).microsPerRequest).toFixed(1));
    ratios[`isolatedProxyVsPipeThroughput@${w}`] = Number((iso("proxy", w).requestsPerSecond / iso("pipe", w).requestsPerSecond).toFixed(3));
  }
  const mixed = deny.onePercentDenied as DenyCounts;
  const goals = {
    "proxy >= 70% of pipe throughput @64": ratios["proxyVsPipeThroughput@64"] >= 0.7,
    "proxy adds < 1 ms p99 @16": ratios["proxyAddedP99Ms@16"] < 1,
    "1% denied @64: no other call fails": mixed.otherFailures === 0 && mixed.deniedWithoutMessage === 0 && (deny.withoutDenies as DenyCounts).otherFailures === 0,
    "1% denied @64: throughput within 5%": (deny.throughputRatio as number) >= 0.95,
  };
  process.stdout.write(
    `${JSON.stringify({ benchmark: "proxy", secondsPerPoint: SECONDS, rounds: ROUNDS, node: process.version, cpus: cpus().length, loadAverage: loadavg().map((x) => Number(x.toFixed(2))), results, isolated: alone, deny, partialFrames: partial, ratios, goals }, null, 2)}\n`,
  );
}

const roleIndex = process.argv.indexOf("--role");
if (roleIndex >= 0) {
  role(process.argv[roleIndex + 1], process.argv[roleIndex + 2]).catch((err) => {
    process.stderr.write(`bench role failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench:proxy failed: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
