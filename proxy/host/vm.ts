// WasmVm: one plugin (module + configuration) running in the host, the public face of the host. It owns the
// current VM instance, replaces it after a trap or on reconfiguration, and keeps what outlives an instance:
// logs, metrics by name, trap count, and the process-wide shared data.

import { LogLevel } from "./abi.js";
import { formatSignature, hostImportSignature, sameSignature } from "./abi-signatures.js";
import { Connection, type ConnectionOptions } from "./connection.js";
import { WasmVmError } from "./errors.js";
import { ENVOY_FILTER_STATE_KEYS, type FilterStateValidator } from "./filter-state.js";
import { BUILTIN_FOREIGN_FUNCTIONS, type ForeignFunction } from "./foreign.js";
import { LogBuffer, parseLogLevel, type LogEntry, type LogSink } from "./logs.js";
import { MetricRegistry, type MetricSnapshot } from "./metrics.js";
import { nodeValue } from "./properties.js";
import { processSharedState, type SharedState } from "./shared-data.js";
import { VmInstance, type PluginEnv } from "./vm-instance.js";
import { readModuleInterface } from "./wasm-binary.js";

export interface WasmVmOptions {
  /** The module: bytes of a .wasm file. */
  wasm: Uint8Array;
  /** Plugin configuration handed to proxy_on_configure (string: UTF-8). Default empty. */
  pluginConfig?: string | Uint8Array;
  /** VM configuration handed to proxy_on_vm_start. Default empty. */
  vmConfig?: string | Uint8Array;
  /** Envoy's plugin `name` (property plugin_name). Default: rootId. */
  pluginName?: string;
  /** Envoy's `root_id` (property plugin_root_id). Default "". */
  rootId?: string;
  /** Envoy's `vm_id` (property plugin_vm_id; scope of shared data and queues). Default "". */
  vmId?: string;
  /** Lines below this level are dropped; also what proxy_get_log_level answers. Default "info". */
  logLevel?: LogLevel | "trace" | "debug" | "info" | "warn" | "error" | "critical";
  /** Receives every kept log line as it is written. */
  logger?: LogSink;
  /** How many log lines vm.logs() keeps (a ring). Default 10000. */
  logCapacity?: number;
  /** Host foreign functions the module may call by name (e.g. "dubbo_mesh.route_request"). */
  foreignFunctions?: Readonly<Record<string, ForeignFunction>>;
  /** Extra filter-state keys set_envoy_filter_state accepts, with a value check (beside Envoy's well-known keys). */
  filterStateKeys?: Readonly<Record<string, FilterStateValidator>>;
  /** Node metadata (properties node.metadata.KEY and xds.node.metadata.KEY): strings, numbers, booleans, objects. */
  nodeMetadata?: Readonly<Record<string, unknown>>;
  nodeId?: string;
  nodeCluster?: string;
  /** Property listener_direction: 0 unspecified, 1 inbound, 2 outbound. Default 0. */
  listenerDirection?: number;
  /** Environment variables the module sees through WASI environ_get (Envoy's vm_config.environment_variables). */
  environment?: Readonly<Record<string, string>>;
  /** Run proxy_on_tick on a real (unref'd) timer when the module sets a period. Default true; vm.tick() always works. */
  timers?: boolean;
  /** Shared data/queue store; default: the process-wide one (as cpp-host's). */
  sharedState?: SharedState;
}

export interface ReconfigureOptions {
  /** New module bytes; default: keep the module. */
  wasm?: Uint8Array;
  /** New plugin configuration; default: keep it. */
  pluginConfig?: string | Uint8Array;
  vmConfig?: string | Uint8Array;
}

const encoder = new TextEncoder();
const asBytes = (v: string | Uint8Array | undefined): Uint8Array =>
  v === undefined ? new Uint8Array(0) : typeof v === "string" ? encoder.encode(v) : v.slice();

/**
 * Checks a module before instantiation: a valid binary whose every import is one Envoy provides for ABI 0.2.1,
 * with Envoy's exact signature. Throws WasmVmError naming the offending import.
 */
