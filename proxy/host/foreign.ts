// Foreign functions (proxy_call_foreign_function): Envoy's built-ins that matter to a network filter
// (`set_envoy_filter_state`, `clear_route_cache`, `compress`, `uncompress`) and the functions the embedding
// host registers (e.g. the fallback proxy's `dubbo_mesh.route_request`). A name nobody registered is NotFound,
// as in Envoy.

import { deflateSync, inflateSync } from "node:zlib";
import { LifeSpan, WasmResult } from "./abi.js";

/** Where a foreign function was called from. */
export interface ForeignCallInfo {
  /** The (effective) context id the module called from. */
  readonly contextId: number;
  /** The connection of that context, or undefined when called from the root context. */
  readonly connection: ForeignCallConnection | undefined;
}

/** What a foreign function sees of the calling connection. */
export interface ForeignCallConnection {
  readonly id: number;
  /** The value passed as `tag` to vm.newConnection, for the embedder's own bookkeeping. */
  readonly tag: unknown;
  readonly filterState: Map<string, string>;
}

/**
 * A host function the module can call by name. `args` is a view of guest memory, valid only during the call
 * (copy what you keep). Return nothing for Ok without result bytes, bytes for Ok with a result (handed to the
 * module in a buffer it allocates), or a WasmResult status. The function must not call back into the VM.
 * A thrown exception is logged and answered with InternalFailure.
 */
export type ForeignFunction = (args: Uint8Array, call: ForeignCallInfo) => WasmResult | Uint8Array | void;

export interface SetEnvoyFilterStateArguments {
  path: string;
  value: string;
  span: LifeSpan;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments
 * { string path = 1; string value = 2; LifeSpan span = 3; } from protobuf wire format, as protobuf's
 * ParseFromString would: unknown fields and fields with an unexpected wire type are skipped, a truncated
 * message or a string that is not UTF-8 fails (null).
 */
export function decodeSetEnvoyFilterStateArguments(bytes: Uint8Array): SetEnvoyFilterStateArguments | null {
  let pos = 0;
  const out: SetEnvoyFilterStateArguments = { path: "", value: "", span: LifeSpan.FilterChain };
  const varint = (): number | null => {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= bytes.length) return null;
      const b = bytes[pos++]!;
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return null;
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag === null) return null;
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) return null;
    switch (wireType) {
      case 0: {
        const v = varint();
        if (v === null) return null;
        if (field === 3) out.span = (v >>> 0) as LifeSpan;
        break;
      }
      case 1:
        pos += 8;
        if (pos > bytes.length) return null;
        break;
      case 2: {
        const len = varint();
        if (len === null || pos + len > bytes.length) return null;
        if (field === 1 || field === 2) {
          let s: string;
          try {
            s = strictUtf8.decode(bytes.subarray(pos, pos + len));
          } catch {
            return null;
          }
          if (field === 1) out.path = s;
          else out.value = s;
        }
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        if (pos > bytes.length) return null;
        break;
      default:
        return null; // groups (3, 4) and invalid wire types
    }
  }
  return out;
}

/** Encodes SetEnvoyFilterStateArguments (for tests and for host-side callers). */
export function encodeSetEnvoyFilterStateArguments(args: { path: string; value: string; span?: LifeSpan }): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const varint = (n: number): void => {
    while (n >= 0x80) {
      parts.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    parts.push(n);
  };
  const str = (field: number, s: string): void => {
    if (s.length === 0) return;
    const b = enc.encode(s);
    varint(field * 8 + 2);
    varint(b.length);
    for (const x of b) parts.push(x);
  };
  str(1, args.path);
  str(2, args.value);
  if (args.span !== undefined && args.span !== LifeSpan.FilterChain) {
    varint(3 * 8);
    varint(args.span);
  }
  return Uint8Array.from(parts);
}

/** Envoy's `compress` / `uncompress` foreign functions (zlib format). */
export const compressForeign: ForeignFunction = (args) => {
  try {
    return new Uint8Array(deflateSync(args));
  } catch {
    return WasmResult.SerializationFailure;
  }
};

export const uncompressForeign: ForeignFunction = (args) => {
  try {
    return new Uint8Array(inflateSync(args));
  } catch {
    return WasmResult.SerializationFailure;
  }
};

/** Names the host implements itself; embedders cannot register over them. */
export const BUILTIN_FOREIGN_FUNCTIONS: readonly string[] = [
  "set_envoy_filter_state",
  "clear_route_cache",
  "compress",
  "uncompress",
];
