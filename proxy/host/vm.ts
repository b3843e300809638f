// WasmVm: one plugin (module + configuration, replaceable as Envoy's filter configuration is over ECDS) running in
// the host, the public face of the host. It keeps the instances and root contexts as Envoy keys them
// (docs/host.md, "VM reuse"): a new configuration with the same VM key (vm_id, vm configuration, code) gets a new
// root context in the same instance; another VM key gets another instance. It replaces an instance after a trap,
// and keeps what outlives an instance: logs, metrics by name, trap count, and the process-wide shared data.

import { LogLevel } from "./abi.js";
import { formatSignature, hostImportSignature, sameSignature } from "./abi-signatures.js";
import { Connection, type ConnectionOptions } from "./connection.js";
import { WasmVmError } from "./errors.js";
import { ENVOY_FILTER_STATE_KEYS, type FilterStateValidator } from "./filter-state.js";
import { BUILTIN_FOREIGN_FUNCTIONS, type ForeignFunction } from "./foreign.js";
import { LogBuffer, parseLogLevel, type LogEntry, type LogSink } from "./logs.js";
import { MetricRegistry, type MetricSnapshot } from "./metrics.js";
import { nodeValue } from "./properties.js";
import { pluginKey, vmKey, type PluginSpec, type RootContext } from "./root-context.js";
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
  /** Another root_id / plugin name (another plugin of the same VM); default: keep them. */
  rootId?: string;
  pluginName?: string;
}

/** The plugin handle in use for new connections: a root context in an instance. */
interface Handle {
  instance: VmInstance;
  root: RootContext;
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
  private code: Uint8Array;
  private vmConfig: Uint8Array;
  private plugin: PluginSpec;
  private current: Handle;
  /** Instances that may still hold root contexts (Envoy's thread-local VMs, reused while held). */
  private readonly instances = new Set<VmInstance>();
  private generationCounter = 0;
  private connectionCounter = 0;
  private trapCounter = 0;
  private recreations = 0;

  /** Compiles the module and starts it (proxy_on_vm_start, proxy_on_configure). Throws WasmVmError on failure. */
  static async create(options: WasmVmOptions): Promise<WasmVm> {
    const module = await compile(options.wasm);
    return new WasmVm(module, options.wasm.slice(), options);
  }

  private constructor(module: WebAssembly.Module, code: Uint8Array, options: WasmVmOptions) {
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
      vmId: options.vmId ?? "",
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
    this.code = code;
    this.vmConfig = asBytes(options.vmConfig);
    this.plugin = {
      name: options.pluginName ?? rootId,
      rootId,
      listenerDirection: options.listenerDirection ?? 0,
      configuration: asBytes(options.pluginConfig),
    };
    const key = vmKey(this.env.vmId, this.vmConfig, code);
    this.canary(module, key, this.vmConfig, this.plugin);
    const instance = this.startInstance(module, key, this.vmConfig);
    this.current = { instance, root: this.startRoot(instance, this.plugin) };
  }

  /**
   * cpp-host's WasmHandleBase::canary (run by createWasm for every plugin before any worker gets it): the plugin is
   * started and configured in a throwaway instance, which is then dropped with no further callback. A rejection
   * there throws WasmVmError, and the serving instances never see that configuration (Envoy NACKs it).
   */
  private canary(module: WebAssembly.Module, key: string, vmConfig: Uint8Array, plugin: PluginSpec): void {
    const instance = new VmInstance(module, this.env, 0, key, vmConfig);
    try {
      instance.startRoot(plugin);
    } finally {
      instance.kill();
    }
  }

  private startInstance(module: WebAssembly.Module, key: string, vmConfig: Uint8Array): VmInstance {
    const generation = ++this.generationCounter;
    try {
      const instance = new VmInstance(module, this.env, generation, key, vmConfig);
      this.instances.add(instance);
      return instance;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.logBuffer.add(LogLevel.Error, `VM generation ${generation} failed to start: ${msg}`, 0, "host");
      throw e;
    }
  }

  /**
   * A new root context for `plugin` in `instance`. When the module rejects it there (after its canary passed) the
   * root context is shut down again, and an instance left holding nothing is let go.
   */
  private startRoot(instance: VmInstance, plugin: PluginSpec): RootContext {
    try {
      return instance.startRoot(plugin);
    } catch (e) {
      const rejected = instance.rejected;
      if (rejected !== undefined) instance.shutdownRoot(rejected);
      instance.rejected = undefined;
      if (!instance.held) this.forget(instance);
      throw e;
    }
  }

  /** Drops an instance nothing holds any more (cpp-host: the last WasmHandle is gone). */
  private forget(instance: VmInstance): void {
    this.instances.delete(instance);
    if (!instance.failed) instance.shutdown();
  }

