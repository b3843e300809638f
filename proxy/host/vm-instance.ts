// One Wasm instance of the plugin: its memory, its root context, the connection contexts started on it, and
// the bookkeeping of the host call in progress (current and effective context). A trap in any call fails the
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
import type { SharedState } from "./shared-data.js";

/** What every instance of one plugin shares (owned by the WasmVm). */
export interface PluginEnv {
  readonly pluginName: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly listenerDirection: number;
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

/** The root context's id; connection contexts count up from 2, unique in the instance. */
export const ROOT_CONTEXT_ID = 1;

export class VmInstance {
  readonly memory: GuestMemory;
  readonly metricIds: MetricIds;
  readonly rootId = ROOT_CONTEXT_ID;
  failed = false;
  /** Live connection contexts by id. */
  readonly connections = new Map<number, Connection>();
  /** Context the host called into (0 when the VM is idle). */
  currentContext = 0;
  /** Context set by proxy_set_effective_context for the rest of the current call (0 = none). */
  effectiveContext = 0;
  /** The plugin configuration, readable as a buffer during proxy_on_configure only. */
  configuring = false;
  /** proxy_on_done of the root returned false: proxy_done may now finish it. */
  rootPendingDone = false;
  rootDeleted = false;
  private nextContextId = ROOT_CONTEXT_ID + 1;
  private readonly exports: FilterExports;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly rootSource: PropertySource;

  /** Instantiates and starts the module (root context, vm start, configure). Throws WasmVmError on failure. */
  constructor(
    module: WebAssembly.Module,
    readonly env: PluginEnv,
    readonly generation: number,
    readonly vmConfig: Uint8Array,
    readonly pluginConfig: Uint8Array,
  ) {
    this.metricIds = new MetricIds(env.metrics);
    this.rootSource = { ...this.pluginFacts(), connection: undefined };
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
    const setupLogs = (): LogEntry[] => env.logs.list().slice(mark);
    const init = fn("_initialize") ?? fn("_start");
    const steps: Array<[string, () => number | undefined]> = [];
    if (init !== undefined) steps.push([fn("_initialize") ? "_initialize" : "_start", () => init()]);
    steps.push(["proxy_on_context_create", () => contextCreate(ROOT_CONTEXT_ID, 0)]);
    const vmStart = this.exports.proxy_on_vm_start;
    if (vmStart) steps.push(["proxy_on_vm_start", () => vmStart(ROOT_CONTEXT_ID, vmConfig.length)]);
    const configure = this.exports.proxy_on_configure;
    if (configure) {
      steps.push([
        "proxy_on_configure",
        () => {
          this.configuring = true;
          try {
            return configure(ROOT_CONTEXT_ID, pluginConfig.length);
          } finally {
            this.configuring = false;
          }
        },
      ]);
    }
    for (const [name, step] of steps) {
      let ret: number | undefined;
      this.currentContext = ROOT_CONTEXT_ID;
      this.effectiveContext = 0;
      try {
        ret = step();
      } catch (e) {
        this.failed = true;
        this.stopTimer();
        throw new WasmVmError(`the module trapped in ${name}: ${describeError(e)}`, setupLogs());
      } finally {
        this.currentContext = 0;
      }
      if ((name === "proxy_on_vm_start" || name === "proxy_on_configure") && ret === 0) {
        this.failed = true;
        this.stopTimer();
        const what = name === "proxy_on_configure" ? "plugin configuration" : "VM start";
        throw new WasmVmError(`${name} returned failure (${what} rejected)`, setupLogs());
      }
    }
  }

  private pluginFacts(): Omit<PropertySource, "connection"> {
    const e = this.env;
    return {
      pluginName: e.pluginName,
      rootId: e.rootId,
      vmId: e.vmId,
      listenerDirection: e.listenerDirection,
      node: e.node,
    };
  }

  /** Allocates the next context id for a connection. */
  allocateContextId(): number {
    return this.nextContextId++;
  }

