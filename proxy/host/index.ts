// The TypeScript proxy-wasm host: runs a proxy-wasm (ABI 0.2.1) network filter on Node's WebAssembly with
// Envoy's semantics. It serves the fallback proxy and doubles as the test emulator.
//
// Lifecycle (Envoy's order):
//
//   WasmVm.create({wasm, pluginConfig, ...})        compile; check imports against ABI 0.2.1 + WASI
//     └ canary: the same start in a throwaway instance, dropped with no further callback (cpp-host's canary)
//     └ instantiate → _initialize | _start
//       → proxy_on_context_create(root=1, 0) → proxy_on_vm_start(1, vm_config_size)
//       → proxy_on_configure(1, plugin_config_size)  0 = failure → WasmVmError carrying the module's log lines
//   vm.newConnection({source, destination})        proxy_on_context_create(id, root) → proxy_on_new_connection(id)
//     conn.downstreamData(bytes, eos) → proxy_on_downstream_data(id, whole buffer size, eos)
//     conn.upstreamData(bytes, eos)   → proxy_on_upstream_data(id, whole buffer size, eos)
//     conn.closeUpstream(peer)        → proxy_on_upstream_connection_close(id, peer)
//     conn.closeDownstream(peer)      → proxy_on_downstream_connection_close(id, peer)
//                                       → proxy_on_done(id) → proxy_on_log(id) → proxy_on_delete(id)
//     conn.done()                     → proxy_on_done → proxy_on_log → proxy_on_delete (if not yet)
//   vm.reconfigure({pluginConfig | wasm | vmConfig | rootId})  as Envoy applies a new filter configuration: canary;
//                                          a held root context of the same plugin key again (no callback); else a
//                                          new root context in a held instance of the same VM key
//                                          (proxy_on_context_create(id, 0), proxy_on_vm_start, proxy_on_configure);
//                                          else a new instance. Failure keeps the current root context.
//   vm.close()                             every root context: proxy_on_done(root) → proxy_on_delete(root)
//
// What is legal when:
// - Data calls return the bytes to forward: Continue hands the whole (possibly rewritten) buffer on and drains
//   it; Pause keeps it and later bytes are appended. Nothing is forwarded on Pause.
// - A connection keeps the root context (and instance) it was created under; reconfiguration never drops
//   connections. The previous root context ends (on_done, on_delete) once it is not current and its last
//   connection is gone.
// - A trap fails that VM: the call in progress reports failed (close both sides), every other connection on it
//   is closed (its onClose gets "vm-failed"), the trap is counted (vm.traps) and logged at critical level, and
//   the next vm.newConnection starts a fresh VM with the same module and configuration.
// - Calls on one WasmVm are synchronous and must not be made from inside a foreign function or log sink
//   (re-entrancy into a running VM is refused with an exception).
// - After a connection closed (conn.closed), data calls do nothing and report closed.
//
// See docs/host.md for the full semantics and what differs from Envoy.

export { Action, BufferType, LifeSpan, LogLevel, MetricType, PeerType, StreamType, WasmResult } from "./abi.js";
export {
  HOST_IMPORTS,
  MODULE_EXPORTS,
  formatSignature,
  hostImportSignature,
  sameSignature,
  type ExportSignature,
  type FuncSignature,
  type ImportSignature,
  type ValType,
} from "./abi-signatures.js";
export {
  Connection,
  type CallResult,
  type ConnectionCloseReason,
  type ConnectionOptions,
  type DataResult,
} from "./connection.js";
export { WasmVmError } from "./errors.js";
export { ENVOY_FILTER_STATE_KEYS, type FilterStateValidator } from "./filter-state.js";
export {
  decodeSetEnvoyFilterStateArguments,
  encodeSetEnvoyFilterStateArguments,
  type ForeignCallConnection,
  type ForeignCallInfo,
  type ForeignFunction,
  type SetEnvoyFilterStateArguments,
} from "./foreign.js";
export { logLevelName, type LogEntry, type LogSink } from "./logs.js";
export type { HistogramValue, MetricKind, MetricSnapshot } from "./metrics.js";
export { SharedState, processSharedState } from "./shared-data.js";
export { WasmVm, checkModuleImports, type ReconfigureOptions, type WasmVmOptions } from "./vm.js";
export { readModuleInterface, type ModuleExport, type ModuleImport, type ModuleInterface } from "./wasm-binary.js";
