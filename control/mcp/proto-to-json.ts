/**
 * A decoded protobufjs message → Istio's JSON form (lowerCamel field names, enum names, the JSON forms of
 * Struct/Value/ListValue, the wrappers and Duration): the inverse of `plainFromJson` + `fromObject`, for
 * reading back what `encode.ts` wrote. Fields absent from the wire are left out; fields present are kept
 * even when they hold the proto3 default (protobufjs writes an explicitly set zero).
 */
import protobuf from "protobufjs";

type Plain = Record<string, unknown>;

const WRAPPERS = new Set(["DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value", "BoolValue", "StringValue", "BytesValue"]);

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function structToJson(struct: Plain): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries((struct["fields"] ?? {}) as Plain)) out[k] = valueToJson(v as Plain);
  return out;
}

/** A Value's set field (decoded messages also carry the unset ones, as null, on their prototype). */
function has(message: Plain, field: string): boolean {
  return Object.hasOwn(message, field) && message[field] !== null && message[field] !== undefined;
}

function valueToJson(value: Plain): unknown {
  if (has(value, "structValue")) return structToJson(value["structValue"] as Plain);
  if (has(value, "listValue")) return (((value["listValue"] as Plain)["values"] ?? []) as Plain[]).map(valueToJson);
  if (has(value, "stringValue")) return value["stringValue"];
  if (has(value, "numberValue")) return value["numberValue"];
  if (has(value, "boolValue")) return value["boolValue"];
  return null; // nullValue, or a Value with no kind set
}

function scalarToJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "object" && value !== null) return String(value); // a Long (64-bit): a string in proto3 JSON
  return value;
}

function singleToJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return resolved.valuesById[value as number] ?? value;
  if (resolved instanceof protobuf.Type) return messageToJson(resolved, value as Plain);
  return scalarToJson(value);
}

/** `message` (as decoded by protobufjs) of `type` in JSON form. */
export function messageToJson(type: protobuf.Type, message: Plain): unknown {
  const full = type.fullName;
  if (full === ".google.protobuf.Struct") return structToJson(message);
  if (full === ".google.protobuf.Value") return valueToJson(message);
  if (full === ".google.protobuf.ListValue") return ((message["values"] ?? []) as Plain[]).map(valueToJson);
  if (full.startsWith(".google.protobuf.") && WRAPPERS.has(type.name)) return scalarToJson(message["value"] ?? type.fields["value"]!.defaultValue);
  if (full === ".google.protobuf.Duration") {
    const seconds = Number(message["seconds"] ?? 0);
    const nanos = Number(message["nanos"] ?? 0);
    const frac = nanos === 0 ? "" : `.${String(Math.abs(nanos)).padStart(9, "0").replace(/0+$/, "")}`;
    return `${seconds < 0 || nanos < 0 ? "-" : ""}${Math.abs(seconds)}${frac}s`;
  }
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(message, field.name)) continue;
    const value = message[field.name];
    if (value === null || value === undefined) continue;
    if (field.map) {
      const entries = Object.entries(value as Plain);
      if (entries.length > 0) out[camel(field.name)] = Object.fromEntries(entries.map(([k, v]) => [k, singleToJson(field, v)]));
    } else if (field.repeated) {
      const items = value as unknown[];
      if (items.length > 0) out[camel(field.name)] = items.map((v) => singleToJson(field, v));
    } else {
      out[camel(field.name)] = singleToJson(field, value);
    }
  }
  return out;
}