  /** The context host calls act for: the effective one when set and alive, else the current one. */
  activeContext(): number {
    const eff = this.effectiveContext;
    if (eff !== 0 && (eff === ROOT_CONTEXT_ID || this.connections.has(eff))) return eff;
    return this.currentContext;
  }

  /** The connection of the active context (undefined for the root context). */
  activeConnection(): Connection | undefined {
    const id = this.activeContext();
    return id === ROOT_CONTEXT_ID ? undefined : this.connections.get(id);
  }

  contextExists(id: number): boolean {
    return id === ROOT_CONTEXT_ID || this.connections.has(id);
  }

  /** Property source for a context. */
  propertySource(conn: Connection | undefined): PropertySource {
    if (conn === undefined) return this.rootSource;
    return (conn.propertySourceCache ??= { ...this.rootSource, connection: conn });
  }

  propertyFor(conn: Connection, path: string): Uint8Array | undefined {
    return getProperty(path, this.propertySource(conn)).value;
  }

  /** Registers a new connection and runs proxy_on_context_create + proxy_on_new_connection. */
  startConnection(conn: Connection): void {
    this.connections.set(conn.id, conn);
    const created = this.invoke(this.exports.proxy_on_context_create, "proxy_on_context_create", conn.id, conn.id, ROOT_CONTEXT_ID);
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
      this.fail(`the module trapped in ${name} (context ${contextId}): ${describeError(e)}`, contextId);
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
    this.stopTimer();
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

  /** Calls proxy_on_tick on the root context. */
  tick(): void {
    const f = this.exports.proxy_on_tick;
    if (this.failed || this.rootDeleted || f === undefined) return;
    if (this.invoke(f, "proxy_on_tick", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID) !== null) this.applyDeferred();
    else this.crossPending = false;
  }

  queueReady(token: number): void {
    const f = this.exports.proxy_on_queue_ready;
    if (this.failed || this.rootDeleted || f === undefined) return;
    if (this.invoke(f, "proxy_on_queue_ready", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID, token) !== null) this.applyDeferred();
    else this.crossPending = false;
  }

  /** proxy_set_tick_period_milliseconds: 0 stops the timer. */
  setTickPeriod(ms: number): void {
    this.stopTimer();
    if (ms > 0 && this.env.timers && !this.failed) {
      this.tickTimer = setInterval(() => this.tick(), ms);
      this.tickTimer.unref();
    }
  }

  private stopTimer(): void {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }

  /** Connection finished: forget it; a retired instance shuts down with its last connection. */
  release(conn: Connection): void {
    this.connections.delete(conn.id);
    if (this.retired && this.connections.size === 0 && this.currentContext === 0) this.shutdown();
  }

  /** No longer the current instance (reconfigured): shut down once its connections are gone. */
  retire(): void {
    this.retired = true;
    if (this.connections.size === 0) this.shutdown();
  }
  private retired = false;

  /**
   * Shuts the root context down as cpp-host does: proxy_on_done(root); when it returns true (or is absent),
   * proxy_on_delete(root); when false, the module finishes later with proxy_done.
   */
  shutdown(): void {
    this.stopTimer();
    if (this.failed || this.rootDeleted) return;
    const done = this.exports.proxy_on_done;
    const r = done === undefined ? 1 : this.invoke(done, "proxy_on_done", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
    if (r === null) return;
    if (r !== 0) this.deleteRoot();
    else this.rootPendingDone = true;
  }

  /** proxy_done from the module: finishes a root context whose on_done returned false. */
  done(): WasmResult {
    if (!this.rootPendingDone) return WasmResult.NotFound;
    this.rootPendingDone = false;
    queueMicrotask(() => this.deleteRoot());
    return WasmResult.Ok;
  }

  private deleteRoot(): void {
    if (this.rootDeleted || this.failed) return;
    this.rootDeleted = true;
    const del = this.exports.proxy_on_delete;
    if (del !== undefined) this.invoke(del, "proxy_on_delete", ROOT_CONTEXT_ID, ROOT_CONTEXT_ID);
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
