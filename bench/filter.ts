// Benchmark of the filter's cost on the downstream path: requests/s through the proxy-wasm host +
// build/dubbo_filter.wasm (proxy_on_downstream_data with ~1 KiB hessian2 requests, one per read and many
// per read) against the no-op module (dev/test-modules/noop.ts) run by the same host, side by side in one
// process. Prints one JSON object per measurement and a summary with the cost ratio filter / no-op.
//
//   npm run bench:filter                # full run
//   npm run bench:filter -- --quick     # shorter rounds (smoke run)
//
// Rounds alternate between the modules so that machine noise hits all of them alike; each figure is the
// median of the rounds. Besides the no-op module (which never reads the bytes, so it measures only the
// host's call), two baselines compiled here show the buffer traffic any byte-inspecting filter pays in
// this host: "read" copies the whole buffer into the module (proxy_get_buffer_bytes), "read-replace" also
// writes it back (proxy_set_buffer_bytes, replace-prefix), as a filter that rewrites must.
import { existsSync, readFileSync } from "node:fs";
import { filterWasmPath } from "../common/paths.js";
import { Action, WasmVm } from "../proxy/host/index.js";
import { buildTestModule } from "../dev/test-modules/build.js";
import { requestFrame } from "../dev/dubbo-frames.js";

/** AssemblyScript source of a baseline network filter; `replace` also writes the bytes back. */
function baselineSource(replace: boolean): string {
  return `
@external("env", "proxy_get_buffer_bytes")
declare function getBuffer(type: i32, start: i32, max: i32, retPtr: usize, retSize: usize): i32;
@external("env", "proxy_set_buffer_bytes")
declare function setBuffer(type: i32, start: i32, size: i32, ptr: usize, len: i32): i32;
const ret = memory.data(8);
let area: usize = 0;
let capacity: i32 = 0;
// One reused area: the host copies each read into it.
export function malloc(size: i32): usize {
  if (size > capacity) { area = heap.alloc(<usize>size); capacity = size; }
  return area;
}
export function proxy_abi_version_0_2_1(): void {}
export function proxy_on_context_create(a: u32, b: u32): void {}
export function proxy_on_vm_start(a: u32, b: u32): u32 { return 1; }
export function proxy_on_configure(a: u32, b: u32): u32 { return 1; }
export function proxy_on_new_connection(a: u32): u32 { return 0; }
export function proxy_on_downstream_data(context: u32, size: i32, end: u32): u32 {
  if (size > 0 && getBuffer(2, 0, size, ret, ret + 4) == 0 && ${replace}) setBuffer(2, 0, size, load<usize>(ret), load<i32>(ret + 4));
  return 0;
}
export function proxy_on_upstream_data(context: u32, size: u32, end: u32): u32 { return 0; }
export function proxy_on_done(a: u32): u32 { return 1; }
export function proxy_on_delete(a: u32): void {}
`;
}

/** Compiles an AssemblyScript source with the compiler's JS API (no files written). */
async function compileSource(source: string): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  let binary: Uint8Array | undefined;
  const errors: string[] = [];
  const result = await asc.main(["baseline.ts", "--outFile", "baseline.wasm", "--runtime", "stub", "--optimizeLevel", "3", "--use", "abort="], {
    readFile: (name: string) => (name === "baseline.ts" ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    listFiles: () => [],
    stderr: {
      write: (chunk: Uint8Array | string) => {
        errors.push(String(chunk));
        return true;
      },
    },
  });
  if (result.error !== null || binary === undefined) throw new Error(`cannot compile a baseline module: ${errors.join("")}`);
  return binary;
}

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 7;
const REQUESTS_PER_ROUND = quick ? 8_000 : 40_000;
const MANY = 32;
const WARM_UP_REQUESTS = quick ? 20_000 : 60_000;

const SERVICE = "org.apache.dubbo.demo.DemoService";
const CONFIG = {
  version: 1,
  routeAttachment: "x-dubbo-mesh-cluster",
  defaultCluster: "outbound|20880||fallback",
  services: [
    {
      interface: SERVICE,
      version: "1.0.0",
      defaultCluster: "outbound|20880||demoservice.1-0-0.dubbo",
      deny: [{ name: "no-deletes", match: { method: { prefix: "delete" } } }],
      routes: [
        { name: "gray", match: { attachments: { "dubbo.tag": { exact: "gray" } } }, destinations: [{ cluster: "outbound|20880|v2|demoservice.1-0-0.dubbo" }] },
        {
          name: "split",
          match: { method: { exact: "sayHello" } },
          destinations: [
            { cluster: "outbound|20880|v1|demoservice.1-0-0.dubbo", weight: 90 },
            { cluster: "outbound|20880|v2|demoservice.1-0-0.dubbo", weight: 10 },
          ],
        },
      ],
    },
  ],
};