export function checkModuleImports(wasm: Uint8Array): void {
  let iface;
  try {
    iface = readModuleInterface(wasm);
  } catch (e) {
    throw new WasmVmError(`not a valid wasm module: ${(e as Error).message}`);
  }
  for (const imp of iface.imports) {
    if (imp.kind !== "function") {
      throw new WasmVmError(`the module imports ${imp.kind} ${imp.module}.${imp.name}; Envoy provides only functions`);
    }
    const host = hostImportSignature(imp.module, imp.name);
    if (host === undefined) {
      throw new WasmVmError(`the module imports ${imp.module}.${imp.name}, which Envoy does not provide (ABI 0.2.1 + WASI)`);
    }
    if (!sameSignature(host, imp.signature!)) {
      throw new WasmVmError(
        `the module imports ${imp.module}.${imp.name} as ${formatSignature(imp.signature!)}; Envoy's is ${formatSignature(host)}`,
      );
    }
  }
  if (!iface.exports.some((e) => e.name === "proxy_abi_version_0_2_1" || e.name === "proxy_abi_version_0_2_0")) {
    throw new WasmVmError("the module exports no proxy_abi_version_0_2_1 (nor _0_2_0): not a proxy-wasm 0.2.x module");
  }
}

async function compile(wasm: Uint8Array): Promise<WebAssembly.Module> {
  checkModuleImports(wasm);
  try {
    return await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new WasmVmError(`cannot compile the module: ${(e as Error).message}`);
  }
}

export class WasmVm {
  private readonly env: PluginEnv;
  private readonly logBuffer: LogBuffer;
  private readonly registry = new MetricRegistry();
  private module: WebAssembly.Module;
  private vmConfig: Uint8Array;
  private pluginConfig: Uint8Array;
  private instance: VmInstance;
  private generationCounter = 0;
  private connectionCounter = 0;
  private trapCounter = 0;
  private recreations = 0;

  /** Compiles the module and starts it (proxy_on_vm_start, proxy_on_configure). Throws WasmVmError on failure. */
  static async create(options: WasmVmOptions): Promise<WasmVm> {
    const module = await compile(options.wasm);
    return new WasmVm(module, options);
  }

