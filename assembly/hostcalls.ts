// Raw proxy-wasm host calls, in one place (the SDK's wrappers throw on any non-Ok status and its log()
// writes through WASI fd_write). Every function here returns the host's status instead of throwing, and
// takes or returns managed buffers: the filter code above never touches a pointer.
//
// Everything here only uses imports Envoy provides (ABI 0.2.1). Which callback may use what:
//   proxy_log, proxy_get_log_level, metrics, properties, foreign functions: any callback;
//   DownstreamData / UpstreamData buffers: only inside on_downstream_data / on_upstream_data;
//   PluginConfiguration buffer: only inside proxy_on_configure;
//   proxy_close_stream(Downstream|Upstream): a connection context's callbacks.
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";
import { __unpin } from "rt/itcms";
import { malloc as sdkMalloc } from "@gcoredev/proxy-wasm-sdk-as/assembly/malloc";

export const enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

export const enum Status {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

export const enum BufferType {
  DownstreamData = 2,
  UpstreamData = 3,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
}

export const enum StreamType {
  Downstream = 2,
  Upstream = 3,
}

export const enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** The WasmResult's name, for log lines. */
export function statusName(status: u32): string {
  switch (status) {
    case Status.Ok: return "Ok";
    case Status.NotFound: return "NotFound";
    case Status.BadArgument: return "BadArgument";
    case Status.SerializationFailure: return "SerializationFailure";
    case Status.ParseFailure: return "ParseFailure";
    case Status.BadExpression: return "BadExpression";
    case Status.InvalidMemoryAccess: return "InvalidMemoryAccess";
    case Status.Empty: return "Empty";
    case Status.CasMismatch: return "CasMismatch";
    case Status.ResultMismatch: return "ResultMismatch";
    case Status.InternalFailure: return "InternalFailure";
    case Status.BrokenConnection: return "BrokenConnection";
    case Status.Unimplemented: return "Unimplemented";
    default: return "status " + status.toString();
  }
}

// Out-parameter slots the host writes into (module level: no allocation per call).
const retPtr = memory.data(8);
const retSize = memory.data(8);
const retU32 = memory.data(4);

/** The status of the last call that returns a value (getBufferBytes, getProperty, callForeignFunction). */
export let lastStatus: u32 = Status.Ok;

// ---------------------------------------------------------------------------------------------- logs

let cachedLogLevel: i32 = Level.Info;

/** Re-reads the host's log level (call it now and then, e.g. once per connection). */
export function refreshLogLevel(): void {
  if (imports.proxy_get_log_level(retU32) == Status.Ok) cachedLogLevel = <i32>load<u32>(retU32);
}

/** True when a message at `level` would be logged: build log strings only when this says so. */
export function logEnabled(level: Level): bool {
  return <i32>level >= cachedLogLevel;
}

/** proxy_log with a UTF-8 copy of the message. */
export function hostLog(level: Level, message: string): void {
  const buf = String.UTF8.encode(message);
  imports.proxy_log(level as imports.LogLevel, changetype<usize>(buf), buf.byteLength);
}

/**
 * The module's abort (asconfig `use: abort=...`): Envoy provides no `env.abort`. Logs what failed at
 * critical level; the compiler follows every abort with `unreachable`, so the VM still traps, and code
 * on input paths must never reach an abort.
 */
export function filterAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "dubbo-mesh filter abort: ";
  if (message !== null) text += message;
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  hostLog(Level.Critical, text);
}

// ------------------------------------------------------------------------------------------- buffers

/** Takes ownership of memory the host allocated through our malloc and returns it as an ArrayBuffer. */
function adoptHostBuffer(): ArrayBuffer | null {
  const ptr = load<usize>(retPtr);
  const size = load<usize>(retSize);
  if (ptr == 0) return size == 0 ? new ArrayBuffer(0) : null;
  // malloc (SDK) returned a pinned ArrayBuffer; unpinning hands it to the collector, our reference keeps it.
  const buffer = changetype<ArrayBuffer>(ptr);
  __unpin(ptr);
  if (<usize>buffer.byteLength != size) {
    // The host allocated more than it filled (or a different size): keep only the filled part.
    if (size > <usize>buffer.byteLength) return null;
    return buffer.slice(0, <i32>size);
  }
  return buffer;
}

