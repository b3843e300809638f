// One network connection through the filter: its context in the VM it started on, its two read buffers with
// Envoy's semantics, its filter state and the properties the module set.

import { Action, PeerType } from "./abi.js";
import { NetworkBuffer } from "./network-buffer.js";
import type { PropertyConnection, PropertySource } from "./properties.js";
import type { RootContext } from "./root-context.js";
import type { VmInstance } from "./vm-instance.js";

const EMPTY = new Uint8Array(0);

/** What one call into the filter produced. */
// Read once (an imported enum member can cost a getter call per access under tsx/esbuild).
const CONTINUE = Action.Continue;
const PAUSE = Action.Pause;

export interface CallResult {
  /** Continue or Pause (any non-zero return of the module is Pause, as in Envoy). */
  action: Action;
  /** The filter asked to close the downstream connection (proxy_close_stream(Downstream)), now or earlier. */
  closeDownstream: boolean;
  /** The filter asked to close the upstream connection (proxy_close_stream(Upstream)), now or earlier. */
  closeUpstream: boolean;
  /** The VM failed (trapped): now or earlier. The connection is dead; close both sides. */
  failed: boolean;
}

/** What a data call produced. */
export interface DataResult extends CallResult {
  /**
   * The bytes to hand to the next stage (tcp_proxy / the upstream for downstream data, the client for
   * upstream data): on Continue the whole buffer as the filter left it, drained from the host; empty on Pause,
   * and empty when the filter closed the downstream during this call (as in Envoy, whatever it returned).
   * It may be the very array passed in (when the filter did not modify it); the host keeps no reference to it.
   */
  forwarded: Uint8Array;
  /** The connection's context is gone (closed or failed): nothing more will be processed. */
  closed: boolean;
}

export interface ConnectionOptions {
  /** Downstream (client) address "ip:port": property source.address / source.port. */
  source: string;
  /** Local address the client connected to "ip:port": property destination.address / destination.port. */
  destination: string;
  /** Value of property connection_id; default: a counter unique in the WasmVm. */
  connectionId?: number;
  /** Anything the embedder wants to find again from a foreign function call (ForeignCallInfo.connection.tag). */
  tag?: unknown;
  /**
   * Called when the host closes the connection on its own, outside a call the embedder made on it: the VM
   * failed during another connection's call ("vm-failed"), or the filter called proxy_close_stream for it from
   * another context (tick, queue, effective context) ("filter-closed-downstream" / "filter-closed-upstream").
   */
  onClose?: (reason: ConnectionCloseReason) => void;
  /**
   * Called when the filter resumed the downstream with proxy_continue_stream(Downstream) outside this
   * connection's own data call, with the held bytes to hand on (possibly empty).
   */
  onResume?: (forwarded: Uint8Array) => void;
}

export type ConnectionCloseReason = "vm-failed" | "filter-closed-downstream" | "filter-closed-upstream";

export class Connection implements PropertyConnection {
  readonly id: number;
  readonly connectionId: number;
  readonly source: string;
  readonly destination: string;
  readonly tag: unknown;
  upstreamAddress: string | undefined;
  /**
   * Envoy filter state of the connection: keys set through set_envoy_filter_state (e.g.
   * "envoy.tcp_proxy.cluster" → cluster name), and "wasm."-prefixed keys set through proxy_set_property
   * (their value decoded as UTF-8; the raw bytes are in wasmState).
   */
  readonly filterState = new Map<string, string>();
  /** Raw proxy_set_property values, keyed by "wasm." + path. */
  readonly wasmState = new Map<string, Uint8Array>();
  /** Result of proxy_on_context_create + proxy_on_new_connection. */
  newConnectionResult: CallResult;
  /** The filter asked to close the downstream / upstream. */
  closedByFilter = false;
  upstreamClosedByFilter = false;
  /** The VM trapped while this connection was alive: it is dead. */
  failed = false;
  /** on_done/on_log/on_delete have run (or the VM failed): no more callbacks reach the module. */
  finished = false;
  downstreamClosed = false;
  upstreamClosed = false;

