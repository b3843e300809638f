// One Wasm instance (Envoy's thread-local VM): its memory, its root contexts (one per plugin configuration it
// was given, as proxy-wasm-cpp-host's WasmBase::root_contexts_), the connection contexts started on it, and the
// bookkeeping of the host call in progress (current and effective context). A trap in any call fails the
// instance: every connection on it is dead, and the WasmVm starts a fresh instance for later connections.

import { LogLevel, WasmResult } from "./abi.js";
import type { Connection } from "./connection.js";
import { WasmVmError } from "./errors.js";
import type { FilterStateValidator } from "./filter-state.js";
import type { ForeignFunction } from "./foreign.js";
import { GuestMemory } from "./guest-memory.js";
import { createImports } from "./imports.js";
import type { LogBuffer, LogEntry } from "./logs.js";
import { MetricIds, type MetricRegistry } from "./metrics.js";
import { getProperty, type PropertySource, type PropertyValue } from "./properties.js";
import { RootContext, type PluginSpec } from "./root-context.js";
import type { SharedState } from "./shared-data.js";

/** What every instance of one WasmVm shares (owned by the WasmVm). */
export interface PluginEnv {
  readonly vmId: string;
  readonly node: PropertyValue | undefined;
  readonly logs: LogBuffer;
  readonly metrics: MetricRegistry;
  readonly shared: SharedState;
  readonly foreign: ReadonlyMap<string, ForeignFunction>;
  readonly filterStateKeys: ReadonlyMap<string, FilterStateValidator>;
  readonly environment: ReadonlyArray<readonly [string, string]>;
  readonly timers: boolean;
  /** Called once when an instance fails (the WasmVm counts it). */
  onFailure(instance: VmInstance, message: string): void;
}

type AnyFn = (...args: number[]) => number | undefined;

/** Exports of a network filter module the host calls. */
interface FilterExports {
  proxy_on_context_create: AnyFn;
  proxy_on_vm_start: AnyFn | undefined;
  proxy_on_configure: AnyFn | undefined;
  proxy_on_new_connection: AnyFn | undefined;
  proxy_on_downstream_data: AnyFn | undefined;
  proxy_on_upstream_data: AnyFn | undefined;
  proxy_on_downstream_connection_close: AnyFn | undefined;
  proxy_on_upstream_connection_close: AnyFn | undefined;
  proxy_on_done: AnyFn | undefined;
  proxy_on_log: AnyFn | undefined;
  proxy_on_delete: AnyFn | undefined;
  proxy_on_tick: AnyFn | undefined;
  proxy_on_queue_ready: AnyFn | undefined;
}

export type ConnectionCallback =
  | "proxy_on_new_connection"
  | "proxy_on_downstream_data"
  | "proxy_on_upstream_data"
  | "proxy_on_downstream_connection_close"
  | "proxy_on_upstream_connection_close"
  | "proxy_on_done"
  | "proxy_on_log"
  | "proxy_on_delete";

/** The id of an instance's first root context; later contexts (connections, more roots) count up from it. */
export const ROOT_CONTEXT_ID = 1;

export class VmInstance {
  readonly memory: GuestMemory;
  readonly metricIds: MetricIds;
  failed = false;
  /** Root contexts by id, from creation until proxy_on_delete (or until the instance ends). */
  readonly roots = new Map<number, RootContext>();
  /** Live connection contexts by id. */
  readonly connections = new Map<number, Connection>();
  /** Context the host called into (0 when the VM is idle). */
  currentContext = 0;
  /** Context set by proxy_set_effective_context for the rest of the current call (0 = none). */
  effectiveContext = 0;
  /** The root context in proxy_on_configure: its plugin configuration is readable as a buffer then only. */
  configuring: RootContext | undefined;
  private nextContextId = ROOT_CONTEXT_ID;
  private readonly exports: FilterExports;
  private readonly setupLogs: () => LogEntry[];

