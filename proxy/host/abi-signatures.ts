// The exact Wasm signatures of every host function Envoy (proxy-wasm-cpp-host) registers for a module that
// declares ABI 0.2.1, and of the module exports the host calls. Read from cpp-host's
// include/proxy-wasm/exports.h and src/wasm.cc: a `Word` is i32 on wasm32, int64_t/uint64_t are i64.
// A module whose import is missing here, or has another signature, does not link in Envoy.

export type ValType = "i32" | "i64" | "f32" | "f64";

export interface FuncSignature {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

export interface ImportSignature extends FuncSignature {
  readonly module: string;
  readonly name: string;
}

/** Signature shorthand: one letter per value, `i` = i32, `I` = i64; results "" = none. */
function sig(params: string, results: string): FuncSignature {
  const map = (s: string): ValType[] => [...s].map((c) => (c === "I" ? "i64" : "i32"));
  return { params: map(params), results: map(results) };
}

/** `env.proxy_*` of ABI 0.2.1 (FOR_ALL_HOST_FUNCTIONS plus the 0.2.1-specific ones). */
const PROXY_FUNCTIONS: ReadonlyArray<readonly [string, FuncSignature]> = [
  ["proxy_log", sig("iii", "i")],
  ["proxy_get_log_level", sig("i", "i")],
  ["proxy_get_status", sig("iii", "i")],
  ["proxy_set_property", sig("iiii", "i")],
  ["proxy_get_property", sig("iiii", "i")],
  ["proxy_send_local_response", sig("iiiiiiii", "i")],
  ["proxy_get_shared_data", sig("iiiii", "i")],
  ["proxy_set_shared_data", sig("iiiii", "i")],
  ["proxy_register_shared_queue", sig("iii", "i")],
  ["proxy_resolve_shared_queue", sig("iiiii", "i")],
  ["proxy_dequeue_shared_queue", sig("iii", "i")],
  ["proxy_enqueue_shared_queue", sig("iii", "i")],
  ["proxy_get_header_map_value", sig("iiiii", "i")],
  ["proxy_add_header_map_value", sig("iiiii", "i")],
  ["proxy_replace_header_map_value", sig("iiiii", "i")],
  ["proxy_remove_header_map_value", sig("iii", "i")],
  ["proxy_get_header_map_pairs", sig("iii", "i")],
  ["proxy_set_header_map_pairs", sig("iii", "i")],
  ["proxy_get_header_map_size", sig("ii", "i")],
  ["proxy_get_buffer_status", sig("iii", "i")],
  ["proxy_get_buffer_bytes", sig("iiiii", "i")],
  ["proxy_set_buffer_bytes", sig("iiiii", "i")],
  ["proxy_http_call", sig("iiiiiiiiii", "i")],
  ["proxy_grpc_call", sig("iiiiiiiiiiii", "i")],
  ["proxy_grpc_stream", sig("iiiiiiiii", "i")],
  ["proxy_grpc_close", sig("i", "i")],
  ["proxy_grpc_cancel", sig("i", "i")],
  ["proxy_grpc_send", sig("iiii", "i")],
  ["proxy_set_tick_period_milliseconds", sig("i", "i")],
  ["proxy_get_current_time_nanoseconds", sig("i", "i")],
  ["proxy_define_metric", sig("iiii", "i")],
  ["proxy_increment_metric", sig("iI", "i")],
  ["proxy_record_metric", sig("iI", "i")],
  ["proxy_get_metric", sig("ii", "i")],
  ["proxy_set_effective_context", sig("i", "i")],
  ["proxy_done", sig("", "i")],
  ["proxy_call_foreign_function", sig("iiiiii", "i")],
  ["proxy_continue_stream", sig("i", "i")],
  ["proxy_close_stream", sig("i", "i")],
];

/** The two Emscripten helpers cpp-host registers under `env` for every ABI. */
const ENV_HELPERS: ReadonlyArray<readonly [string, FuncSignature]> = [
  ["pthread_equal", sig("ii", "i")],
  ["emscripten_notify_memory_growth", sig("i", "")],
];

/** FOR_ALL_WASI_FUNCTIONS, registered under both `wasi_unstable` and `wasi_snapshot_preview1`. */
const WASI_FUNCTIONS: ReadonlyArray<readonly [string, FuncSignature]> = [
  ["fd_write", sig("iiii", "i")],
  ["fd_read", sig("iiii", "i")],
  ["fd_seek", sig("iIii", "i")],
  ["fd_close", sig("i", "i")],
  ["fd_fdstat_get", sig("ii", "i")],
  ["fd_fdstat_set_flags", sig("ii", "i")],
  ["fd_fdstat_set_rights", sig("iII", "i")],
  ["environ_get", sig("ii", "i")],
  ["environ_sizes_get", sig("ii", "i")],
  ["args_get", sig("ii", "i")],
  ["args_sizes_get", sig("ii", "i")],
  ["clock_time_get", sig("iIi", "i")],
  ["clock_res_get", sig("ii", "i")],
  ["fd_advise", sig("iIIi", "i")],
  ["fd_allocate", sig("iII", "i")],
  ["fd_datasync", sig("i", "i")],
  ["fd_filestat_set_size", sig("iI", "i")],
  ["fd_filestat_set_times", sig("iIIi", "i")],
  ["fd_pread", sig("iiiIi", "i")],
  ["fd_pwrite", sig("iiiIi", "i")],
  ["fd_readdir", sig("iiiIi", "i")],
  ["fd_renumber", sig("ii", "i")],
  ["fd_sync", sig("i", "i")],
  ["fd_tell", sig("ii", "i")],
  ["path_create_directory", sig("iii", "i")],
  ["path_filestat_set_times", sig("iiiiIIi", "i")],
  // cpp-host declares path_link with 6 and path_symlink with 4 parameters (WASI has 7 and 5); Envoy links
  // against cpp-host's declarations, so these are the signatures a module must use.
  ["path_link", sig("iiiiii", "i")],
  ["path_readlink", sig("iiiiii", "i")],
  ["path_remove_directory", sig("iii", "i")],
  ["path_rename", sig("iiiiii", "i")],
  ["path_symlink", sig("iiii", "i")],
  ["path_unlink_file", sig("iii", "i")],
  ["sock_accept", sig("iii", "i")],
  ["sock_recv", sig("iiiiii", "i")],
  ["sock_send", sig("iiiii", "i")],
  ["sock_shutdown", sig("ii", "i")],
  ["random_get", sig("ii", "i")],
  ["sched_yield", sig("", "i")],
  ["poll_oneoff", sig("iiii", "i")],
  ["proc_exit", sig("i", "")],
  ["path_open", sig("iiiiiIIii", "i")],
  ["fd_prestat_get", sig("ii", "i")],
  ["fd_prestat_dir_name", sig("iii", "i")],
  ["path_filestat_get", sig("iiiii", "i")],
  ["fd_filestat_get", sig("ii", "i")],
];

export const WASI_MODULES: readonly string[] = ["wasi_snapshot_preview1", "wasi_unstable"];

/** Every import a module may have under ABI 0.2.1 in Envoy, in a fixed order. */
export const HOST_IMPORTS: readonly ImportSignature[] = [
  ...PROXY_FUNCTIONS.map(([name, s]) => ({ module: "env", name, ...s })),
  ...ENV_HELPERS.map(([name, s]) => ({ module: "env", name, ...s })),
  ...WASI_MODULES.flatMap((module) => WASI_FUNCTIONS.map(([name, s]) => ({ module, name, ...s }))),
];

const IMPORT_INDEX = new Map<string, ImportSignature>(HOST_IMPORTS.map((s) => [`${s.module}.${s.name}`, s]));

/** The host's signature for `module.name`, or undefined when Envoy provides no such import. */
export function hostImportSignature(module: string, name: string): ImportSignature | undefined {
  return IMPORT_INDEX.get(`${module}.${name}`);
}

export function formatSignature(s: FuncSignature): string {
  return `(${s.params.join(", ")}) -> (${s.results.join(", ")})`;
}

export function sameSignature(a: FuncSignature, b: FuncSignature): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((r, i) => r === b.results[i])
  );
}

