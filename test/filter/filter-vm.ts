/**
 * Runs build/dubbo_filter.wasm in the project's proxy-wasm host (proxy/host) for the filter tests, and
 * builds plugin configurations (docs/filter.md) from one valid base.
 */
import { existsSync, readFileSync } from "node:fs";
import { filterWasmPath } from "../../common/paths.js";
import { Action, WasmVm, type Connection, type ForeignFunction, type WasmVmOptions } from "../../proxy/host/index.js";
import { DEMO_SERVICE } from "../../dev/dubbo-frames.js";

let wasmBytes: Uint8Array | undefined;

/** The release build of the filter (as Envoy loads it). */
export function filterWasm(): Uint8Array {
  if (wasmBytes === undefined) {
    if (!existsSync(filterWasmPath)) throw new Error(`${filterWasmPath} is missing: run npm run build:wasm`);
    wasmBytes = readFileSync(filterWasmPath);
  }
  return wasmBytes;
}

export const V1_CLUSTER = "outbound|20880|v1|demoservice.1-0-0.dubbo";
export const V2_CLUSTER = "outbound|20880|v2|demoservice.1-0-0.dubbo";
export const DEFAULT_CLUSTER = "outbound|20880||demoservice.1-0-0.dubbo";
export const FALLBACK_CLUSTER = "outbound|20880||fallback";

/** A valid configuration exercising every kind of field; tests mutate copies of it. */
export function baseConfig(): Record<string, unknown> {
  return {
    version: 1,
    routeAttachment: "x-dubbo-mesh-cluster",
    rewrite: true,
    nonDubbo: "close",
    maxBodyBytes: 65536,
    defaultCluster: FALLBACK_CLUSTER,
    randomSeed: 42,
    services: [
      {
        interface: DEMO_SERVICE,
        version: "1.0.0",
        group: "",
        defaultCluster: DEFAULT_CLUSTER,
        hashKey: { attachment: "user" },
        deny: [{ name: "no-deletes", match: { method: { prefix: "delete" } } }],
        routes: [
          {
            name: "gray",
            match: { method: { exact: "sayHello" }, attachments: { "dubbo.tag": { exact: "gray" } } },
            destinations: [{ cluster: V2_CLUSTER, weight: 100 }],
          },
          { name: "vip", match: { arguments: { "0": { prefix: "vip-" } } }, destinations: [{ cluster: V2_CLUSTER }] },
        ],
      },
    ],
  };
}

export interface FilterOptions {
  foreignFunctions?: Record<string, ForeignFunction>;
  logLevel?: WasmVmOptions["logLevel"];
  filterStateKeys?: WasmVmOptions["filterStateKeys"];
}

export async function startFilter(config: unknown, options: FilterOptions = {}): Promise<WasmVm> {
  return WasmVm.create({
    wasm: filterWasm(),
    pluginConfig: typeof config === "string" || config instanceof Uint8Array ? config : JSON.stringify(config),
    rootId: "dubbo_mesh",
    vmId: "dubbo_mesh",
    logLevel: options.logLevel ?? "info",
    foreignFunctions: options.foreignFunctions,
    filterStateKeys: options.filterStateKeys,
    timers: false,
  });
}

let port = 40000;
export function connect(vm: WasmVm): Connection {
  return vm.newConnection({ source: `127.0.0.1:${++port}`, destination: "127.0.0.1:20880" });
}

export interface FeedResult {
  forwarded: Buffer;
  /** Each call's action and how many bytes it forwarded. */
  calls: { action: Action; forwarded: number }[];
  closed: boolean;
}

/** Sends `bytes` downstream in chunks of `chunk` bytes (the last call may carry end of stream). */
export function feed(conn: Connection, bytes: Uint8Array, chunk: number, endOfStream = false): FeedResult {
  const parts: Buffer[] = [];
  const calls: FeedResult["calls"] = [];
  let closed = false;
  for (let pos = 0; pos < bytes.length || (pos === 0 && endOfStream); pos += chunk) {
    const last = pos + chunk >= bytes.length;
    const r = conn.downstreamData(bytes.subarray(pos, pos + chunk), endOfStream && last);
    parts.push(Buffer.from(r.forwarded));
    calls.push({ action: r.action, forwarded: r.forwarded.length });
    if (r.closed || r.closeDownstream) {
      closed = true;
      break;
    }
    if (bytes.length === 0) break;
  }
  return { forwarded: Buffer.concat(parts), calls, closed };
}

/** The value of a metric, 0 when the module never defined it. */
export function metric(vm: WasmVm, name: string): number {
  return vm.metric(name) ?? 0;
}

export function logText(vm: WasmVm): string {
  return vm
    .logs()
    .map((e) => e.message)
    .join("\n");
}