  /** Instantiates the module and runs _initialize (or _start). Throws WasmVmError on failure. */
  constructor(
    module: WebAssembly.Module,
    readonly env: PluginEnv,
    readonly generation: number,
    /** cpp-host's VM key: sha256(vm_id || vm configuration || code). */
    readonly vmKey: string,
    readonly vmConfig: Uint8Array,
  ) {
    this.metricIds = new MetricIds(env.metrics);
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, createImports(this));
    } catch (e) {
      throw new WasmVmError(`cannot instantiate the module: ${(e as Error).message}`);
    }
    const ex = instance.exports;
    const mem = ex["memory"];
    if (!(mem instanceof WebAssembly.Memory)) throw new WasmVmError("the module exports no memory named \"memory\"");
    this.memory = new GuestMemory(mem);
    const fn = (name: string): AnyFn | undefined => (typeof ex[name] === "function" ? (ex[name] as AnyFn) : undefined);
    const malloc = fn("malloc") ?? fn("proxy_on_memory_allocate");
    if (malloc === undefined) throw new WasmVmError("the module exports neither malloc nor proxy_on_memory_allocate");
    this.memory.allocate = (size: number) => (malloc(size) ?? 0) >>> 0;
    const contextCreate = fn("proxy_on_context_create");
    if (contextCreate === undefined) throw new WasmVmError("the module exports no proxy_on_context_create");
    this.exports = {
      proxy_on_context_create: contextCreate,
      proxy_on_vm_start: fn("proxy_on_vm_start"),
      proxy_on_configure: fn("proxy_on_configure"),
      proxy_on_new_connection: fn("proxy_on_new_connection"),
      proxy_on_downstream_data: fn("proxy_on_downstream_data"),
      proxy_on_upstream_data: fn("proxy_on_upstream_data"),
      proxy_on_downstream_connection_close: fn("proxy_on_downstream_connection_close"),
      proxy_on_upstream_connection_close: fn("proxy_on_upstream_connection_close"),
      proxy_on_done: fn("proxy_on_done"),
      proxy_on_log: fn("proxy_on_log"),
      proxy_on_delete: fn("proxy_on_delete"),
      proxy_on_tick: fn("proxy_on_tick"),
      proxy_on_queue_ready: fn("proxy_on_queue_ready"),
    };

    const mark = env.logs.list().length;
    this.setupLogs = (): LogEntry[] => env.logs.list().slice(mark);
    const init = fn("_initialize") ?? fn("_start");
    if (init !== undefined) {
      // cpp-host's startVm runs it with the VM's own context (id 0), before any root context exists.
      try {
        init();
      } catch (e) {
        this.failed = true;
        throw new WasmVmError(`the module trapped in ${fn("_initialize") ? "_initialize" : "_start"}: ${describeError(e)}`, this.setupLogs());
      }
    }
  }

  /**
   * Starts a root context for `plugin` as cpp-host's WasmBase::start + configure do: proxy_on_context_create(id, 0),
   * proxy_on_vm_start(id, vm_config_size), proxy_on_configure(id, plugin_config_size). Throws WasmVmError when the
   * module traps (the instance fails) or either call returns 0 (that root context is left released and not
   * shut down: the caller decides; the instance and its other root contexts are untouched).
   */
  startRoot(plugin: PluginSpec): RootContext {
    const root = new RootContext(this.allocateContextId(), plugin, { vmId: this.env.vmId, node: this.env.node });
    this.roots.set(root.id, root);
    const ex = this.exports;
    const steps: Array<[string, () => number | undefined]> = [["proxy_on_context_create", () => ex.proxy_on_context_create(root.id, 0)]];
    const vmStart = ex.proxy_on_vm_start;
    if (vmStart) steps.push(["proxy_on_vm_start", () => vmStart(root.id, this.vmConfig.length)]);
    const configure = ex.proxy_on_configure;
    if (configure) {
      steps.push([
        "proxy_on_configure",
        () => {
          this.configuring = root;
          try {
            return configure(root.id, plugin.configuration.length);
          } finally {
            this.configuring = undefined;
          }
        },
      ]);
    }
    for (const [name, step] of steps) {
      const ret = this.invoke(step, name, root.id);
      if (ret === null) throw new WasmVmError(`the module trapped in ${name}: ${this.lastTrap}`, this.setupLogs());
      if ((name === "proxy_on_vm_start" || name === "proxy_on_configure") && ret === 0) {
        root.released = true;
        this.rejected = root;
        const what = name === "proxy_on_configure" ? "plugin configuration" : "VM start";
        throw new WasmVmError(`${name} returned failure (${what} rejected)`, this.setupLogs());
      }
    }
    return root;
  }

  /** The root context of `key` that is still held (Envoy would hand out its plugin handle again), if any. */
  heldRoot(key: string): RootContext | undefined {
    for (const root of this.roots.values()) if (root.key === key && root.held) return root;
    return undefined;
  }

  /** Some root context is still held: cpp-host keeps the thread-local VM while a plugin handle holds it. */
  get held(): boolean {
    if (this.failed) return false;
    for (const root of this.roots.values()) if (root.held) return true;
    return false;
  }

  /** Allocates the next context id (root contexts and connections share the counter, as in cpp-host). */
  allocateContextId(): number {
    return this.nextContextId++;
  }

  /** The context host calls act for: the effective one when set and alive, else the current one. */
  activeContext(): number {
    const eff = this.effectiveContext;
    if (eff !== 0 && this.contextExists(eff)) return eff;
    return this.currentContext;
  }

  /** The connection of the active context (undefined for a root context). */
  activeConnection(): Connection | undefined {
    return this.connections.get(this.activeContext());
  }

  /** The root context of the active context (itself, or the connection's parent). */
  activeRoot(): RootContext | undefined {
    const id = this.activeContext();
    return this.roots.get(id) ?? this.connections.get(id)?.root;
  }

  contextExists(id: number): boolean {
    return this.roots.has(id) || this.connections.has(id);
  }

  /** Property source for a context: its root context's plugin facts, plus the connection's. */
  propertySource(conn: Connection | undefined): PropertySource {
    if (conn === undefined) return this.activeRoot()?.source ?? EMPTY_SOURCE;
    return (conn.propertySourceCache ??= { ...conn.root.source, connection: conn });
  }

  propertyFor(conn: Connection, path: string): Uint8Array | undefined {
    return getProperty(path, this.propertySource(conn)).value;
  }

  /** Registers a new connection and runs proxy_on_context_create(id, its root) + proxy_on_new_connection. */
  startConnection(conn: Connection): void {
    this.connections.set(conn.id, conn);
    conn.root.connections++;
    const created = this.invoke(this.exports.proxy_on_context_create, "proxy_on_context_create", conn.id, conn.id, conn.root.id);
    if (created === null) {
      conn.newConnectionResult = { action: 1, closeDownstream: true, closeUpstream: true, failed: true };
      return;
    }
    const ret = this.callConnection(conn, "proxy_on_new_connection");
    if (ret === null) {
      conn.newConnectionResult = { action: 1, closeDownstream: true, closeUpstream: true, failed: true };
      return;
    }
    const action = ret === 0 ? 0 : 1;
    conn.newConnectionResult = {
      action: conn.pendingContinue ? 0 : action,
      closeDownstream: conn.pendingCloseDownstream,
      closeUpstream: conn.pendingCloseUpstream,
      failed: false,
    };
    conn.pendingContinue = false;
    conn.applyPending(false);
    this.applyDeferred(conn);
  }

  /**
   * Calls a connection callback; null when the VM failed (now or before). Missing optional exports are
   * answered as Envoy does: Continue (0) for data and new-connection, true (1) for on_done.
   */
  callConnection(conn: Connection, name: ConnectionCallback, a?: number, b?: number): number | null {
    if (this.failed || conn.finished) return null;
    const f = this.exports[name];
    if (f === undefined) return name === "proxy_on_done" ? 1 : 0;
    return this.invoke(f, name, conn.id, conn.id, a, b);
  }

  /** Calls into the VM with the bookkeeping of current/effective context and trap isolation. */
  invoke(f: AnyFn, name: string, contextId: number, a?: number, b?: number, c?: number): number | null {
    if (this.currentContext !== 0) {
      throw new Error(`re-entrant call into the VM (${name} while in context ${this.currentContext}): foreign functions and callbacks must not call into the host's VM`);
    }
    this.currentContext = contextId;
    this.effectiveContext = 0;
    try {
      const r = f(a ?? 0, b ?? 0, c ?? 0);
      return typeof r === "number" ? r : 0;
    } catch (e) {
      this.currentContext = 0;
      this.lastTrap = describeError(e);
      this.fail(`the module trapped in ${name} (context ${contextId}): ${this.lastTrap}`, contextId);
      return null;
    } finally {
      this.currentContext = 0;
      this.effectiveContext = 0;
    }
  }

  /**
   * Fails the instance: logs, counts, and closes every connection on it (their onClose callbacks run, except
   * for the connection whose call trapped: that call's result reports it).
   */
  fail(message: string, inProgress = 0): void {
    if (this.failed) return;
    this.failed = true;
    for (const root of this.roots.values()) root.stopTimer();
    this.env.logs.add(LogLevel.Critical, message, 0, "host");
    this.env.onFailure(this, message);
    for (const conn of [...this.connections.values()]) conn.markFailed(conn.id !== inProgress);
  }

  /**
   * Set when a host call made a close/continue request for a connection other than the one called (through
   * proxy_set_effective_context, or from the root context); applied after the call by applyDeferred.
   */
  crossPending = false;

  /**
   * Applies close/continue requests made for connections other than `except` during the last call (their
   * onClose / onResume callbacks run).
   */
  applyDeferred(except?: Connection): void {
    if (!this.crossPending) return;
    this.crossPending = false;
    for (const conn of [...this.connections.values()]) {
      if (conn === except) continue;
      if (conn.pendingCloseDownstream || conn.pendingCloseUpstream || conn.pendingContinue) conn.applyPending(true);
    }
  }

  /** Calls proxy_on_tick on a root context (Envoy keeps one timer per root context). */
  tick(root: RootContext): void {
    const f = this.exports.proxy_on_tick;
    if (this.failed || root.deleted || f === undefined) return;
    if (this.invoke(f, "proxy_on_tick", root.id, root.id) !== null) this.applyDeferred();
    else this.crossPending = false;
  }

  /** proxy_on_queue_ready on the root context that registered the queue. */
  queueReady(rootId: number, token: number): void {
    const f = this.exports.proxy_on_queue_ready;
    const root = this.roots.get(rootId);
    if (this.failed || root === undefined || root.deleted || f === undefined) return;
    if (this.invoke(f, "proxy_on_queue_ready", root.id, root.id, token) !== null) this.applyDeferred();
    else this.crossPending = false;
  }

  /** proxy_set_tick_period_milliseconds for the active context's root context: 0 stops its timer. */
  setTickPeriod(ms: number): void {
    const root = this.activeRoot();
    if (root === undefined) return;
    root.stopTimer();
    if (ms > 0 && this.env.timers && !this.failed) {
      root.tickTimer = setInterval(() => this.tick(root), ms);
      root.tickTimer.unref();
    }
  }

  /** Connection finished: forget it; a released root context shuts down with its last connection. */
  release(conn: Connection): void {
    this.connections.delete(conn.id);
    const root = conn.root;
    root.connections--;
    if (root.released && root.connections === 0 && this.currentContext === 0) this.shutdownRoot(root);
  }

  /** The root context's plugin handle is no longer used for new connections: shut it down once its connections are gone. */
  releaseRoot(root: RootContext): void {
    root.released = true;
    if (root.connections === 0) this.shutdownRoot(root);
  }

  /**
   * Shuts a root context down as cpp-host's WasmBase::startShutdown(plugin_key) does: proxy_on_done(root); when
   * it returns true (or is absent), proxy_on_delete(root); when false, the module finishes later with proxy_done.
   */
  shutdownRoot(root: RootContext): void {
    root.stopTimer();
    if (this.failed || root.done) return;
    root.done = true;
    const done = this.exports.proxy_on_done;
    const r = done === undefined ? 1 : this.invoke(done, "proxy_on_done", root.id, root.id);
    if (r === null) return;
    if (r !== 0) this.deleteRoot(root);
    else root.pendingDone = true;
  }

  /** Shuts down every root context (the instance is going away). */
  shutdown(): void {
    for (const root of [...this.roots.values()]) {
      root.released = true;
      this.shutdownRoot(root);
    }
  }

  /** proxy_done from the module: finishes the active root context if its on_done returned false. */
  done(): WasmResult {
    const root = this.activeRoot();
    if (root === undefined || !root.pendingDone) return WasmResult.NotFound;
    root.pendingDone = false;
    queueMicrotask(() => this.deleteRoot(root));
    return WasmResult.Ok;
  }

  private deleteRoot(root: RootContext): void {
    if (root.deleted || this.failed) return;
    root.deleted = true;
    this.roots.delete(root.id);
    const del = this.exports.proxy_on_delete;
    if (del !== undefined) this.invoke(del, "proxy_on_delete", root.id, root.id);
  }

  /** The last trap's description (for the error startRoot throws). */
  private lastTrap = "";
  /** The root context startRoot last rejected (its vm_start or configure returned 0). */
  rejected: RootContext | undefined;

  /**
   * Drops the instance without any callback into the module, as cpp-host's WasmHandleBase::kill() before the
   * canary's handle goes (~WasmBase frees its root contexts without proxy_on_done / proxy_on_delete).
   */
  kill(): void {
    for (const root of this.roots.values()) root.stopTimer();
    this.failed = true;
  }
}

const EMPTY_SOURCE: PropertySource = { pluginName: "", rootId: "", vmId: "", listenerDirection: 0, node: undefined, connection: undefined };

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