export interface ExportSignature extends FuncSignature {
  readonly name: string;
  /** Required of every network filter module; the others are called when present. */
  readonly required: boolean;
}

/** Module exports the host calls for a network filter, with the signatures cpp-host expects. */
export const MODULE_EXPORTS: readonly ExportSignature[] = [
  { name: "proxy_abi_version_0_2_1", required: true, ...sig("", "") },
  { name: "proxy_on_context_create", required: true, ...sig("ii", "") },
  { name: "proxy_on_vm_start", required: true, ...sig("ii", "i") },
  { name: "proxy_on_configure", required: true, ...sig("ii", "i") },
  { name: "proxy_on_new_connection", required: true, ...sig("i", "i") },
  { name: "proxy_on_downstream_data", required: true, ...sig("iii", "i") },
  { name: "proxy_on_upstream_data", required: true, ...sig("iii", "i") },
  { name: "proxy_on_downstream_connection_close", required: true, ...sig("ii", "") },
  { name: "proxy_on_upstream_connection_close", required: true, ...sig("ii", "") },
  { name: "proxy_on_done", required: true, ...sig("i", "i") },
  { name: "proxy_on_log", required: true, ...sig("i", "") },
  { name: "proxy_on_delete", required: true, ...sig("i", "") },
  { name: "malloc", required: false, ...sig("i", "i") },
  { name: "proxy_on_memory_allocate", required: false, ...sig("i", "i") },
  { name: "_initialize", required: false, ...sig("", "") },
  { name: "_start", required: false, ...sig("", "") },
  { name: "proxy_on_tick", required: false, ...sig("i", "") },
  { name: "proxy_on_queue_ready", required: false, ...sig("ii", "") },
  { name: "proxy_on_foreign_function", required: false, ...sig("iii", "") },
  { name: "proxy_validate_configuration", required: false, ...sig("ii", "i") },
];
