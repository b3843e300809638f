// Enumerations and constants of proxy-wasm ABI 0.2.1 as Envoy (through proxy-wasm-cpp-host) uses them.

/** Status returned by every `env.proxy_*` host call. */
export enum WasmResult {
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

export const WASM_RESULT_NAMES: readonly string[] = [
  "Ok",
  "NotFound",
  "BadArgument",
  "SerializationFailure",
  "ParseFailure",
  "BadExpression",
  "InvalidMemoryAccess",
  "Empty",
  "CasMismatch",
  "ResultMismatch",
  "InternalFailure",
  "BrokenConnection",
  "Unimplemented",
];

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceive = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
}
export const BUFFER_TYPE_MAX = 8;

/** What a network callback returns. The host treats any non-zero value as Pause (Envoy's StopIteration). */
export enum Action {
  Continue = 0,
  Pause = 1,
}

export enum StreamType {
  Request = 0,
  Response = 1,
  Downstream = 2,
  Upstream = 3,
}
export const STREAM_TYPE_MAX = 3;

/** Envoy's (spdlog's) levels, as proxy_log and proxy_get_log_level use them. */
export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}
export const LOG_LEVEL_MAX = 5;
export const LOG_LEVEL_NAMES: readonly string[] = ["trace", "debug", "info", "warn", "error", "critical"];

export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}
export const METRIC_TYPE_MAX = 2;
/** cpp-host keeps the metric type in the low two bits of a metric id and steps ids by 4. */
export const METRIC_TYPE_MASK = 0x3;
export const METRIC_ID_INCREMENT = 0x4;

export enum PeerType {
  Unknown = 0,
  Local = 1,
  Remote = 2,
}

/** Envoy's SetEnvoyFilterStateArguments.span (envoy.source.extensions.common.wasm.LifeSpan). */
export enum LifeSpan {
  FilterChain = 0,
  DownstreamRequest = 1,
  DownstreamConnection = 2,
}

/** WASI errno values the stubs return, as cpp-host does. */
export enum WasiErrno {
  Success = 0,
  Badf = 8,
  Fault = 21,
  Inval = 28,
  Noent = 44,
  Nosys = 52,
  Notsup = 58,
  Notdir = 20,
}

/** cpp-host's limit on one random_get call. */
export const WASI_RANDOM_GET_MAX_BYTES = 64 * 1024;

/** Names of the ABI-version marker exports the host understands (the module exports one of them). */
export const ABI_VERSION_EXPORTS: readonly string[] = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"];