  /** @internal */ readonly downstream = new NetworkBuffer();
  /** @internal */ readonly upstream = new NetworkBuffer();

  /** Bytes of the client's stream the host holds for the filter (it paused without taking them). */
  get downstreamBuffered(): number {
    return this.downstream.length;
  }
  /** @internal set by host calls during a VM call, applied after it */
  pendingCloseDownstream = false;
  /** @internal */ pendingCloseUpstream = false;
  /** @internal */ pendingContinue = false;
  /** @internal cached by the instance for property lookups */
  propertySourceCache: PropertySource | undefined;
  /** @internal */ readonly onClose: ((reason: ConnectionCloseReason) => void) | undefined;
  /** @internal */ readonly onResume: ((forwarded: Uint8Array) => void) | undefined;

  /** @internal Created by WasmVm.newConnection. */
  constructor(
    /** @internal */ readonly instance: VmInstance,
    /** @internal The root context this connection's context is parented to (for its whole life). */ readonly root: RootContext,
    id: number,
    connectionId: number,
    options: ConnectionOptions,
  ) {
    this.id = id;
    this.connectionId = connectionId;
    this.source = options.source;
    this.destination = options.destination;
    this.tag = options.tag;
    this.onClose = options.onClose;
    this.onResume = options.onResume;
    this.newConnectionResult = { action: Action.Continue, closeDownstream: false, closeUpstream: false, failed: false };
  }

  /** The generation of the VM this connection runs on (connections stay on the VM they started with). */
  get vmGeneration(): number {
    return this.instance.generation;
  }

  /** The id of the root context this connection was created under (it keeps it for its whole life, as in Envoy). */
  get rootContextId(): number {
    return this.root.id;
  }

  /** The upstream connection is established: sets properties upstream.address / upstream.port. */
  setUpstreamAddress(address: string): void {
    this.upstreamAddress = address;
  }

  /**
   * Bytes read from the downstream (client). They are appended to the connection's read buffer and
   * proxy_on_downstream_data sees the whole buffer. Continue hands the whole buffer on (result.forwarded) and
   * empties it; Pause keeps it for the next call. With endOfStream the client half-closed.
   */
  downstreamData(bytes: Uint8Array, endOfStream = false): DataResult {
    return this.data(this.downstream, "proxy_on_downstream_data", bytes, endOfStream);
  }

  /**
   * Bytes read from the upstream, on their way to the client, through proxy_on_upstream_data with the same
   * buffer semantics. As in Envoy, endOfStream also reports the upstream close to the module
   * (proxy_on_upstream_connection_close with peer Unknown) after the data call.
   */
  upstreamData(bytes: Uint8Array, endOfStream = false): DataResult {
    const r = this.data(this.upstream, "proxy_on_upstream_data", bytes, endOfStream);
    if (endOfStream && !r.closed) this.closeUpstream(PeerType.Unknown);
    return r;
  }

  /**
   * The downstream connection closed (Remote: the client closed; Local: we closed it). Calls
   * proxy_on_downstream_connection_close and then, as Envoy does, ends the context (on_done, on_log,
   * on_delete). Idempotent.
   */
  closeDownstream(peer: PeerType = PeerType.Remote): void {
    if (this.downstreamClosed || this.finished) {
      this.downstreamClosed = true;
      return;
    }
    this.downstreamClosed = true;
    this.instance.callConnection(this, "proxy_on_downstream_connection_close", peer);
    this.applyPending(false);
    this.instance.applyDeferred(this);
    this.done();
  }

