// proxy_get_property / proxy_set_property as Envoy answers them for a network filter. A path is a list of
// segments separated by NUL bytes ("source\0address"). Values are serialized as Envoy serializes CEL values:
// strings and bytes raw, integers 8-byte little-endian, doubles 8-byte IEEE, booleans one byte, maps as
// proxy-wasm pairs. proxy_set_property(path, value) stores the raw bytes in the connection's filter state under
// "wasm." + path; a top-level segment that is not a known property reads that filter state back.

import { WasmResult } from "./abi.js";

export type PropertyValue =
  | { kind: "string"; value: string }
  | { kind: "bytes"; value: Uint8Array }
  | { kind: "int64"; value: bigint }
  | { kind: "uint64"; value: bigint }
  | { kind: "double"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "map"; entries: ReadonlyMap<string, PropertyValue> };

/** What the property lookup needs to know about the plugin and (when there is one) the connection. */
export interface PropertySource {
  readonly pluginName: string;
  readonly rootId: string;
  readonly vmId: string;
  /** Envoy's listener_direction: 0 unspecified, 1 inbound, 2 outbound. */
  readonly listenerDirection: number;
  readonly node: PropertyValue | undefined;
  /** Undefined in the root context (Envoy has no stream info there). */
  readonly connection: PropertyConnection | undefined;
}

export interface PropertyConnection {
  readonly connectionId: number;
  readonly source: string;
  readonly destination: string;
  readonly upstreamAddress: string | undefined;
  /** Raw values stored by proxy_set_property, keyed by "wasm." + path. */
  readonly wasmState: Map<string, Uint8Array>;
}

const encoder = new TextEncoder();

function addressMap(address: string): PropertyValue {
  const entries = new Map<string, PropertyValue>([["address", { kind: "string", value: address }]]);
  const colon = address.lastIndexOf(":");
  const port = colon >= 0 ? Number(address.slice(colon + 1)) : NaN;
  if (Number.isInteger(port)) entries.set("port", { kind: "int64", value: BigInt(port) });
  return { kind: "map", entries };
}

/** Converts JSON-like node metadata into the value of Envoy's google.protobuf.Struct as CEL sees it. */
export function structValue(obj: Readonly<Record<string, unknown>>): PropertyValue {
  const entries = new Map<string, PropertyValue>();
  for (const [k, v] of Object.entries(obj)) {
    const pv = jsonValue(v);
    if (pv !== undefined) entries.set(k, pv);
  }
  return { kind: "map", entries };
}

function jsonValue(v: unknown): PropertyValue | undefined {
  if (typeof v === "string") return { kind: "string", value: v };
  if (typeof v === "number") return { kind: "double", value: v };
  if (typeof v === "boolean") return { kind: "bool", value: v };
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return structValue(v as Record<string, unknown>);
  return undefined;
}

/** Envoy's Node message as a property: id, cluster, metadata. */
export function nodeValue(id: string, cluster: string, metadata: Readonly<Record<string, unknown>>): PropertyValue {
  return {
    kind: "map",
    entries: new Map<string, PropertyValue>([
      ["id", { kind: "string", value: id }],
      ["cluster", { kind: "string", value: cluster }],
      ["metadata", structValue(metadata)],
    ]),
  };
}

function topLevel(name: string, src: PropertySource): PropertyValue | undefined {
  const c = src.connection;
  switch (name) {
    case "plugin_name":
      return { kind: "string", value: src.pluginName };
    case "plugin_root_id":
      return { kind: "string", value: src.rootId };
    case "plugin_vm_id":
      return { kind: "string", value: src.vmId };
    case "listener_direction":
      return { kind: "int64", value: BigInt(src.listenerDirection) };
    case "node":
      return src.node;
    case "xds":
      return src.node === undefined ? undefined : { kind: "map", entries: new Map([["node", src.node]]) };
    case "connection_id":
      return c && { kind: "uint64", value: BigInt(c.connectionId) };
    case "connection":
      return c && { kind: "map", entries: new Map([["id", { kind: "uint64", value: BigInt(c.connectionId) }]]) };
    case "source":
      return c && addressMap(c.source);
    case "destination":
      return c && addressMap(c.destination);
    case "upstream":
      return c?.upstreamAddress === undefined ? undefined : addressMap(c.upstreamAddress);
    default: {
      const state = c?.wasmState.get(`wasm.${name}`);
      return state === undefined ? undefined : { kind: "bytes", value: state };
    }
  }
}

/** Looks up a NUL-separated path. */
export function lookupProperty(path: string, src: PropertySource): PropertyValue | undefined {
  if (path.length === 0) return undefined;
  const parts = path.split("\u0000");
  let value = topLevel(parts[0]!, src);
  for (let i = 1; i < parts.length && value !== undefined; i++) {
    value = value.kind === "map" ? value.entries.get(parts[i]!) : undefined;
  }
  return value;
}

/** Serializes a value the way Envoy's serializeValue does. */
export function serializeProperty(value: PropertyValue): Uint8Array {
  switch (value.kind) {
    case "string":
      return encoder.encode(value.value);
    case "bytes":
      return value.value;
    case "int64":
    case "uint64": {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, value.value), true);
      return out;
    }
    case "double": {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, value.value, true);
      return out;
    }
    case "bool":
      return Uint8Array.of(value.value ? 1 : 0);
    case "map":
      return serializePairs([...value.entries].map(([k, v]) => [encoder.encode(k), serializeProperty(v)]));
  }
}

/** proxy-wasm pairs: u32 count, then (u32 key size, u32 value size) each, then each key and value NUL-terminated. */
export function serializePairs(pairs: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): Uint8Array {
  let size = 4 + pairs.length * 8;
  for (const [k, v] of pairs) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, pairs.length, true);
  let p = 4;
  for (const [k, v] of pairs) {
    dv.setUint32(p, k.length, true);
    dv.setUint32(p + 4, v.length, true);
    p += 8;
  }
  for (const [k, v] of pairs) {
    out.set(k, p);
    p += k.length + 1;
    out.set(v, p);
    p += v.length + 1;
  }
  return out;
}

/** proxy_get_property's answer: the serialized value, or NotFound. */
export function getProperty(path: string, src: PropertySource): { result: WasmResult; value?: Uint8Array } {
  const v = lookupProperty(path, src);
  if (v === undefined) return { result: WasmResult.NotFound };
  return { result: WasmResult.Ok, value: serializeProperty(v) };
}

/** proxy_set_property: NotFound in the root context (no stream info), else stored under "wasm." + path. */
export function setProperty(path: string, value: Uint8Array, src: PropertySource): WasmResult {
  const c = src.connection;
  if (c === undefined) return WasmResult.NotFound;
  c.wasmState.set(`wasm.${path}`, value.slice());
  return WasmResult.Ok;
}
