/**
 * `npm run bench:proxy` — what the fallback proxy costs a real Dubbo consumer, configured as in a deployment:
 * `dubbo-mesh control` (a file registry and a rules file) serves xDS, `dubbo-mesh proxy --xds` takes its whole
 * configuration from it.
 *
 * A sofa-rpc-node consumer calls a sofa-rpc-node provider (dubbo protocol) at 1, 16 and 64 concurrent calls:
 *   (a) direct     consumer → provider
 *   (b) proxy      consumer → dubbo-mesh proxy --xds (the filter .wasm decides every request) → provider
 *   (c) pipe       consumer → a plain Node TCP pipe (no parsing) → provider
 * The providers, the pipe, the control plane and the proxy each run in a child process of their own, so each
 * has its own event loop, as in a deployment: this process is the load generator (the consumers), and
 * a control plane or proxy sharing its event loop would be delayed by the consumers' work and delay it in turn.
 * Prints one JSON object: requests/s, p50 and p99 latency per path and concurrency, and the ratios (proxy vs
 * pipe throughput, p99 the proxy adds over direct).
 *
 * A second section ("isolated") measures the proxy's own cost in one process, without the peers (see
 * `isolated`).
 *
 * A third ("deny") runs 64 concurrent calls through the proxy, whose rules have a deny rule, alternating rounds
 * with no call denied and with 1% of calls denied (they carry the attachment the rule matches): every denied
 * call must fail with the rule's message, no other call may fail, and the throughput should stay within 5%.
 *
 * A fourth ("ruleEdits"): 64 calls in flight on 4 established connections to a service whose one route flips
 * between subsets v1 and v2 (each provider answers with its subset); the rules file is replaced atomically
 * (write + rename) EDITS times; for each edit, the time from the rename to the last completed call that still
 * went to the old subset (after it, every completed call on those connections followed the new rule), with the
 * control plane's debounce (100 ms quiet) included. p50 and p99 (nearest rank) over the edits.
 *
 * Last ("partialFrames"), 40 raw connections each send 6 MiB of a 7 MiB frame and stop; the proxy's RSS is read
 * from /proc before, at its peak (VmHWM), after they close and after 2 s of ordinary calls, next to the number
 * of connections the proxy shed.
 *
 * BENCH_SECONDS (default 3) sets the measured time per point, taken in 3 rounds in which the paths take
 * turns; each point is preceded by a short warm-up. BENCH_EDITS (default 20) sets the number of rules edits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packageRoot } from "../common/paths.js";
import { parseWasmSource } from "../control/generate/xds/wasm-filter.js";
import { ControlPlane } from "../control/live/control-plane.js";
import { startConsumer, startProvider } from "../proxy/demo/dubbo-peers.js";
import { ProxyServer } from "../proxy/server/proxy-server.js";

const SERVICE = "org.apache.dubbo.demo.BenchService";
/** the service of the rules edits: one route, to subset v1 or v2; each provider answers with its subset */
const EDIT_SERVICE = "org.apache.dubbo.demo.EditService";
const VERSION = "1.0.0";
const CONCURRENCY = [1, 16, 64];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const EDITS = Number(process.env.BENCH_EDITS ?? 20);
const WARMUP_MS = 500;
const ROUNDS = 3;
const DENY_ATTACHMENT = "bench-deny";

/** A provider URL as Dubbo registers it (the registry file's form). */
function providerUrl(iface: string, port: number, methods: string, revision?: string): string {
  return (
    `dubbo://127.0.0.1:${port}/${iface}?application=bench-provider&dubbo=2.0.2&interface=${iface}&methods=${methods}` +
    `${revision ? `&revision=${revision}` : ""}&side=provider&version=${VERSION}`
  );
}

function registryYaml(urls: string[]): string {
  return `providers:\n${urls.map((u) => `  - ${u}\n`).join("")}`;
}

/** The bench service: no route (its one cluster), a deny rule on an attachment only the deny section sends. */
const BENCH_RULES = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: bench}
spec:
  interface: ${SERVICE}
  version: ${VERSION}
  deny:
    - name: bench-deny
      attachments: {${DENY_ATTACHMENT}: {present: true}}