  private constructor(module: WebAssembly.Module, options: WasmVmOptions) {
    const level = parseLogLevel(options.logLevel ?? "info");
    const capacity = options.logCapacity ?? 10_000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`logCapacity must be a positive integer, got ${capacity}`);
    this.logBuffer = new LogBuffer(level, capacity, options.logger);
    const foreign = new Map<string, ForeignFunction>();
    for (const [name, f] of Object.entries(options.foreignFunctions ?? {})) {
      if (BUILTIN_FOREIGN_FUNCTIONS.includes(name)) throw new Error(`foreign function ${name} is built into the host; choose another name`);
      if (typeof f !== "function") throw new Error(`foreign function ${name} must be a function`);
      foreign.set(name, f);
    }
    const keys = new Map(ENVOY_FILTER_STATE_KEYS);
    for (const [k, v] of Object.entries(options.filterStateKeys ?? {})) keys.set(k, v);
    const rootId = options.rootId ?? "";
    const metadata = options.nodeMetadata ?? {};
    this.env = {
      pluginName: options.pluginName ?? rootId,
      rootId,
      vmId: options.vmId ?? "",
      listenerDirection: options.listenerDirection ?? 0,
      node: nodeValue(options.nodeId ?? "", options.nodeCluster ?? "", metadata),
      logs: this.logBuffer,
      metrics: this.registry,
      shared: options.sharedState ?? processSharedState,
      foreign,
      filterStateKeys: keys,
      environment: Object.entries(options.environment ?? {}),
      timers: options.timers ?? true,
      onFailure: () => {
        this.trapCounter++;
      },
    };
    this.module = module;
    this.vmConfig = asBytes(options.vmConfig);
    this.pluginConfig = asBytes(options.pluginConfig);
    this.instance = this.startInstance(module, this.vmConfig, this.pluginConfig);
  }

  private startInstance(module: WebAssembly.Module, vmConfig: Uint8Array, pluginConfig: Uint8Array): VmInstance {
    const generation = ++this.generationCounter;
    try {
      return new VmInstance(module, this.env, generation, vmConfig, pluginConfig);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.logBuffer.add(LogLevel.Error, `VM generation ${generation} failed to start: ${msg}`, 0, "host");
      throw e;
    }
  }

  /** The instance new connections go to, recreated (fresh instance, same module and configuration) after a trap. */
  private liveInstance(): VmInstance {
    if (this.instance.failed) {
      this.instance = this.startInstance(this.module, this.vmConfig, this.pluginConfig);
      this.recreations++;
      this.logBuffer.add(LogLevel.Warn, `VM recreated after a failure (generation ${this.instance.generation})`, 0, "host");
    }
    return this.instance;
  }

  /**
   * Opens a connection: proxy_on_context_create(id, root) and proxy_on_new_connection(id) on the current VM
   * (recreated first if it failed). The outcome is in connection.newConnectionResult. Throws WasmVmError
   * only when a failed VM cannot be recreated.
   */
  newConnection(options: ConnectionOptions): Connection {
    const inst = this.liveInstance();
    const connectionId = options.connectionId ?? ++this.connectionCounter;
    const conn = new Connection(inst, inst.allocateContextId(), connectionId, options);
    inst.startConnection(conn);
    return conn;
  }

  /**
   * Starts a new VM with new module bytes and/or configuration and makes it current for new connections.
   * Existing connections stay on the VM they started on. When the new VM fails to start or configure, the
   * current one stays (the last good configuration) and WasmVmError is thrown with the module's log lines.
   */
  async reconfigure(options: ReconfigureOptions): Promise<void> {
    const module = options.wasm !== undefined ? await compile(options.wasm) : this.module;
    const vmConfig = options.vmConfig !== undefined ? asBytes(options.vmConfig) : this.vmConfig;
    const pluginConfig = options.pluginConfig !== undefined ? asBytes(options.pluginConfig) : this.pluginConfig;
    const next = this.startInstance(module, vmConfig, pluginConfig);
    const previous = this.instance;
    this.module = module;
    this.vmConfig = vmConfig;
    this.pluginConfig = pluginConfig;
    this.instance = next;
    previous.retire();
  }

  /** Runs proxy_on_tick on the current VM now (tests; timers do it on their own). */
  tick(): void {
    this.instance.tick();
  }

  /** Shuts the current VM's root context down (proxy_on_done, proxy_on_delete) and stops its timer. */
  close(): void {
    this.instance.shutdown();
  }

  /** Retained log lines at or above minLevel, oldest first. */
  logs(minLevel: LogLevel = LogLevel.Trace): LogEntry[] {
    return this.logBuffer.list(minLevel);
  }

  clearLogs(): void {
    this.logBuffer.clear();
  }

  /** The current log level (what proxy_get_log_level answers); settable at run time. */
  get logLevel(): LogLevel {
    return this.logBuffer.level;
  }
  set logLevel(level: LogLevel) {
    this.logBuffer.level = parseLogLevel(level);
  }

  /** A metric's value by name (counter/gauge value, histogram count), or undefined if never defined. */
  metric(name: string): number | undefined {
    return this.registry.find(name)?.snapshot().value;
  }

  /** Every metric the module defined, by name, as Envoy's stats would list them. */
  metrics(): MetricSnapshot[] {
    return this.registry.all().map((m) => m.snapshot());
  }

  /** How many times a VM of this plugin failed (trapped). */
  get traps(): number {
    return this.trapCounter;
  }

  /** How many times a failed VM was replaced by a fresh one. */
  get recreatedCount(): number {
    return this.recreations;
  }

  /** Generation of the current VM (1 for the first; +1 per recreation or reconfiguration). */
  get generation(): number {
    return this.instance.generation;
  }

  /** The current VM failed and will be recreated at the next connection. */
  get failed(): boolean {
    return this.instance.failed;
  }

  /** Size in bytes of the current instance's linear memory (it can grow, never shrink). */
  get memoryBytes(): number {
    return this.instance.memory.size;
  }
}
