// The import object: every host function of ABI 0.2.1 (abi-signatures.ts) with Envoy's behaviour where it
// matters to a network filter, Unimplemented (12) for the HTTP-only calls, and cpp-host's answers for the WASI
// subset (registered under both wasi_snapshot_preview1 and wasi_unstable). Every guest pointer and length is
// checked by GuestMemory; an out-of-range one is InvalidMemoryAccess (WASI: EFAULT), never a host exception.
// i32 arguments arrive as signed JS numbers and are read as unsigned (>>> 0); i64 arguments arrive as BigInt.

import { randomFillSync } from "node:crypto";
import {
  BUFFER_TYPE_MAX,
  BufferType,
  LOG_LEVEL_MAX,
  LogLevel,
  STREAM_TYPE_MAX,
  StreamType,
  WASI_RANDOM_GET_MAX_BYTES,
  WasiErrno,
  WasmResult,
} from "./abi.js";
import { HOST_IMPORTS, WASI_MODULES } from "./abi-signatures.js";
import type { Connection } from "./connection.js";
import { compressForeign, decodeSetEnvoyFilterStateArguments, uncompressForeign, type ForeignFunction } from "./foreign.js";
import type { NetworkBuffer } from "./network-buffer.js";
import { getProperty, setProperty } from "./properties.js";
import { describeError, type VmInstance } from "./vm-instance.js";

type HostFn = (...args: never[]) => number | void;

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8");

/** Realtime in nanoseconds with the monotonic clock's resolution, anchored once. */
const realtimeBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
export function realtimeNanos(): bigint {
  return realtimeBase + process.hrtime.bigint();
}

// Enum members and constants the hot buffer imports compare against, read once: an imported binding can be
// a getter call per access (how tsx/esbuild emit live bindings), which showed up at ~10 % of a read-replace.
const DOWNSTREAM_DATA = BufferType.DownstreamData;
const UPSTREAM_DATA = BufferType.UpstreamData;
const VM_CONFIGURATION = BufferType.VmConfiguration;
const PLUGIN_CONFIGURATION = BufferType.PluginConfiguration;
const BUFFER_MAX = BUFFER_TYPE_MAX;
const OK = WasmResult.Ok;
const BAD_ARGUMENT = WasmResult.BadArgument;
const NOT_FOUND = WasmResult.NotFound;
const INVALID_MEMORY_ACCESS = WasmResult.InvalidMemoryAccess;

const isStdio = (fd: number): boolean => fd === 1 || fd === 2;