`;

/** The rules: the bench service's, and the edit service's one route to `subset`. */
function rulesYaml(subset: "v1" | "v2"): string {
  return `${BENCH_RULES}---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: edit}
spec:
  interface: ${EDIT_SERVICE}
  version: ${VERSION}
  subsets:
    - {name: v1, labels: {revision: v1}}
    - {name: v2, labels: {revision: v2}}
  routes:
    - name: all
      route: [{subset: ${subset}}]
`;
}

/** What an editor or a ConfigMap update does: the new file complete under a temporary name, then renamed. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function role(name: string, arg: string | undefined): Promise<void> {
  let ports: number[];
  if (name === "providers") {
    // the bench service's provider, and the edit service's v1 and v2
    const bench = await startProvider({
      interface: SERVICE,
      version: VERSION,
      keepHistory: false,
      methods: {
        async echo(s: string) {
          return s;
        },
      },
    });
    ports = [bench.port];
    for (const subset of ["v1", "v2"]) {
      const p = await startProvider({
        interface: EDIT_SERVICE,
        version: VERSION,
        keepHistory: false,
        methods: {
          async which() {
            return subset;
          },
        },
      });
      ports.push(p.port);
    }
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
    ports = [(server.address() as AddressInfo).port];
  } else throw new Error(`unknown role ${name}`);
  process.stdout.write(`${JSON.stringify({ ports })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

function startRole(name: string, arg?: string): Promise<{ child: ChildProcess; ports: number[] }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ["--import", "tsx", self, "--role", name, ...(arg ? [arg] : [])], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve({ child, ports: (JSON.parse(line) as { ports: number[] }).ports }));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

/**
 * Runs `dubbo-mesh ARGS` (cli/index.ts, what bin/dubbo-mesh.js runs from dist/, here from the sources) and
 * resolves with the first match of `ready` in its standard output; its standard error goes to ours.
 */
function startCommand(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const cli = pathToFileURL(join(packageRoot, "cli", "index.ts")).href;
  const script = `import(${JSON.stringify(cli)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c))`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script, ...args], { cwd: packageRoot, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += String(d);
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once("exit", (code) => reject(new Error(`dubbo-mesh ${args[0]} exited with ${code}: ${out}`)));
  });
}

