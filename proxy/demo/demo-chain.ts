/**
 * `dubbo-mesh demo` (what `npm start` runs): the whole chain on loopback, each part in a process of its own
 *
 *   registry file + rules file ─► control plane (this process: ControlPlane, ADS) ─xDS─► dubbo-mesh proxy
 *   providers v1, v2 (child) ◄── proxy (child, the filter .wasm) ◄── consumer (child, 4 calls in flight)
 *
 * Every second it shows where the calls of the last second went, per kind of call and subset, the calls per
 * second, and the memory of the process tree. Every `editEverySeconds` it edits the rules file — the split
 * shifts between 90/10 and 10/90 — and the next lines show the consumer's established connection following
 * (the proxy gets the new plugin configuration over xDS and applies it to open connections).
 * Ctrl-C stops it; so do --duration SECONDS and --requests N. --free-ports runs it on free loopback ports.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../common/paths.js";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { ControlPlane } from "../../control/live/control-plane.js";
import { DEMO_CALLS, DEMO_SERVICE, DEMO_VERSION, type CallCounts, type PeerMessage } from "./peer-process.js";

export interface DemoOptions {
  durationSeconds?: number;
  requests?: number;
  freePorts: boolean;
  concurrency: number;
  /** seconds between rules edits (default 10) */
  editEverySeconds?: number;
  /** Redraw a table in place (a terminal) or print one line per second. */
  tty: boolean;
  /** Resolves when the demo should stop early (Ctrl-C). */
  stopSignal?: Promise<void>;
}

export interface DemoCounts {
  /** per kind of call: answers from v1, from v2, failures */
  rows: { label: string; v1: number; v2: number; errors: number }[];
  total: number;
  /** the split's share of v1 in each second, with the split in force then (for the live view and tests) */
  seconds: { splitV1Weight: number; v1: number; v2: number }[];
  /** the largest RSS of the process tree seen, bytes */
  peakTreeRss: number;
}

const EXAMPLES = join(packageRoot, "examples");
const SPLITS = [90, 10];

/** The example rules with the split's v1 weight set to `v1` (and v2 to 100 - v1). */
export function rulesWithSplit(v1: number): string {
  const text = readFileSync(join(EXAMPLES, "rules.yaml"), "utf8");
  const out = text.replace("route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]", `route: [{subset: v1, weight: ${v1}}, {subset: v2, weight: ${100 - v1}}]`);
  if (out === text && v1 !== 90) throw new Error("examples/rules.yaml has no 90/10 split route to edit");
  return out;
}

