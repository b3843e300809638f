/**
 * `dubbo-mesh demo` (what `npm start` runs): two providers of org.apache.dubbo.demo.DemoService (revision v1
 * on 127.0.0.1:20881, v2 on :20882), the proxy with the bundled examples/proxy.yaml (registry
 * examples/registry.yaml, rules examples/rules.yaml) on 127.0.0.1:20880, and a consumer loop calling through
 * it. Every second it shows where the requests went, per kind of call and subset. Ctrl-C stops it; so do
 * --duration SECONDS and --requests N. --free-ports runs everything on free loopback ports instead.
 *
 * The peers come from `sofa-rpc-node` and `dubbo-remoting`, development dependencies (`npm ci` in a checkout
 * installs them; a production install does not): they are loaded when the demo starts, with a clear error
 * when missing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Writable } from "node:stream";
import { parse as parseYaml } from "yaml";
import { packageRoot } from "../../common/paths.js";
import type { Args } from "../../cli/args.js";
import { parseCommandLine } from "../../cli/index.js";
import { ProxyServer } from "../server/proxy-server.js";
import type { Consumer, Provider } from "./dubbo-peers.js";

type Peers = typeof import("./dubbo-peers.js");

/**
 * Loads the demo's Dubbo peers (sofa-rpc-node, dubbo-remoting). A missing package becomes an error that
 * says how to install it. `load` is the import (replaceable in tests).
 */
export async function loadPeers(load: () => Promise<Peers> = () => import("./dubbo-peers.js")): Promise<Peers> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new Error(
      `the demo needs the packages sofa-rpc-node and dubbo-remoting, which a production install leaves out ` +
        `(${(err as Error).message.split("\n")[0]}); install them with npm install --include=dev, or run npm ci in a checkout`,
    );
  }
}

export const DEMO_SERVICE = "org.apache.dubbo.demo.DemoService";
export const DEMO_VERSION = "1.0.0";
const EXAMPLES = join(packageRoot, "examples");

export interface DemoOptions {
  durationSeconds?: number;
  requests?: number;
  freePorts: boolean;
  concurrency: number;
  /** Redraw a table in place (a terminal) or print one line per second. */
  tty: boolean;
  /** Resolves when the demo should stop early (Ctrl-C). */
  stopSignal?: Promise<void>;
}

/** The kinds of calls the consumer loop makes, in the proportions of `MIX`. */
interface CallKind {
  label: string;
  method: string;
  attachments?: Record<string, string>;
}
const KINDS: CallKind[] = [
  { label: "sayHello          (route split: v1 90 / v2 10)", method: "sayHello" },
  { label: "greet             (route greet-v1: method → v1)", method: "greet" },
  { label: "sayHello gray tag (route gray: dubbo.tag → v2)", method: "sayHello", attachments: { "dubbo.tag": "gray" } },
  { label: "deleteUser        (deny no-deletes)", method: "deleteUser" },
];
/** 16 calls: 12 split, 2 greet, 2 gray; a denied call every 50. */
const MIX = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
const DENY_EVERY = 50;

export interface DemoCounts {
  /** per kind: v1, v2, errors */
  rows: { label: string; v1: number; v2: number; errors: number }[];
  total: number;
}

const methods = (subset: string) => ({
  async sayHello(name: string) {
    return `${subset}: hello ${name}`;
  },
  async greet(name: string) {
    return `${subset}: greetings, ${name}`;
  },
  async deleteUser(name: string) {
    return `${subset}: deleted ${name}`;
  },
});

export type DemoArgs = Omit<DemoOptions, "tty" | "stopSignal">;

/** The command line of `demo` as options; throws UsageError. */
export function demoArgs(args: Args): DemoArgs {
  const o: DemoArgs = { freePorts: args.flag("free-ports"), concurrency: args.integer("concurrency", 1, 10_000, 4) };
  const duration = args.number("duration", 0.1);
  if (duration !== undefined) o.durationSeconds = duration;
  const requests = args.integer("requests", 1, Number.MAX_SAFE_INTEGER);
  if (requests !== undefined) o.requests = requests;
  return o;
}

