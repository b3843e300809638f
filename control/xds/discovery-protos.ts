/**
 * The xDS transport messages (`envoy.service.discovery.v3`) and the gRPC service definition of
 * `AggregatedDiscoveryService`, built with protobufjs from the Envoy protos that `@grpc/grpc-js-xds` ships.
 *
 * The service definition serializes responses that are already encoded (a `Buffer`), so the server encodes
 * each response once, knows its size, and never re-encodes a resource: an `Any` is written as
 * `{type_url, value: bytes}` from the snapshot's bytes.
 */
import type * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { envoyProtoIncludeDirs } from "../generate/xds/envoy-protos.js";

export const adsServicePath = "/envoy.service.discovery.v3.AggregatedDiscoveryService";

/** The messages of the ADS service, decoded and encoded with protobufjs. */
export interface DiscoveryTypes {
  DiscoveryRequest: protobuf.Type;
  DiscoveryResponse: protobuf.Type;
  DeltaDiscoveryRequest: protobuf.Type;
  DeltaDiscoveryResponse: protobuf.Type;
}

/** Loads `envoy/service/discovery/v3/ads.proto` (and its imports) into a fresh protobufjs root. */
export function loadDiscoveryTypes(): DiscoveryTypes {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    for (const dir of envoyProtoIncludeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // protobufjs bundles the well-known types; it resolves these names itself
    if (target.startsWith("google/protobuf/")) return target;
    throw new Error(`proto import '${target}' not found under ${envoyProtoIncludeDirs.join(", ")}`);
  };
  root.loadSync("envoy/service/discovery/v3/ads.proto", { keepCase: true });
  root.resolveAll();
  const t = (name: string) => root.lookupType(`envoy.service.discovery.v3.${name}`);
  return {
    DiscoveryRequest: t("DiscoveryRequest"),
    DiscoveryResponse: t("DiscoveryResponse"),
    DeltaDiscoveryRequest: t("DeltaDiscoveryRequest"),
    DeltaDiscoveryResponse: t("DeltaDiscoveryResponse"),
  };
}

/** Decoded messages as plain objects: field names in proto spelling, 64-bit integers as strings, enums as names. */
const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };

function bidi(path: string, request: protobuf.Type): grpc.MethodDefinition<unknown, Buffer> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: unknown) => Buffer.from(request.encode(request.fromObject(value as Record<string, unknown>)).finish()),
    requestDeserialize: (bytes: Buffer) => request.toObject(request.decode(bytes), toObjectOptions),
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  };
}

/**
 * The server side of `AggregatedDiscoveryService`: requests arrive decoded to plain objects, responses are
 * written as encoded `Buffer`s (see `encodeResponse`).
 */
export function adsServiceDefinition(types: DiscoveryTypes): grpc.ServiceDefinition {
  return {
    StreamAggregatedResources: bidi(`${adsServicePath}/StreamAggregatedResources`, types.DiscoveryRequest),
    DeltaAggregatedResources: bidi(`${adsServicePath}/DeltaAggregatedResources`, types.DeltaDiscoveryRequest),
  };
}

/** Encodes a response message given as a plain object (proto field names). */
export function encodeMessage(type: protobuf.Type, value: Record<string, unknown>): Buffer {
  const bytes = type.encode(value).finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a message to a plain object (proto field names, longs as strings). */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), toObjectOptions);
}

/** `google.protobuf.Struct` in plain-object form (`{fields: {k: {string_value: ...}}}`) to JSON. */
export function structToJson(struct: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct as { fields?: Record<string, unknown> } | null | undefined)?.fields;
  if (!fields) return out;
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v);
  return out;
}

/** protobufjs' bundled `google/protobuf/struct.proto` spells the `Value` fields in lowerCamel (`stringValue`, ...). */
function valueToJson(value: unknown): unknown {
  const v = value as Record<string, unknown> | null | undefined;
  switch (v?.["kind"]) {
    case "stringValue":
      return v["stringValue"];
    case "numberValue":
      return v["numberValue"];
    case "boolValue":
      return v["boolValue"];
    case "structValue":
      return structToJson(v["structValue"]);
    case "listValue":
      return ((v["listValue"] as { values?: unknown[] } | undefined)?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** JSON to `google.protobuf.Struct` in protobufjs plain-object form (the inverse of `structToJson`). */
export function jsonToStruct(json: Record<string, unknown>): { fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { nullValue: 0 };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  return { structValue: jsonToStruct(value as Record<string, unknown>) };
}