function registryWithPorts(v1: number, v2: number): string {
  return readFileSync(join(EXAMPLES, "registry.yaml"), "utf8").replace("127.0.0.1:20881", `127.0.0.1:${v1}`).replace("127.0.0.1:20882", `127.0.0.1:${v2}`);
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/**
 * V8 flags of the child processes: a 2 MiB semi-space (young generation). The peers and the proxy allocate
 * short-lived objects per call; with V8's default (up to 16 MiB) each process held about 25 MB more, for no
 * call rate measured (docs/proxy.md, "The demo").
 */
const CHILD_V8_FLAGS = ["--max-semi-space-size=2"];

/** Forks peer-process in the form this module runs in (compiled .js, or .ts through tsx in tests). */
function forkPeer(args: string[]): ChildProcess {
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith(".ts");
  const module = join(self, "..", `peer-process.${ts ? "ts" : "js"}`);
  return fork(module, args, { execArgv: [...CHILD_V8_FLAGS, ...(ts ? ["--import", "tsx"] : [])], stdio: ["ignore", "ignore", "pipe", "ipc"] });
}

function nextMessage(child: ChildProcess, what: string, type: PeerMessage["type"]): Promise<PeerMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: PeerMessage) => {
      if (m.type === "error") done(new Error(`${what}: ${m.message}`));
      else if (m.type === type) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code})`));
    const done = (err: Error | null, m?: PeerMessage) => {
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

/**
 * Starts `dubbo-mesh proxy --xds` and resolves once it says `ready`, with the address it listens on and its
 * admin address (from that line).
 */
function startProxy(xdsPort: number, listen: string, admin: string, log: (line: string) => void): Promise<{ child: ChildProcess; address: string; admin: string }> {
  const child = spawn(process.execPath, [...CHILD_V8_FLAGS, join(packageRoot, "bin", "dubbo-mesh.js"), "proxy", "--xds", `127.0.0.1:${xdsPort}`, "--listen", listen, "--admin", admin], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += String(chunk);
      for (const line of String(chunk).split("\n")) if (line.trim()) log(line.trim());
      const ready = /ready: listening on (\S+?)[,;](?:.* admin (http:\/\/\S+))?/.exec(out);
      if (ready) resolve({ child, address: ready[1]!, admin: ready[2] ?? "" });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`dubbo-mesh proxy exited (${code}) before it was ready:\n${out.slice(-2000)}`)));
  });
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function stopChild(child: ChildProcess | undefined, signal: "stop" | NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    if (signal === "stop") child.send("stop");
    else child.kill(signal);
  });
}

/** Runs the demo, writing its live view to `out`; resolves with the final counts. */
export async function runDemo(options: DemoOptions, out: Writable): Promise<DemoCounts> {
  const tmp = mkdtempSync(join(tmpdir(), "dubbo-mesh-demo-"));
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
  };
  let providers: ChildProcess | undefined;
  let consumer: ChildProcess | undefined;
  let proxy: ChildProcess | undefined;
  let control: ControlPlane | undefined;
  try {
    providers = forkPeer(options.freePorts ? ["providers", "0", "0"] : ["providers", "20881", "20882"]);
    const { ports } = (await nextMessage(providers, "the providers", "ready")) as { ports: number[] };
    const registry = join(tmp, "registry.yaml");
    const rules = join(tmp, "rules.yaml");
    writeFileSync(registry, registryWithPorts(ports[0]!, ports[1]!));
    let splitIndex = 0;
    writeFileSync(rules, rulesWithSplit(SPLITS[splitIndex]!));
    control = await ControlPlane.start({
      registry: `file:${registry}`,
      rules,
      mode: "dubbo-proxy",
      wasm: parseWasmSource(),
      xds: options.freePorts ? "127.0.0.1:0" : "127.0.0.1:18000",
      admin: { host: "127.0.0.1", port: options.freePorts ? 0 : 9902 },
      mcp: false,
      log,
    });
    const listen = options.freePorts ? "127.0.0.1:0" : "127.0.0.1:20880";
    const admin = options.freePorts ? "127.0.0.1:0" : "127.0.0.1:9901";
    const proxyStart = await startProxy(control.xdsPort, listen, admin, log);
    proxy = proxyStart.child;
    const address = proxyStart.address;
    out.write(
      `dubbo-mesh demo: ${DEMO_SERVICE}:${DEMO_VERSION} providers v1 on 127.0.0.1:${ports[0]}, v2 on 127.0.0.1:${ports[1]}\n` +
        `  control plane: ADS on 127.0.0.1:${control.xdsPort}, admin http://${control.adminAddress!.host}:${control.adminAddress!.port}/  (registry ${registry}, rules ${rules})\n` +
        `  proxy (dubbo-mesh proxy --xds): ${address}${proxyStart.admin ? `, admin ${proxyStart.admin}stats` : ""}\n` +
        `  a consumer calls through the proxy with ${options.concurrency} calls in flight on one connection; every ` +
        `${options.editEverySeconds ?? 10} s the rules' split flips between 90/10 and 10/90. Ctrl-C stops.\n\n`,
    );

    consumer = forkPeer(["consumer", address, String(options.concurrency)]);
    await nextMessage(consumer, "the consumer", "ready");
    const counts: DemoCounts = { rows: DEMO_CALLS.map((c) => ({ label: c.label, v1: 0, v2: 0, errors: 0 })), total: 0, seconds: [], peakTreeRss: 0 };
    const started = Date.now();
    let lastEdit = started;
    let editNote = "";
    let lines = 0;
    const every = (options.editEverySeconds ?? 10) * 1000;
    const consumerRef = consumer;
    await new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (!finished) {
          finished = true;
          clearTimeout(durationTimer);
          resolve();
        }
      };
      const durationTimer = options.durationSeconds !== undefined ? setTimeout(finish, options.durationSeconds * 1000) : undefined;
      void options.stopSignal?.then(finish);
      consumerRef.on("exit", finish);
      consumerRef.on("message", (m: PeerMessage) => {
        if (m.type !== "counts" || finished) return;
        const second = add(counts, m.counts);
        counts.seconds.push({ splitV1Weight: SPLITS[splitIndex]!, ...second });
        const tree = rssOf(process.pid) + rssOf(proxy?.pid) + rssOf(providers?.pid) + m.rssBytes;
        counts.peakTreeRss = Math.max(counts.peakTreeRss, tree);
        const secs = Math.round((Date.now() - started) / 1000);
        const text = view(m.counts, secs, SPLITS[splitIndex]!, tree, options.tty ? editNote : "", options.tty);
        if (options.tty) {
          out.write(`${lines > 0 ? `\x1b[${lines}A` : ""}${text}`);
          lines = text.split("\n").length - 1;
        } else out.write(text);
        editNote = "";
        if (options.requests !== undefined && counts.total >= options.requests) finish();
        if (Date.now() - lastEdit >= every) {
          lastEdit = Date.now();
          const was = SPLITS[splitIndex]!;
          splitIndex = (splitIndex + 1) % SPLITS.length;
          writeAtomically(rules, rulesWithSplit(SPLITS[splitIndex]!));
          editNote = `rules edited: split v1 ${was}/${100 - was} → ${SPLITS[splitIndex]}/${100 - SPLITS[splitIndex]!}`;
          if (!options.tty) out.write(`  ${editNote}\n`);
        }
      });
    });
    const split = counts.rows[0]!;
    out.write(
      `\n${counts.total} calls in ${Math.round((Date.now() - started) / 1000)} s; sayHello went ${split.v1} to v1, ${split.v2} to v2; ` +
        `${counts.rows.reduce((n, r) => n + r.errors, 0)} failed (deleteUser is denied by rule no-deletes, one call at a time); ` +
        `peak process tree ${Math.round(counts.peakTreeRss / 1e6)} MB\n`,
    );
    return counts;
  } finally {
    await stopChild(consumer, "stop");
    await stopChild(proxy, "SIGTERM");
    await control?.close();
    await stopChild(providers, "stop");
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Adds one second's counts to the totals; returns the split's (sayHello's) v1 and v2 of that second. */
function add(totals: DemoCounts, c: CallCounts): { v1: number; v2: number } {
  totals.rows.forEach((row, i) => {
    row.v1 += c.v1[i]!;
    row.v2 += c.v2[i]!;
    row.errors += c.errors[i]!;
    totals.total += c.v1[i]! + c.v2[i]! + c.errors[i]!;
  });
  return { v1: c.v1[0]!, v2: c.v2[0]! };
}

function view(c: CallCounts, secs: number, splitV1: number, treeRss: number, note: string, tty: boolean): string {
  const calls = c.v1.reduce((n, v, i) => n + v + c.v2[i]! + c.errors[i]!, 0);
  const mb = `${Math.round(treeRss / 1e6)} MB`;
  if (!tty) {
    const rows = DEMO_CALLS.map((k, i) => `| ${k.label}: v1=${c.v1[i]} v2=${c.v2[i]} errors=${c.errors[i]}`).join(" ");
    return `t=${secs}s calls/s=${calls} split=${splitV1}/${100 - splitV1} tree=${mb} ${rows}${note ? `\n  ${note}` : ""}\n`;
  }
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const labels = ["sayHello      (route split)", "greet         (route greet-v1 → v1)", "sayHello gray (route gray → v2)", "deleteUser    (deny no-deletes)"];
  const rows = DEMO_CALLS.map((_, i) => `  ${labels[i]!.padEnd(40)}${pad(c.v1[i]!, 8)}${pad(c.v2[i]!, 8)}${pad(c.errors[i]!, 8)}\n`).join("");
  return (
    `  t=${pad(secs, 4)} s   ${pad(calls, 6)} calls/s   split in force: v1 ${splitV1} / v2 ${100 - splitV1}   process tree ${mb}\x1b[K\n` +
    `  ${"last second".padEnd(40)}${pad("v1", 8)}${pad("v2", 8)}${pad("errors", 8)}\n${rows}` +
    `  ${note}\x1b[K\n`
  );
}
