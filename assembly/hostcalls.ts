// Raw proxy-wasm host calls that the SDK wraps badly (its log() writes through WASI fd_write, and its
// wrappers throw on any non-Ok status). Everything here only uses imports Envoy provides.
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";

export const enum Level {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
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