  /** The handle new connections go to; after a trap a fresh instance with the same module and configuration. */
  private liveHandle(): Handle {
    if (this.current.instance.failed) {
      this.instances.delete(this.current.instance);
      const instance = this.startInstance(this.module, this.current.instance.vmKey, this.vmConfig);
      this.current = { instance, root: this.startRoot(instance, this.plugin) };
      this.recreations++;
      this.logBuffer.add(LogLevel.Warn, `VM recreated after a failure (generation ${instance.generation})`, 0, "host");
    }
    return this.current;
  }

  /**
   * Opens a connection: proxy_on_context_create(id, root) and proxy_on_new_connection(id) under the current root
   * context (its VM recreated first if it failed). The outcome is in connection.newConnectionResult. Throws
   * WasmVmError only when a failed VM cannot be recreated.
   */
  newConnection(options: ConnectionOptions): Connection {
    const { instance, root } = this.liveHandle();
    const connectionId = options.connectionId ?? ++this.connectionCounter;
    const conn = new Connection(instance, root, instance.allocateContextId(), connectionId, options);
    instance.startConnection(conn);
    return conn;
  }

  /**
   * Applies a new plugin configuration (and/or module, VM configuration, root_id, plugin name) the way Envoy
   * applies a new filter configuration (proxy-wasm-cpp-host getOrCreateThreadLocalPlugin):
   * - the same plugin key on a root context still held (in use, or by connections): that root context again, no
   *   callback into the module;
   * - else the same VM key as an instance still held: a NEW root context in that instance (proxy_on_context_create,
   *   proxy_on_vm_start, proxy_on_configure), module globals shared with the older root contexts;
   * - else a new instance (generation + 1) with its root context.
   * A root context is only started after the same plugin passed a canary (a throwaway instance, see canary()).
   * New connections go to that root context; existing ones keep theirs. The previous root context is shut down
   * (proxy_on_done, proxy_on_delete) once its last connection is gone. When the configuration is rejected
   * (proxy_on_vm_start or proxy_on_configure returns 0, or the module traps) WasmVmError is thrown with the
   * module's log lines and the current root context stays in use.
   */
  async reconfigure(options: ReconfigureOptions): Promise<void> {
    const module = options.wasm !== undefined ? await compile(options.wasm) : this.module;
    const code = options.wasm !== undefined ? options.wasm.slice() : this.code;
    const vmConfig = options.vmConfig !== undefined ? asBytes(options.vmConfig) : this.vmConfig;
    const plugin: PluginSpec = {
      name: options.pluginName ?? (options.rootId !== undefined ? options.rootId : this.plugin.name),
      rootId: options.rootId ?? this.plugin.rootId,
      listenerDirection: this.plugin.listenerDirection,
      configuration: options.pluginConfig !== undefined ? asBytes(options.pluginConfig) : this.plugin.configuration,
    };
    const key = vmKey(this.env.vmId, vmConfig, code);
    for (const i of this.instances) if (!i.held && i !== this.current.instance) this.instances.delete(i);
    let instance = [...this.instances].find((i) => i.vmKey === key && i.held);
    let root = instance?.heldRoot(pluginKey(plugin));
    if (root === undefined) {
      this.canary(module, key, vmConfig, plugin);
      instance ??= this.startInstance(module, key, vmConfig);
      root = this.startRoot(instance, plugin);
    }
    const previous = this.current;
    this.current = { instance: instance!, root };
    this.module = module;
    this.code = code;
    this.vmConfig = vmConfig;
    this.plugin = plugin;
    if (previous.root !== root) {
      previous.instance.releaseRoot(previous.root);
      if (!previous.instance.held) this.forget(previous.instance);
    }
  }

  /** Runs proxy_on_tick on the current root context now (tests; timers do it on their own). */
  tick(): void {
    this.current.instance.tick(this.current.root);
  }

  /** Shuts every root context down (proxy_on_done, proxy_on_delete) and stops their timers. */
  close(): void {
    for (const instance of [...this.instances]) this.forget(instance);
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

  /** Generation of the current VM instance (1 for the first; +1 per new instance: recreation, or a new VM key). */
  get generation(): number {
    return this.current.instance.generation;
  }

  /** The id of the root context new connections are created under. */
  get rootContextId(): number {
    return this.current.root.id;
  }

  /** Root contexts not yet deleted, over every instance still held: [generation, root context id] pairs. */
  get rootContexts(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const i of this.instances) for (const r of i.roots.values()) if (!r.deleted) out.push([i.generation, r.id]);
    return out;
  }

  /** The current VM failed and will be recreated at the next connection. */
  get failed(): boolean {
    return this.current.instance.failed;
  }

  /** Size in bytes of the current instance's linear memory (it can grow, never shrink). */
  get memoryBytes(): number {
    return this.current.instance.memory.size;
  }
}