/** Parses the arguments after `demo`; throws UsageError. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  return demoArgs(parseCommandLine("demo", argv));
}

/** Runs the demo, writing its live view to `out`; resolves with the final counts. */
export async function runDemo(options: DemoOptions, out: Writable): Promise<DemoCounts> {
  const providers: Provider[] = [];
  let proxy: ProxyServer | null = null;
  const consumers: Consumer[] = [];
  let tmp: string | null = null;
  const proxyLog: string[] = [];
  const { startConsumer, startProvider } = await loadPeers();
  /** A consumer of the demo service keeping no log lines (the demo may run for hours). */
  const startDemoConsumer = (address: string): Promise<Consumer> =>
    startConsumer({ address, interface: DEMO_SERVICE, version: DEMO_VERSION, keepHistory: false });
  try {
    const ports = options.freePorts ? [0, 0] : [20881, 20882];
    for (const [i, subset] of ["v1", "v2"].entries()) {
      try {
        providers.push(
          await startProvider({ interface: DEMO_SERVICE, version: DEMO_VERSION, port: ports[i], methods: methods(subset), keepHistory: false }),
        );
      } catch (err) {
        throw new Error(`cannot start provider ${subset} on 127.0.0.1:${ports[i]}: ${(err as Error).message} (try --free-ports)`);
      }
    }
    const log = (level: string, m: string) => {
      proxyLog.push(`${level}: ${m}`);
      if (proxyLog.length > 50) proxyLog.shift();
    };
    if (options.freePorts) {
      tmp = mkdtempSync(join(tmpdir(), "dubbo-mesh-demo-"));
      const registry = readFileSync(join(EXAMPLES, "registry.yaml"), "utf8")
        .replace("127.0.0.1:20881", `127.0.0.1:${providers[0].port}`)
        .replace("127.0.0.1:20882", `127.0.0.1:${providers[1].port}`);
      writeFileSync(join(tmp, "registry.yaml"), registry);
      const config = parseYaml(readFileSync(join(EXAMPLES, "proxy.yaml"), "utf8")) as Record<string, Record<string, unknown>>;
      config.filter.registry = `file:${join(tmp, "registry.yaml")}`;
      proxy = await ProxyServer.start({
        config,
        baseDir: EXAMPLES,
        listen: { host: "127.0.0.1", port: 0 },
        admin: { host: "127.0.0.1", port: 0 },
        log,
      });
    } else {
      try {
        proxy = await ProxyServer.start({ configPath: join(EXAMPLES, "proxy.yaml"), log });
      } catch (err) {
        throw new Error(`cannot start the proxy: ${(err as Error).message} (try --free-ports)`);
      }
    }
    const l = proxy.listenerAddresses[0];
    const address = `${l.host}:${l.port}`;
    const admin = proxy.adminAddress;
    out.write(
      `dubbo-mesh demo: providers ${DEMO_SERVICE}:${DEMO_VERSION} v1 on 127.0.0.1:${providers[0].port}, v2 on 127.0.0.1:${providers[1].port}\n` +
        `  proxy on ${address} (filter ${relative(packageRoot, filterWasm(proxy))}, rules examples/rules.yaml)` +
        (admin ? `, admin http://${admin.host}:${admin.port}/stats` : "") +
        `\n  a consumer calls through the proxy with ${options.concurrency} calls in flight; Ctrl-C stops\n\n`,
    );

    const main = await startDemoConsumer(address);
    consumers.push(main);
    const counts: DemoCounts = { rows: KINDS.map((k) => ({ label: k.label, v1: 0, v2: 0, errors: 0 })), total: 0 };
    const started = Date.now();
    let stop = false;
    const deadline = options.durationSeconds !== undefined ? started + options.durationSeconds * 1000 : Infinity;
    const limit = options.requests ?? Infinity;
    void options.stopSignal?.then(() => (stop = true));
    const durationTimer = Number.isFinite(deadline) ? setTimeout(() => (stop = true), deadline - started) : null;
    let issued = 0;
    const record = (kind: number, result: unknown, failed: boolean) => {
      const row = counts.rows[kind];
      const where = failed ? "" : String(result).split(":")[0];
      if (where === "v1") row.v1++;
      else if (where === "v2") row.v2++;
      else row.errors++;
      counts.total++;
    };
    const call = async (kind: number): Promise<void> => {
      const k = KINDS[kind];
      // A denied call fails alone (a Dubbo error for it); the shared connection goes on.
      try {
        record(kind, await main.invoke(k.method, ["demo"], { requestProps: k.attachments }), false);
      } catch {
        record(kind, undefined, true);
      }
    };
    const worker = async () => {
      while (!stop && issued < limit) {
        const n = issued++;
        await call(n % DENY_EVERY === DENY_EVERY - 1 ? 3 : MIX[n % MIX.length]);
        if (counts.total >= limit) stop = true;
      }
    };
    let lines = 0;
    const render = (final: boolean) => {
      const secs = ((Date.now() - started) / 1000).toFixed(0);
      if (options.tty && !final) {
        const text = table(counts, secs);
        out.write(`${lines > 0 ? `\x1b[${lines}A` : ""}${text}`);
        lines = text.split("\n").length - 1;
      } else if (!options.tty) {
        out.write(`t=${secs}s total=${counts.total} ${counts.rows.map((r) => `| ${r.label.split("(")[0].trim()}: v1=${r.v1} v2=${r.v2} errors=${r.errors}`).join(" ")}\n`);
      }
    };
    const ticker = setInterval(() => render(false), 1000);
    try {
      await Promise.all(Array.from({ length: options.concurrency }, worker));
    } finally {
      clearInterval(ticker);
      if (durationTimer) clearTimeout(durationTimer);
    }
    if (options.tty) {
      out.write(`${lines > 0 ? `\x1b[${lines}A` : ""}${table(counts, ((Date.now() - started) / 1000).toFixed(0))}`);
    } else render(true);
    const split = counts.rows[0];
    const share = split.v1 + split.v2 > 0 ? ((100 * split.v1) / (split.v1 + split.v2)).toFixed(1) : "-";
    out.write(`\n${counts.total} calls; the 90/10 split sent ${share}% to v1; denied calls fail (the filter closes their connection)\n`);
    return counts;
  } finally {
    await Promise.allSettled(consumers.map((c) => c.close()));
    await proxy?.close();
    await Promise.allSettled(providers.map((p) => p.close()));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

function filterWasm(proxy: ProxyServer): string {
  return (proxy.configDump() as { filter: { wasm: string } }).filter.wasm;
}

function table(c: DemoCounts, secs: string): string {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const rows = c.rows.map((r) => `  ${r.label.padEnd(50)}${pad(r.v1, 8)}${pad(r.v2, 8)}${pad(r.errors, 8)}\n`).join("");
  return `  ${"call".padEnd(50)}${pad("v1", 8)}${pad("v2", 8)}${pad("errors", 8)}\n${rows}  ${`${c.total} calls in ${secs}s`.padEnd(74)}\n`;
}

export async function run(args: Args): Promise<number> {
  const parsed = demoArgs(args);
  let onSignal: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (onSignal = resolve));
  const handler = () => {
    process.stderr.write("\nstopping...\n");
    onSignal();
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  try {
    await runDemo({ ...parsed, tty: process.stdout.isTTY === true, stopSignal }, process.stdout);
    return 0;
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}