/** A hessian2 request of about 1 KiB with the attachments a Java consumer sends. */
function kibRequest(id: number): Buffer {
  const spec = {
    id,
    method: "sayHello",
    attachments: { "dubbo.tag": "blue", timeout: "3000", "remote.application": "bench-consumer", group: "" },
  };
  const base = requestFrame({ ...spec, args: [""] }).length;
  return requestFrame({ ...spec, args: ["x".repeat(Math.max(0, 1024 - base))] });
}

interface Subject {
  name: string;
  wasm: Uint8Array;
  config: string;
}

interface Scenario {
  name: string;
  perRead: number;
}

/** Time per request of one round: wall clock, and CPU time of this process (robust to a busy machine). */
interface Sample {
  wallNs: number;
  cpuNs: number;
}

/** A connection through one module, warmed up, ready to be timed. */
interface Runner {
  subject: Subject;
  /** Times about `requests` requests. */
  run(requests: number): Sample;
}

async function runner(subject: Subject, scenario: Scenario): Promise<Runner> {
  const vm = await WasmVm.create({ wasm: subject.wasm, pluginConfig: subject.config, timers: false, logLevel: "warn" });
  const conn = vm.newConnection({ source: "127.0.0.1:50000", destination: "127.0.0.1:20880" });
  const read = Buffer.concat(Array.from({ length: scenario.perRead }, (_, i) => kibRequest(i + 1)));
  const run = (requests: number): Sample => {
    const calls = Math.max(1, Math.round(requests / scenario.perRead));
    let forwarded = 0;
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const r = conn.downstreamData(read);
      if (r.action !== Action.Continue) throw new Error(`${subject.name}: call ${i} did not continue`);
      forwarded += r.forwarded.length;
    }
    const ns = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    if (forwarded < calls * read.length) throw new Error(`${subject.name}: forwarded ${forwarded} bytes, expected at least ${calls * read.length}`);
    if (vm.traps !== 0) throw new Error(`${subject.name}: the VM trapped`);
    const n = calls * scenario.perRead;
    return { wallNs: ns / n, cpuNs: ((cpu.user + cpu.system) * 1000) / n };
  };
  run(WARM_UP_REQUESTS); // lets V8 tier the module's hot functions up before timing
  return { subject, run };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (!existsSync(filterWasmPath)) throw new Error(`${filterWasmPath} is missing: run npm run build:wasm`);
  const filterWasm = readFileSync(filterWasmPath);
  const subjects: Subject[] = [
    { name: "noop", wasm: await buildTestModule("noop"), config: "" },
    { name: "read", wasm: await compileSource(baselineSource(false)), config: "" },
    { name: "read-replace", wasm: await compileSource(baselineSource(true)), config: "" },
    { name: "filter", wasm: filterWasm, config: JSON.stringify(CONFIG) },
    { name: "filter-no-rewrite", wasm: filterWasm, config: JSON.stringify({ ...CONFIG, rewrite: false }) },
  ];
  const scenarios: Scenario[] = [
    { name: "one-per-read", perRead: 1 },
    { name: "many-per-read", perRead: MANY },
  ];
  const frameBytes = kibRequest(1).length;
  for (const scenario of scenarios) {
    const runners: Runner[] = [];
    for (const subject of subjects) runners.push(await runner(subject, scenario));
    const samples = new Map<string, Sample[]>(subjects.map((s) => [s.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of runners) samples.get(r.subject.name)!.push(r.run(REQUESTS_PER_ROUND));
    }
    // CPU time is the figure compared (a busy machine stretches wall time, not the work done).
    const ns = new Map([...samples].map(([k, v]) => [k, median(v.map((x) => x.cpuNs))]));
    const wall = new Map([...samples].map(([k, v]) => [k, median(v.map((x) => x.wallNs))]));
    for (const subject of subjects) {
      const n = ns.get(subject.name)!;
      console.log(
        JSON.stringify({
          bench: "filter",
          scenario: scenario.name,
          module: subject.name,
          requestBytes: frameBytes,
          framesPerRead: scenario.perRead,
          requestsPerCpuSecond: Math.round(1e9 / n),
          cpuNsPerRequest: Math.round(n),
          wallNsPerRequest: Math.round(wall.get(subject.name)!),
          rounds: ROUNDS,
        }),
      );
    }
    const noop = ns.get("noop")!;
    const filter = ns.get("filter")!;
    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    console.log(
      JSON.stringify({
        bench: "filter",
        scenario: scenario.name,
        summary: true,
        costRatio: ratio(filter, noop),
        costRatioNoRewrite: ratio(ns.get("filter-no-rewrite")!, noop),
        costRatioVsRead: ratio(ns.get("filter-no-rewrite")!, ns.get("read")!),
        costRatioVsReadReplace: ratio(filter, ns.get("read-replace")!),
        filterOverheadNsPerRequest: Math.round(filter - noop),
        goal: "filter cost <= 2x no-op",
        meetsGoal: filter <= 2 * noop,
      }),
    );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