/**
 * Bytes [start, start+max) of a buffer; null on failure (`lastStatus` says why). An empty buffer gives
 * an empty ArrayBuffer.
 */
export function getBufferBytes(type: BufferType, start: u32, max: u32): ArrayBuffer | null {
  store<usize>(retPtr, 0);
  store<usize>(retSize, 0);
  lastStatus = imports.proxy_get_buffer_bytes(type, start, max, retPtr, retSize);
  if (lastStatus != Status.Ok) {
    // Free whatever the host may have allocated before failing.
    const ptr = load<usize>(retPtr);
    if (ptr != 0) __unpin(ptr);
    return null;
  }
  return adoptHostBuffer();
}

// Reads into a reused scratch area: the connection's data callbacks copy the whole read buffer in on every
// call, and handing the host a fresh managed ArrayBuffer each time (zero-filled, then collected) costs more
// than the filter's own work on a small read. readBufferBytes arms `malloc` so that the one allocation the
// host makes for proxy_get_buffer_bytes returns this area instead; every other allocation is the SDK's.
let scratchPtr: usize = 0;
let scratchCapacity: usize = 0;
let scratchArmed = false;
/** A scratch area larger than this is given back when a smaller read comes. */
const SCRATCH_KEEP: usize = 256 * 1024;

/** Bytes of the last readBufferBytes. */
export let lastReadLength: i32 = 0;

function ensureScratch(size: usize): void {
  if (size <= scratchCapacity) return;
  if (scratchPtr != 0) heap.free(scratchPtr);
  const cap = size < 1024 ? <usize>1024 : size;
  scratchPtr = heap.alloc(cap);
  scratchCapacity = cap;
}

/**
 * The module's allocator for the host (exported as `malloc` and `proxy_on_memory_allocate`): the SDK's
 * (a pinned ArrayBuffer the callee adopts), except for the one allocation of a readBufferBytes call.
 */
export function malloc(size: i32): usize {
  if (scratchArmed) {
    scratchArmed = false;
    if (size < 0) return 0;
    ensureScratch(<usize>size);
    return scratchPtr;
  }
  return sdkMalloc(size);
}

/**
 * Bytes [start, start+max) of a buffer, copied into the module's read scratch area: returns their
 * address (valid until the next readBufferBytes) with the length in `lastReadLength`, or 0 on failure
 * (`lastStatus` says why). Nothing is allocated once the area has grown to the working size.
 */
export function readBufferBytes(type: BufferType, start: u32, max: u32): usize {
  if (scratchCapacity > SCRATCH_KEEP && <usize>max <= SCRATCH_KEEP) {
    heap.free(scratchPtr);
    scratchPtr = 0;
    scratchCapacity = 0;
  }
  store<usize>(retPtr, 0);
  store<usize>(retSize, 0);
  lastReadLength = 0;
  scratchArmed = true;
  lastStatus = imports.proxy_get_buffer_bytes(type, start, max, retPtr, retSize);
  scratchArmed = false;
  const ptr = load<usize>(retPtr);
  const size = load<usize>(retSize);
  if (ptr != 0 && ptr != scratchPtr) {
    // The host allocated through the SDK's path (not the armed one): move the bytes into the scratch area.
    if (lastStatus == Status.Ok && size <= <usize>changetype<ArrayBuffer>(ptr).byteLength) {
      ensureScratch(size);
      memory.copy(scratchPtr, ptr, size);
    } else if (lastStatus == Status.Ok) {
      lastStatus = Status.InvalidMemoryAccess;
    }
    __unpin(ptr);
  } else if (lastStatus == Status.Ok && size > scratchCapacity) {
    lastStatus = Status.InvalidMemoryAccess; // the host claims more bytes than it was given room for
  }
  if (lastStatus != Status.Ok) return 0;
  if (size == 0) ensureScratch(1); // a valid address for an empty read
  lastReadLength = <i32>size;
  return scratchPtr;
}