/** Builds the imports for one instance. Functions read the instance's state at call time. */
export function createImports(inst: VmInstance): WebAssembly.Imports {
  const env = inst.env;
  const logs = env.logs;
  // `inst.memory` is assigned once the instance exists; imports only run after that.
  const mem = () => inst.memory;

  /** The network buffer of the active connection, or undefined. */
  const networkBuffer = (type: number): NetworkBuffer | undefined => {
    const conn = inst.activeConnection();
    if (conn === undefined) return undefined;
    return type === DOWNSTREAM_DATA ? conn.downstream : conn.upstream;
  };

  /** Read-only buffers: VM configuration always, plugin configuration during proxy_on_configure. */
  const constBuffer = (type: number): Uint8Array | undefined => {
    if (type === VM_CONFIGURATION) return inst.vmConfig;
    if (type === PLUGIN_CONFIGURATION && inst.configuring !== undefined) return inst.configuring.plugin.configuration;
    return undefined;
  };

  const builtins: Record<string, ForeignFunction> = {
    set_envoy_filter_state: (args, call) => {
      const parsed = decodeSetEnvoyFilterStateArguments(args);
      if (parsed === null) return BAD_ARGUMENT;
      const validate = env.filterStateKeys.get(parsed.path);
      if (validate === undefined) return NOT_FOUND;
      if (!validate(parsed.value)) return BAD_ARGUMENT;
      const conn = call.connection;
      if (conn === undefined) return NOT_FOUND; // no stream info in the root context
      conn.filterState.set(parsed.path, parsed.value);
      return OK;
    },
    clear_route_cache: () => OK,
    compress: compressForeign,
    uncompress: uncompressForeign,
  };

  const unimplemented = (): number => WasmResult.Unimplemented;

  // Foreign function names are decoded once per distinct name, not per call (the filter calls one per request).
  let lastNameBytes = new Uint8Array(0);
  let lastName = "";
  const foreignName = (ptr: number, len: number): string | null => {
    const v = mem().view(ptr, len);
    if (v === null) return null;
    if (v.length === lastNameBytes.length) {
      let same = true;
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== lastNameBytes[i]) {
          same = false;
          break;
        }
      }
      if (same) return lastName;
    }
    lastNameBytes = v.slice();
    lastName = utf8.decode(v);
    return lastName;
  };

  const proxy: Record<string, HostFn> = {
    proxy_log(level: number, ptr: number, len: number): number {
      level >>>= 0;
      if (level > LOG_LEVEL_MAX) return BAD_ARGUMENT;
      const m = mem();
      ptr >>>= 0;
      len >>>= 0;
      if (!m.inBounds(ptr, len)) return INVALID_MEMORY_ACCESS;
      if (logs.enabled(level)) logs.add(level, m.string(ptr, len)!, inst.activeContext(), "module");
      return OK;
    },
    proxy_get_log_level(ptr: number): number {
      return mem().writeU32(ptr >>> 0, logs.level) ? OK : INVALID_MEMORY_ACCESS;
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
      if (!mem().writeU32(codePtr >>> 0, 0)) return INVALID_MEMORY_ACCESS;
      return mem().copyToGuest(EMPTY, ptrPtr >>> 0, sizePtr >>> 0);
    },
    proxy_set_property(keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      const m = mem();
      const key = m.string(keyPtr >>> 0, keySize >>> 0);
      const value = m.view(valuePtr >>> 0, valueSize >>> 0);
      if (key === null || value === null) return INVALID_MEMORY_ACCESS;
      const conn = inst.activeConnection();
      const r = setProperty(key, value, inst.propertySource(conn));
      if (r === OK && conn !== undefined) conn.filterState.set(`wasm.${key}`, utf8.decode(value));
      return r;
    },
    proxy_get_property(pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number): number {
      const m = mem();
      const path = m.string(pathPtr >>> 0, pathSize >>> 0);
      if (path === null) return INVALID_MEMORY_ACCESS;
      const r = getProperty(path, inst.propertySource(inst.activeConnection()));
      if (r.result !== OK) return r.result;
      return m.copyToGuest(r.value!, ptrPtr >>> 0, sizePtr >>> 0);
    },
    proxy_send_local_response: unimplemented,
    proxy_get_shared_data(keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number, casPtr: number): number {
      const m = mem();
      const key = m.string(keyPtr >>> 0, keySize >>> 0);
      if (key === null) return INVALID_MEMORY_ACCESS;
      const r = env.shared.getData(env.vmId, key);
      if (r.result !== OK) return r.result;
      if (!m.inBounds(casPtr >>> 0, 4)) return INVALID_MEMORY_ACCESS;
      const copied = m.copyToGuest(r.value!, ptrPtr >>> 0, sizePtr >>> 0);
      if (copied !== OK) return copied;
      m.writeU32(casPtr >>> 0, r.cas);
      return OK;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
      const m = mem();
      const key = m.string(keyPtr >>> 0, keySize >>> 0);
      const value = m.view(valuePtr >>> 0, valueSize >>> 0);
      if (key === null || value === null) return INVALID_MEMORY_ACCESS;
      return env.shared.setData(env.vmId, key, value, cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      const m = mem();
      const name = m.string(namePtr >>> 0, nameSize >>> 0);
      if (name === null) return INVALID_MEMORY_ACCESS;
      if (!m.inBounds(tokenPtr >>> 0, 4)) return INVALID_MEMORY_ACCESS;
      // cpp-host registers the queue for the root context of the caller (a connection's parent).
      const rootId = inst.activeRoot()?.id ?? 0;
      const token = env.shared.registerQueue(env.vmId, name, (t) => setImmediate(() => inst.queueReady(rootId, t)));
      m.writeU32(tokenPtr >>> 0, token);
      return OK;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number): number {
      const m = mem();
      const vmId = m.string(vmIdPtr >>> 0, vmIdSize >>> 0);
      const name = m.string(namePtr >>> 0, nameSize >>> 0);
      if (vmId === null || name === null) return INVALID_MEMORY_ACCESS;
      const token = env.shared.resolveQueue(vmId === "" ? env.vmId : vmId, name);
      if (token === 0) return NOT_FOUND;
      return m.writeU32(tokenPtr >>> 0, token) ? OK : INVALID_MEMORY_ACCESS;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
      const r = env.shared.dequeue(token >>> 0);
      if (r.result !== OK) return r.result;
      return mem().copyToGuest(r.value!, ptrPtr >>> 0, sizePtr >>> 0);
    },
    proxy_enqueue_shared_queue(token: number, ptr: number, size: number): number {
      const value = mem().view(ptr >>> 0, size >>> 0);
      if (value === null) return INVALID_MEMORY_ACCESS;
      return env.shared.enqueue(token >>> 0, value);
    },
    proxy_get_header_map_value: unimplemented,
    proxy_add_header_map_value: unimplemented,
    proxy_replace_header_map_value: unimplemented,
    proxy_remove_header_map_value: unimplemented,
    proxy_get_header_map_pairs: unimplemented,
    proxy_set_header_map_pairs: unimplemented,
    proxy_get_header_map_size: unimplemented,
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      type >>>= 0;
      if (type > BUFFER_MAX) return BAD_ARGUMENT;
      let length: number;
      if (type === DOWNSTREAM_DATA || type === UPSTREAM_DATA) {
        const b = networkBuffer(type);
        if (b === undefined) return NOT_FOUND;
        length = b.length;
      } else {
        const c = constBuffer(type);
        if (c === undefined) return NOT_FOUND;
        length = c.length;
      }
      const m = mem();
      if (!m.writeU32(lengthPtr >>> 0, length)) return INVALID_MEMORY_ACCESS;
      return m.writeU32(flagsPtr >>> 0, 0) ? OK : INVALID_MEMORY_ACCESS;
    },
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      type >>>= 0;
      start >>>= 0;
      length >>>= 0;
      if (type > BUFFER_MAX) return BAD_ARGUMENT;
      let content: Uint8Array;
      if (type === DOWNSTREAM_DATA || type === UPSTREAM_DATA) {
        const b = networkBuffer(type);
        if (b === undefined) return NOT_FOUND;
        content = b.content();
      } else {
        const c = constBuffer(type);
        if (c === undefined) return NOT_FOUND;
        content = c;
      }
      // Don't overread: clamp the range to the buffer (start + length cannot wrap: both are < 2^32 here).
      if (start > content.length) length = 0;
      else if (start + length > content.length) length = content.length - start;
      return mem().copyRangeToGuest(content, start, length, ptrPtr >>> 0, sizePtr >>> 0);
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
      type >>>= 0;
      start >>>= 0;
      length >>>= 0;
      if (type > BUFFER_MAX) return BAD_ARGUMENT;
      const network = type === DOWNSTREAM_DATA || type === UPSTREAM_DATA;
      const b = network ? networkBuffer(type) : undefined;
      if (b === undefined) return constBuffer(type) !== undefined ? BAD_ARGUMENT : NOT_FOUND;
      const data = mem().view(dataPtr >>> 0, dataSize >>> 0);
      if (data === null) return INVALID_MEMORY_ACCESS;
      // Envoy's network buffer: start 0 drains `length` bytes and prepends (replace-prefix; length 0 = prepend),
      // start at or past the end appends, anything else is refused (no edits in the middle).
      if (start === 0) {
        b.drain(length);
        b.prepend(data);
        return OK;
      }
      if (start >= b.length) {
        b.append(data);
        return OK;
      }
      return BAD_ARGUMENT;
    },
    proxy_http_call: unimplemented,
    proxy_grpc_call: unimplemented,
    proxy_grpc_stream: unimplemented,
    proxy_grpc_close: unimplemented,
    proxy_grpc_cancel: unimplemented,
    proxy_grpc_send: unimplemented,
    proxy_set_tick_period_milliseconds(ms: number): number {
      inst.setTickPeriod(ms >>> 0);
      return OK;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      return mem().writeU64(ptr >>> 0, realtimeNanos()) ? OK : INVALID_MEMORY_ACCESS;
    },
    proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
      const m = mem();
      const name = m.string(namePtr >>> 0, nameSize >>> 0);
      if (name === null) return INVALID_MEMORY_ACCESS;
      if (!m.inBounds(idPtr >>> 0, 4)) return INVALID_MEMORY_ACCESS;
      const r = inst.metricIds.define(type >>> 0, name);
      if (r.result !== OK) return r.result;
      m.writeU32(idPtr >>> 0, r.id);
      return OK;
    },
    proxy_increment_metric(id: number, offset: bigint): number {
      return inst.metricIds.increment(id >>> 0, offset);
    },
    proxy_record_metric(id: number, value: bigint): number {
      return inst.metricIds.record(id >>> 0, value);
    },
    proxy_get_metric(id: number, ptr: number): number {
      const r = inst.metricIds.get(id >>> 0);
      if (r.result !== OK) return r.result;
      return mem().writeU64Number(ptr >>> 0, r.value) ? OK : INVALID_MEMORY_ACCESS;
    },
    proxy_set_effective_context(id: number): number {
      id >>>= 0;
      if (!inst.contextExists(id)) return BAD_ARGUMENT;
      inst.effectiveContext = id;
      return OK;
    },
    proxy_done(): number {
      return inst.done();
    },
    proxy_call_foreign_function(namePtr: number, nameSize: number, argsPtr: number, argsSize: number, resultPtrPtr: number, resultSizePtr: number): number {
      const m = mem();
      const name = foreignName(namePtr >>> 0, nameSize >>> 0);
      if (name === null) return INVALID_MEMORY_ACCESS;
      const args = m.view(argsPtr >>> 0, argsSize >>> 0);
      if (args === null) return INVALID_MEMORY_ACCESS;
      const f = builtins[name] ?? env.foreign.get(name);
      if (f === undefined) return NOT_FOUND;
      const conn: Connection | undefined = inst.activeConnection();
      let out: WasmResult | Uint8Array | void;
      try {
        out = f(args, { contextId: inst.activeContext(), connection: conn });
      } catch (e) {
        logs.add(LogLevel.Error, `foreign function ${name} threw: ${describeError(e)}`, inst.activeContext(), "host");
        return WasmResult.InternalFailure;
      }
      if (typeof out === "number") return out;
      const result = out ?? EMPTY;
      const rpp = resultPtrPtr >>> 0;
      const rsp = resultSizePtr >>> 0;
      let address = 0;
      if (rpp !== 0 && result.length > 0) {
        if (!m.inBounds(rpp, 4)) return INVALID_MEMORY_ACCESS;
        address = m.allocate(result.length) >>> 0;
        if (address === 0 || !m.writeBytes(address, result)) return INVALID_MEMORY_ACCESS;
      }
      if (rpp !== 0 && !m.writeU32(rpp, address)) return INVALID_MEMORY_ACCESS;
      if (rsp !== 0 && !m.writeU32(rsp, rpp !== 0 ? result.length : 0)) return INVALID_MEMORY_ACCESS;
      return OK;
    },
    proxy_continue_stream(type: number): number {
      type >>>= 0;
      if (type > STREAM_TYPE_MAX) return BAD_ARGUMENT;
      if (type === StreamType.Upstream) return WasmResult.Unimplemented; // as Envoy
      if (type === StreamType.Downstream) {
        const conn = inst.activeConnection();
        if (conn !== undefined) {
          conn.pendingContinue = true;
          if (conn.id !== inst.currentContext) inst.crossPending = true;
        }
      }
      return OK;
    },
    proxy_close_stream(type: number): number {
      type >>>= 0;
      if (type > STREAM_TYPE_MAX) return BAD_ARGUMENT;
      const conn = inst.activeConnection();
      if (conn !== undefined && (type === StreamType.Downstream || type === StreamType.Upstream)) {
        if (type === StreamType.Downstream) conn.pendingCloseDownstream = true;
        else conn.pendingCloseUpstream = true;
        if (conn.id !== inst.currentContext) inst.crossPending = true;
      }
      return OK;
    },
    pthread_equal(a: number, b: number): number {
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth(): void {},
  };

  /** WASI fd_write/fd_pwrite to stdout (info) or stderr (error), one log line per call, trailing newline cut. */
  const writev = (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number => {
    fd >>>= 0;
    if (!isStdio(fd)) return WasiErrno.Badf;
    const level = fd === 1 ? LogLevel.Info : LogLevel.Error;
    const m = mem();
    iovs >>>= 0;
    iovsLen >>>= 0;
    const keep = logs.enabled(level);
    let text = "";
    let written = 0;
    for (let i = 0; i < iovsLen; i++) {
      const base = iovs + i * 8;
      const buf = m.readU32(base);
      const len = m.readU32(base + 4);
      if (buf === null || len === null) return WasiErrno.Fault;
      if (len === 0) continue;
      if (!m.inBounds(buf, len)) return WasiErrno.Fault;
      if (keep) text += m.string(buf, len)!;
      written += len;
    }
    if (written > 0 && keep) {
      logs.add(level, text.endsWith("\n") ? text.slice(0, -1) : text, inst.activeContext(), "module");
    }
    return m.writeU32(nwrittenPtr >>> 0, written) ? WasiErrno.Success : WasiErrno.Fault;
  };

  const stdioOnly = (fd: number): number => (isStdio(fd >>> 0) ? WasiErrno.Success : WasiErrno.Badf);

  const wasi: Record<string, HostFn> = {
    fd_write: writev,
    fd_pwrite: (fd: number, iovs: number, iovsLen: number, _offset: bigint, nwrittenPtr: number) =>
      writev(fd, iovs, iovsLen, nwrittenPtr),
    fd_read: () => WasiErrno.Nosys,
    fd_seek: () => WasiErrno.Success,
    fd_close: () => WasiErrno.Success,
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (!isStdio(fd >>> 0)) return WasiErrno.Badf;
      const m = mem();
      const p = statPtr >>> 0;
      if (!m.inBounds(p, 24)) return WasiErrno.Fault;
      m.writeU64Number(p, 0);
      m.writeU64Number(p + 8, 64); // fs_rights_base = FD_WRITE
      m.writeU64Number(p + 16, 0);
      return WasiErrno.Success;
    },
    fd_fdstat_set_flags: () => WasiErrno.Nosys,
    fd_fdstat_set_rights: stdioOnly,
    environ_get(arrayPtr: number, bufPtr: number): number {
      const m = mem();
      let a = arrayPtr >>> 0;
      let b = bufPtr >>> 0;
      const enc = new TextEncoder();
      for (const [k, v] of env.environment) {
        const bytes = enc.encode(`${k}=${v}\u0000`);
        if (!m.writeU32(a, b) || !m.writeBytes(b, bytes)) return WasiErrno.Fault;
        a += 4;
        b += bytes.length;
      }
      return WasiErrno.Success;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      const m = mem();
      let size = 0;
      for (const [k, v] of env.environment) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
      if (!m.writeU32(countPtr >>> 0, env.environment.length)) return WasiErrno.Fault;
      return m.writeU32(sizePtr >>> 0, size) ? WasiErrno.Success : WasiErrno.Fault;
    },
    args_get: () => WasiErrno.Success,
    args_sizes_get(argcPtr: number, sizePtr: number): number {
      const m = mem();
      if (!m.writeU32(argcPtr >>> 0, 0)) return WasiErrno.Fault;
      return m.writeU32(sizePtr >>> 0, 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    clock_time_get(clockId: number, _precision: bigint, ptr: number): number {
      let t: bigint;
      if (clockId === 0) t = realtimeNanos();
      else if (clockId === 1) t = process.hrtime.bigint();
      else return WasiErrno.Notsup;
      return mem().writeU64(ptr >>> 0, t) ? WasiErrno.Success : WasiErrno.Fault;
    },
    clock_res_get(clockId: number, ptr: number): number {
      if (clockId !== 0 && clockId !== 1) return WasiErrno.Notsup;
      return mem().writeU64(ptr >>> 0, 1n) ? WasiErrno.Success : WasiErrno.Fault;
    },
    fd_advise: () => WasiErrno.Success,
    fd_allocate: stdioOnly,
    fd_datasync: stdioOnly,
    fd_filestat_set_size: stdioOnly,
    fd_filestat_set_times: stdioOnly,
    fd_pread: () => WasiErrno.Nosys,
    fd_readdir(_fd: number, _buf: number, _len: number, _cookie: bigint, nreadPtr: number): number {
      return mem().writeU32(nreadPtr >>> 0, 0) ? WasiErrno.Notdir : WasiErrno.Fault;
    },
    fd_renumber: (fd: number, to: number) =>
      isStdio(fd >>> 0) && isStdio(to >>> 0) ? WasiErrno.Notsup : WasiErrno.Badf,
    fd_sync: stdioOnly,
    fd_tell(fd: number, ptr: number): number {
      if (!isStdio(fd >>> 0)) return WasiErrno.Badf;
      return mem().writeU64Number(ptr >>> 0, 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    path_create_directory: () => WasiErrno.Notsup,
    path_filestat_set_times: () => WasiErrno.Notsup,
    path_link: () => WasiErrno.Notsup,
    path_readlink(_fd: number, _p: number, _pl: number, _b: number, _bl: number, retPtr: number): number {
      return mem().writeU32(retPtr >>> 0, 0) ? WasiErrno.Notsup : WasiErrno.Fault;
    },
    path_remove_directory: () => WasiErrno.Notsup,
    path_rename: () => WasiErrno.Notsup,
    path_symlink: () => WasiErrno.Notsup,
    path_unlink_file: () => WasiErrno.Notsup,
    sock_accept(_fd: number, _flags: number, retPtr: number): number {
      return mem().writeU32(retPtr >>> 0, 0) ? WasiErrno.Notsup : WasiErrno.Fault;
    },
    sock_recv(_fd: number, _d: number, _dl: number, _f: number, ret0: number, ret1: number): number {
      const m = mem();
      if (!m.writeU32(ret0 >>> 0, 0) || !m.writeU16(ret1 >>> 0, 0)) return WasiErrno.Fault;
      return WasiErrno.Notsup;
    },
    sock_send(_fd: number, _d: number, _dl: number, _f: number, ret0: number): number {
      return mem().writeU32(ret0 >>> 0, 0) ? WasiErrno.Notsup : WasiErrno.Fault;
    },
    sock_shutdown: () => WasiErrno.Notsup,
    random_get(ptr: number, len: number): number {
      len >>>= 0;
      if (len > WASI_RANDOM_GET_MAX_BYTES) return WasiErrno.Inval;
      if (len === 0) return WasiErrno.Success;
      const view = mem().view(ptr >>> 0, len);
      if (view === null) return WasiErrno.Fault;
      randomFillSync(view);
      return WasiErrno.Success;
    },
    sched_yield: () => WasiErrno.Success,
    poll_oneoff(_in: number, _out: number, _n: number, neventsPtr: number): number {
      return mem().writeU32(neventsPtr >>> 0, 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    proc_exit(code: number): void {
      // cpp-host only reports it; the module goes on (an AssemblyScript abort traps right after).
      logs.add(LogLevel.Debug, `module called proc_exit(${code})`, inst.activeContext(), "host");
    },
    path_open: () => WasiErrno.Noent,
    fd_prestat_get: () => WasiErrno.Badf,
    fd_prestat_dir_name: () => WasiErrno.Nosys,
    path_filestat_get: () => WasiErrno.Notsup,
    fd_filestat_get: () => WasiErrno.Badf,
  };

  const imports: Record<string, Record<string, HostFn>> = { env: {} };
  for (const m of WASI_MODULES) imports[m] = {};
  for (const s of HOST_IMPORTS) {
    const table = s.module === "env" ? proxy : wasi;
    const f = table[s.name];
    if (f === undefined) throw new Error(`host bug: no implementation of ${s.module}.${s.name}`);
    imports[s.module]![s.name] = f;
  }
  return imports as WebAssembly.Imports;
}