/** SIGTERM (the proxy drains; the control plane stops), SIGKILL after 5 s. */
function stopCommand(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
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
  // Configured over xDS like the proxy of the other sections, here with the control plane in this process.
  const dir = mkdtempSync(join(tmpdir(), "bench-proxy-isolated-"));
  writeFileSync(join(dir, "registry.yaml"), registryYaml([providerUrl(SERVICE, providerPort, "echo")]));
  writeFileSync(join(dir, "rules.yaml"), BENCH_RULES);
  const control = await ControlPlane.start({
    registry: `file:${join(dir, "registry.yaml")}`,
    rules: join(dir, "rules.yaml"),
    mode: "dubbo-proxy",
    wasm: parseWasmSource(),
    xds: "127.0.0.1:0",
    admin: null,
    mcp: false,
    log: () => undefined,
  });
  const proxy = await ProxyServer.start({
    xds: { server: `127.0.0.1:${control.xdsPort}` },
    listen: { host: "127.0.0.1", port: 0 },
    admin: null,
    logLevel: "warn",
  });
  await proxy.whenReady();
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
  await control.close();
  rmSync(dir, { recursive: true, force: true });
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

/** The proxy's `dubbo_mesh_downstream_connections` gauge, from its admin API. */
async function downstreamConnections(admin: string): Promise<number> {
  const text = await (await fetch(`${admin}stats`)).text();
  return Number(/^dubbo_mesh_downstream_connections (\d+)/m.exec(text)?.[1] ?? NaN);
}

const percentile = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;

/**
 * Rules edits under load: 4 consumers (one connection each, opened before the first edit) keep 16 calls each in
 * flight to the edit service; the rules file is replaced (write + rename) EDITS times, flipping the service's
 * one route between v1 and v2. For each edit: `followMs`, from the rename to the completion of the last call
 * that still went to the old subset (after it every completed call followed the new rule), and `firstNewMs`,
 * to the first call that went to the new one. An edit is over once every connection has completed 50 calls in
 * a row to the new subset and 300 ms have passed since the last old one; not within 5 s: counted as missed.
 */
async function ruleEdits(proxyPort: number, rules: string, admin: string): Promise<Record<string, unknown>> {
  const CONNECTIONS = 4;
  const PER_CONNECTION = 16;
  const consumers = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => startConsumer({ address: `127.0.0.1:${proxyPort}`, interface: EDIT_SERVICE, version: VERSION, timeout: 5000 })),
  );
  let expected = "v1";
  let editAt = 0;
  let lastOldAt = -1;
  let firstNewAt = -1;
  const runOfNew = consumers.map(() => 0);
  let calls = 0;
  let failures = 0;
  let stop = false;
  const loops = Promise.all(
    consumers.flatMap((consumer, k) =>
      Array.from({ length: PER_CONNECTION }, async () => {
        while (!stop) {
          let subset: string;
          try {
            subset = String(await consumer.invoke("which", []));
          } catch {
            failures++;
            continue;
          }
          calls++;
          if (subset === expected) {
            runOfNew[k]!++;
            if (firstNewAt < 0) firstNewAt = performance.now();
          } else {
            runOfNew[k] = 0;
            lastOldAt = performance.now();
          }
        }
      }),
    ),
  );
  const settled = async (limitMs: number): Promise<boolean> => {
    const end = performance.now() + limitMs;
    for (;;) {
      const now = performance.now();
      if (runOfNew.every((n) => n >= 50) && now - Math.max(lastOldAt, editAt) >= 300) return true;
      if (now > end) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const follow: number[] = [];
  const firstNew: number[] = [];
  let missed = 0;
  let connectionsBefore: number;
  let connectionsAfter: number;
  const t0 = performance.now();
  let callsAtStart: number;
  try {
    if (!(await settled(5000))) throw new Error("the edit service's calls do not all go to v1 before the first edit");
    connectionsBefore = await downstreamConnections(admin);
    callsAtStart = calls;
    for (let i = 0; i < EDITS; i++) {
      const next = expected === "v1" ? "v2" : "v1";
      writeAtomically(rules, rulesYaml(next));
      editAt = performance.now();
      expected = next;
      lastOldAt = -1;
      firstNewAt = -1;
      runOfNew.fill(0);
      if (await settled(5000)) {
        follow.push(lastOldAt < 0 ? 0 : lastOldAt - editAt);
        firstNew.push(firstNewAt - editAt);
      } else missed++;
    }
    connectionsAfter = await downstreamConnections(admin);
  } finally {
    stop = true;
    await loops;
    await Promise.all(consumers.map((c) => c.close()));
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...follow].sort((a, b) => a - b);
  const sortedFirst = [...firstNew].sort((a, b) => a - b);
  const ms = (x: number) => Number(x.toFixed(1));
  return {
    connections: CONNECTIONS,
    concurrency: CONNECTIONS * PER_CONNECTION,
    edits: EDITS,
    missed,
    followMs: { p50: ms(percentile(sorted, 0.5)), p99: ms(percentile(sorted, 0.99)), min: ms(sorted[0] ?? NaN), max: ms(sorted.at(-1) ?? NaN) },
    firstNewMs: { p50: ms(percentile(sortedFirst, 0.5)), p99: ms(percentile(sortedFirst, 0.99)) },
    eachFollowMs: follow.map(ms),
    callsPerSecond: Math.round((calls - callsAtStart) / seconds),
    failures,
    proxyConnectionsBefore: connectionsBefore,
    proxyConnectionsAfter: connectionsAfter,
  };
}

async function main(): Promise<void> {
  const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
  const dir = mkdtempSync(join(tmpdir(), "bench-proxy-"));
  const rules = join(dir, "rules.yaml");
  const providers = await startRole("providers");
  const [benchPort, v1Port, v2Port] = providers.ports as [number, number, number];
  const pipe = await startRole("pipe", String(benchPort));
  const commands: ChildProcess[] = [];
  let results: Record<string, Point[]> = {};
  let deny: Record<string, unknown>;
  let edits: Record<string, unknown>;
  let partial: Record<string, unknown>;
  try {
    writeFileSync(
      join(dir, "registry.yaml"),
      registryYaml([providerUrl(SERVICE, benchPort, "echo"), providerUrl(EDIT_SERVICE, v1Port, "which", "v1"), providerUrl(EDIT_SERVICE, v2Port, "which", "v2")]),
    );
    writeFileSync(rules, rulesYaml("v1"));
    const control = await startCommand(
      ["control", "--registry", `file:${join(dir, "registry.yaml")}`, "--rules", rules, "--xds", "127.0.0.1:0", "--admin", "off"],
      /ready: ADS on 127\.0\.0\.1:(\d+)/,
    );
    commands.push(control.child);
    const proxy = await startCommand(
      ["proxy", "--xds", `127.0.0.1:${control.match[1]}`, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "error"],
      /ready: listening on 127\.0\.0\.1:(\d+); admin (http:\S+)/,
    );
    commands.push(proxy.child);
    const proxyPort = Number(proxy.match[1]);
    const admin = proxy.match[2]!;
    const paths = { direct: benchPort, proxy: proxyPort, pipe: pipe.ports[0]! };
    results = { direct: [], proxy: [], pipe: [] };
    for (const c of CONCURRENCY) {
      const level = await measureLevel(paths, c);
      for (const name of Object.keys(paths)) results[name]!.push(level[name]!);
    }
    deny = await mixedDeny(proxyPort);
    edits = await ruleEdits(proxyPort, rules, admin);
    partial = await partialFrames(proxyPort, proxy.child.pid!);
  } finally {
    for (const child of commands.reverse()) await stopCommand(child);
    for (const r of [providers, pipe]) r.child.stdin?.end();
    rmSync(dir, { recursive: true, force: true });
  }
  const at = (path: string, c: number) => results[path]!.find((p) => p.concurrency === c)!;
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
  const iso = (path: string, w: number) => alone[path]!.find((p) => p.inflight === w)!;
  for (const w of [1, 64]) {
    ratios[`isolatedProxyMinusPipeMicros@${w}`] = Number((iso("proxy", w).microsPerRequest - iso("pipe", w).microsPerRequest).toFixed(1));
    ratios[`isolatedProxyVsPipeThroughput@${w}`] = Number((iso("proxy", w).requestsPerSecond / iso("pipe", w).requestsPerSecond).toFixed(3));
  }
  const mixed = deny.onePercentDenied as DenyCounts;
  const follow = edits.followMs as { p99: number };
  const goals = {
    "proxy >= 70% of pipe throughput @64": ratios["proxyVsPipeThroughput@64"]! >= 0.7,
    "proxy adds < 1 ms p99 @16": ratios["proxyAddedP99Ms@16"]! < 1,
    "1% denied @64: no other call fails": mixed.otherFailures === 0 && mixed.deniedWithoutMessage === 0 && (deny.withoutDenies as DenyCounts).otherFailures === 0,
    "1% denied @64: throughput within 5%": (deny.throughputRatio as number) >= 0.95,
    "rules edit → every call on established connections follows, p99 < 1 s": edits.missed === 0 && edits.failures === 0 && follow.p99 < 1000,
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: "proxy",
        configuredBy: "dubbo-mesh control (child process) → xDS → dubbo-mesh proxy --xds (child process)",
        secondsPerPoint: SECONDS,
        rounds: ROUNDS,
        node: process.version,
        cpus: cpus().length,
        loadAverageAtStart: loadAtStart,
        loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
        results,
        isolated: alone,
        deny,
        ruleEdits: edits,
        partialFrames: partial,
        ratios,
        goals,
      },
      null,
      2,
    )}\n`,
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