/**
 * Envoy's network-buffer edit: start 0 drains `size` bytes and prepends `data[offset, offset+length)`
 * (replace-prefix); start >= buffer length appends. Returns the status.
 */
export function setBufferBytes(type: BufferType, start: u32, size: u32, data: ArrayBuffer, offset: i32, length: i32): u32 {
  if (offset < 0 || length < 0 || offset > data.byteLength - length) return Status.BadArgument;
  return imports.proxy_set_buffer_bytes(type, start, size, changetype<usize>(data) + <usize>offset, <usize>length);
}

/** setBufferBytes from `length` bytes at `address`: for a codec's output buffer (no copy into a managed buffer first). */
export function setBufferBytesFrom(type: BufferType, start: u32, size: u32, address: usize, length: i32): u32 {
  if (length < 0) return Status.BadArgument;
  return imports.proxy_set_buffer_bytes(type, start, size, address, <usize>length);
}

// ----------------------------------------------------------------------------------------- streams

export function closeStream(type: StreamType): u32 {
  return imports.proxy_close_stream(type);
}

export function continueStream(type: StreamType): u32 {
  return imports.proxy_continue_stream(type);
}

// ---------------------------------------------------------------------------------------- metrics

/** Defines (or finds) a metric; returns its id, or -1 on failure (`lastStatus` says why). */
export function defineMetric(type: MetricType, name: string): i64 {
  const buf = String.UTF8.encode(name);
  store<u32>(retU32, 0);
  lastStatus = imports.proxy_define_metric(type, changetype<usize>(buf), buf.byteLength, retU32);
  if (lastStatus != Status.Ok) return -1;
  return <i64>load<u32>(retU32);
}

export function incrementMetric(id: u32, delta: i64): u32 {
  return imports.proxy_increment_metric(id, delta);
}

export function recordMetric(id: u32, value: u64): u32 {
  return imports.proxy_record_metric(id, value);
}

// -------------------------------------------------------------------------------------- properties

/** proxy_set_property(path, value): Envoy stores it as filter state `wasm.<path>`. */
export function setProperty(path: ArrayBuffer, value: ArrayBuffer): u32 {
  return imports.proxy_set_property(changetype<usize>(path), path.byteLength, changetype<usize>(value), value.byteLength);
}

/** proxy_get_property; `path` is NUL-separated segments. Null on failure (`lastStatus`). */
export function getProperty(path: ArrayBuffer): ArrayBuffer | null {
  store<usize>(retPtr, 0);
  store<usize>(retSize, 0);
  lastStatus = imports.proxy_get_property(changetype<usize>(path), path.byteLength, retPtr, retSize);
  if (lastStatus != Status.Ok) {
    const ptr = load<usize>(retPtr);
    if (ptr != 0) __unpin(ptr);
    return null;
  }
  return adoptHostBuffer();
}

// ------------------------------------------------------------------------------- foreign functions

/**
 * proxy_call_foreign_function with raw argument bytes `args[0, length)`. Returns the status; the
 * result bytes, if any, are in `lastForeignResult` (null when none).
 */
export let lastForeignResult: ArrayBuffer | null = null;

export function callForeignFunction(name: ArrayBuffer, args: ArrayBuffer, length: i32): u32 {
  if (length < 0 || length > args.byteLength) return Status.BadArgument;
  store<usize>(retPtr, 0);
  store<usize>(retSize, 0);
  lastForeignResult = null;
  lastStatus = imports.proxy_call_foreign_function(
    changetype<usize>(name),
    name.byteLength,
    changetype<usize>(args),
    <usize>length,
    retPtr,
    retSize,
  );
  if (lastStatus == Status.Ok) {
    lastForeignResult = adoptHostBuffer();
  } else {
    const ptr = load<usize>(retPtr);
    if (ptr != 0) __unpin(ptr);
  }
  return lastStatus;
}