  /**
   * The upstream connection closed. Calls proxy_on_upstream_connection_close; when the downstream is already
   * closed the context ends (on_done, on_log, on_delete). Idempotent.
   */
  closeUpstream(peer: PeerType = PeerType.Remote): void {
    if (this.upstreamClosed || this.finished) {
      this.upstreamClosed = true;
      return;
    }
    this.upstreamClosed = true;
    this.instance.callConnection(this, "proxy_on_upstream_connection_close", peer);
    this.applyPending(false);
    this.instance.applyDeferred(this);
    if (this.downstreamClosed) this.done();
  }

  /** Ends the context: proxy_on_done, proxy_on_log, proxy_on_delete (once; nothing after a VM failure). */
  done(): void {
    if (this.finished) return;
    this.instance.callConnection(this, "proxy_on_done");
    if (!this.finished) this.instance.callConnection(this, "proxy_on_log");
    if (!this.finished) this.instance.callConnection(this, "proxy_on_delete");
    this.finish();
    this.instance.applyDeferred(this);
  }

  /** True once nothing more will reach the module for this connection. */
  get closed(): boolean {
    return this.finished;
  }

  /** A property as the module would read it (NUL-separated or an array of segments); undefined when absent. */
  property(path: string | readonly string[]): Uint8Array | undefined {
    return this.instance.propertyFor(this, typeof path === "string" ? path : path.join("\u0000"));
  }

  private data(buf: NetworkBuffer, fn: "proxy_on_downstream_data" | "proxy_on_upstream_data", bytes: Uint8Array, eos: boolean): DataResult {
    if (this.finished) return this.deadResult();
    buf.add(bytes);
    const ret = this.instance.callConnection(this, fn, buf.length, eos ? 1 : 0);
    if (ret === null) return this.deadResult();
    const resume = this.pendingContinue && buf === this.downstream;
    const action = ret === 0 || resume ? CONTINUE : PAUSE;
    let forwarded: Uint8Array = EMPTY;
    if (this.pendingCloseDownstream) {
      // Envoy runs the close after the VM call, and its filter manager hands nothing on from a connection
      // that is no longer open (source/common/network/filter_manager_impl.cc, onContinueReading / onWrite):
      // a read or write during which the filter closed the downstream goes nowhere, even on Continue.
      buf.clear();
    } else if (action === CONTINUE) forwarded = buf.take();
    else buf.own();
    this.pendingContinue = false;
    const result: DataResult = {
      action,
      forwarded,
      closeDownstream: this.pendingCloseDownstream || this.closedByFilter,
      closeUpstream: this.pendingCloseUpstream || this.upstreamClosedByFilter,
      failed: false,
      closed: false,
    };
    this.applyPending(false);
    this.instance.applyDeferred(this);
    result.closed = this.finished;
    return result;
  }

  private deadResult(): DataResult {
    return {
      action: Action.Pause,
      forwarded: EMPTY,
      closeDownstream: true,
      closeUpstream: true,
      failed: this.failed,
      closed: true,
    };
  }

  /**
   * @internal Applies what the filter asked for during a VM call, after the call (Envoy defers these too):
   * close of the downstream runs the close sequence as Envoy's LocalClose event does.
   */
  applyPending(notify: boolean): void {
    if (this.pendingCloseUpstream) {
      this.pendingCloseUpstream = false;
      this.upstreamClosedByFilter = true;
      if (notify) this.onClose?.("filter-closed-upstream");
    }
    if (this.pendingContinue && notify) {
      this.pendingContinue = false;
      if (!this.finished) this.onResume?.(this.downstream.take());
    }
    if (this.pendingCloseDownstream) {
      this.pendingCloseDownstream = false;
      this.closedByFilter = true;
      if (notify) this.onClose?.("filter-closed-downstream");
      if (!this.finished) this.closeDownstream(PeerType.Local);
    }
  }

  /** @internal The VM this connection runs on failed. */
  markFailed(notify: boolean): void {
    if (this.finished) return;
    this.failed = true;
    this.finish();
    if (notify) this.onClose?.("vm-failed");
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.downstream.clear();
    this.upstream.clear();
    this.instance.release(this);
  }
}
