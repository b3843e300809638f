/**
 * Strict proto3-JSON → protobuf for the Envoy messages of `envoy-protos.ts`.
 *
 * protobufjs' own `fromObject` silently drops fields it does not know; this converter walks the message
 * descriptor instead and throws a `ProtoJsonError` naming the path of any unknown field, wrong type, unknown
 * enum name or doubly-set oneof. It understands the JSON forms of the well-known types Envoy config uses:
 * `Any` (`{"@type": URL, ...fields}`, or `{"@type", "value"}` for well-known inner types), `Duration`
 * (`"1.5s"`), the wrappers (plain values), `Struct`/`Value`/`ListValue` (any JSON). Field names may be
 * written in proto (snake_case) or JSON (lowerCamel) spelling, as Envoy accepts both.
 *
 * It also enforces the protoc-gen-validate rules Envoy checks at load time that matter for generated
 * config (read from the protos' options): required messages, required oneofs, string min/max length,
 * repeated min items, integer bounds, defined enum values. Others (durations, regex formats) are not checked.
 */
import protobuf from "protobufjs";
import { lookupMessage } from "./envoy-protos.js";

export class ProtoJsonError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || "(root)"}: ${message}`);
    this.name = "ProtoJsonError";
  }
}

type Plain = Record<string, unknown>;

const wrapperTypes = new Set([
  ".google.protobuf.DoubleValue",
  ".google.protobuf.FloatValue",
  ".google.protobuf.Int64Value",
  ".google.protobuf.UInt64Value",
  ".google.protobuf.Int32Value",
  ".google.protobuf.UInt32Value",
  ".google.protobuf.BoolValue",
  ".google.protobuf.StringValue",
  ".google.protobuf.BytesValue",
]);
const valueFormTypes = new Set([
  ...wrapperTypes,
  ".google.protobuf.Duration",
  ".google.protobuf.Struct",
  ".google.protobuf.Value",
  ".google.protobuf.ListValue",
]);

const fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldsByJsonName(type: protobuf.Type): Map<string, protobuf.Field> {
  let index = fieldIndex.get(type);
  if (!index) {
    index = new Map();
    for (const field of type.fieldsArray) {
      index.set(field.name, field);
      index.set(field.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()), field);
    }
    fieldIndex.set(type, index);
  }
  return index;
}

function isPlainObject(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}

const int32Kinds = new Set(["int32", "sint32", "sfixed32"]);
const uint32Kinds = new Set(["uint32", "fixed32"]);
const int64Kinds = new Set(["int64", "sint64", "sfixed64", "uint64", "fixed64"]);

function scalar(kind: string, value: unknown, path: string): unknown {
  if (kind === "string") {
    if (typeof value !== "string") throw new ProtoJsonError(path, `expected a string, got ${describe(value)}`);
    return value;
  }
  if (kind === "bool") {
    if (typeof value !== "boolean") throw new ProtoJsonError(path, `expected true or false, got ${describe(value)}`);
    return value;
  }
  if (kind === "double" || kind === "float") {
    if (typeof value !== "number") throw new ProtoJsonError(path, `expected a number, got ${describe(value)}`);
    return value;
  }
  if (kind === "bytes") {
    if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
      throw new ProtoJsonError(path, `expected base64 bytes, got ${describe(value)}`);
    }
    return value;
  }
  const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw new ProtoJsonError(path, `expected an integer (${kind}), got ${describe(value)}`);
  }
  if (int32Kinds.has(kind) && (n < -0x80000000 || n > 0x7fffffff)) throw new ProtoJsonError(path, `${n} is out of ${kind} range`);
  if (uint32Kinds.has(kind) && (n < 0 || n > 0xffffffff)) throw new ProtoJsonError(path, `${n} is out of ${kind} range`);
  if (int64Kinds.has(kind)) {
    if (kind.startsWith("u") || kind === "fixed64") {
      if (n < 0) throw new ProtoJsonError(path, `${n} is out of ${kind} range`);
    }
    return typeof value === "string" ? value : n;
  }
  return n;
}

function enumValue(type: protobuf.Enum, value: unknown, path: string): number {
  if (typeof value === "string") {
    const n = type.values[value];
    if (n === undefined) {
      throw new ProtoJsonError(path, `unknown ${type.name} value ${JSON.stringify(value)} (one of ${Object.keys(type.values).join(", ")})`);
    }
    return n;
  }
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw new ProtoJsonError(path, `expected a ${type.name} name, got ${describe(value)}`);
}

function durationValue(value: unknown, path: string): Plain {
  if (typeof value !== "string") throw new ProtoJsonError(path, `expected a duration like "1.5s", got ${describe(value)}`);
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (!m) throw new ProtoJsonError(path, `expected a duration like "1.5s", got ${JSON.stringify(value)}`);
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]);
  const nanos = m[3] ? Number(m[3].padEnd(9, "0")) : 0;
  return { seconds: sign * seconds, nanos: sign * nanos };
}

function structValue(value: unknown, path: string): Plain {
  if (!isPlainObject(value)) throw new ProtoJsonError(path, `expected an object, got ${describe(value)}`);
  const fields: Plain = {};
  for (const [k, v] of Object.entries(value)) fields[k] = jsonValue(v, `${path}.${k}`);
  return { fields };
}

/** A `google.protobuf.Value`, with the field names of protobufjs' bundled struct.proto (lowerCamel). */
function jsonValue(value: unknown, path: string): Plain {
  if (value === null) return { nullValue: 0 };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map((v, i) => jsonValue(v, `${path}[${i}]`)) } };
  if (isPlainObject(value)) return { structValue: structValue(value, path) };
  throw new ProtoJsonError(path, `not a JSON value: ${describe(value)}`);
}

/** The protobufjs plain-object form of `json` for `type` (input to `type.fromObject`). */
const fullNames = new WeakMap<protobuf.Type, string>();

/** protobufjs computes `fullName` by walking the parents on every access: remember it. */
function fullNameOf(type: protobuf.Type): string {
  let n = fullNames.get(type);
  if (n === undefined) fullNames.set(type, (n = type.fullName));
  return n;
}

function convertMessage(type: protobuf.Type, json: unknown, path: string): Plain {
  const full = fullNameOf(type);
  if (full === ".google.protobuf.Any") return convertAny(json, path);
  if (full === ".google.protobuf.Duration") return durationValue(json, path);
  if (wrapperTypes.has(full)) {
    const field = type.fields["value"]!;
    return { value: scalar(field.type, json, path) };
  }
  if (full === ".google.protobuf.Struct") return structValue(json, path);
  if (full === ".google.protobuf.Value") return jsonValue(json, path);
  if (full === ".google.protobuf.ListValue") {
    if (!Array.isArray(json)) throw new ProtoJsonError(path, `expected an array, got ${describe(json)}`);
    return { values: json.map((v, i) => jsonValue(v, `${path}[${i}]`)) };
  }
  if (!isPlainObject(json)) throw new ProtoJsonError(path, `expected an object (${type.name}), got ${describe(json)}`);
  const index = fieldsByJsonName(type);
  const out: Plain = {};
  const oneofSeen = new Map<string, string>();
  for (const [key, value] of Object.entries(json)) {
    const fieldPath = path ? `${path}.${key}` : key;
    const field = index.get(key);
    if (!field) throw new ProtoJsonError(fieldPath, `unknown field of ${full.slice(1)}`);
    if (value === null) continue;
    if (field.partOf) {
      const other = oneofSeen.get(field.partOf.name);
      if (other !== undefined) {
        throw new ProtoJsonError(fieldPath, `oneof '${field.partOf.name}' already set by '${other}'`);
      }
      oneofSeen.set(field.partOf.name, key);
    }
    out[field.name] = convertField(field, value, fieldPath);
  }
  checkValidateRules(type, out, path);
  return out;
}

type Options = Record<string, unknown> | undefined;

function num(o: Options, key: string): number | undefined {
  const v = o?.[key];
  return typeof v === "number" ? v : undefined;
}

interface FieldRules {
  field: protobuf.Field;
  required: boolean;
  minItems?: number;
  minLen?: number;
  maxLen?: number;
  bounds: { gte?: number; gt?: number; lte?: number; lt?: number };
  definedEnum?: protobuf.Enum;
  wrapper: boolean;
}

interface TypeRules {
  requiredOneofs: protobuf.OneOf[];
  fields: FieldRules[];
}

const rulesCache = new WeakMap<protobuf.Type, TypeRules>();

/** The protoc-gen-validate rules of a type, read once from the protos' options. */
function rulesOf(type: protobuf.Type): TypeRules {
  let r = rulesCache.get(type);
  if (r) return r;
  r = { requiredOneofs: type.oneofsArray.filter((o) => o.options?.["(validate.required)"] === true), fields: [] };
  for (const field of type.fieldsArray) {
    const o = field.options as Options;
    if (!o) continue;
    const bounds: FieldRules["bounds"] = {};
    for (const kind of ["uint32", "uint64", "int32", "int64"]) {
      for (const b of ["gte", "gt", "lte", "lt"] as const) {
        const v = num(o, `(validate.rules).${kind}.${b}`);
        if (v !== undefined) bounds[b] = v;
      }
    }
    const fr: FieldRules = {
      field,
      required: o["(validate.rules).message.required"] === true,
      bounds,
      wrapper: field.resolvedType instanceof protobuf.Type && wrapperTypes.has(fullNameOf(field.resolvedType)),
    };
    const minItems = num(o, "(validate.rules).repeated.min_items");
    if (minItems !== undefined) fr.minItems = minItems;
    if (field.type === "string" && !field.repeated && !field.map) {
      const minLen = num(o, "(validate.rules).string.min_len");
      const maxLen = num(o, "(validate.rules).string.max_len");
      if (minLen !== undefined) fr.minLen = minLen;
      if (maxLen !== undefined) fr.maxLen = maxLen;
    }
    if (o["(validate.rules).enum.defined_only"] === true && field.resolvedType instanceof protobuf.Enum) fr.definedEnum = field.resolvedType;
    const useful = fr.required || fr.minItems !== undefined || fr.minLen !== undefined || fr.maxLen !== undefined || fr.definedEnum || Object.keys(bounds).length > 0;
    if (useful) r.fields.push(fr);
  }
  rulesCache.set(type, r);
  return r;
}

/** The protoc-gen-validate rules of `type`'s fields on one converted message (see the file comment). */
function checkValidateRules(type: protobuf.Type, out: Plain, path: string): void {
  const rules = rulesOf(type);
  if (rules.requiredOneofs.length === 0 && rules.fields.length === 0) return;
  const at = (f: protobuf.Field) => (path ? `${path}.${f.name}` : f.name);
  for (const oneof of rules.requiredOneofs) {
    if (!oneof.fieldsArray.some((f) => out[f.name] !== undefined)) {
      throw new ProtoJsonError(path, `one of ${oneof.fieldsArray.map((f) => f.name).join(", ")} is required (${type.name}.${oneof.name})`);
    }
  }
  for (const fr of rules.fields) {
    const field = fr.field;
    const value = out[field.name];
    // PGV skips fields of a oneof that is not set to them
    if (field.partOf && value === undefined) continue;
    if (fr.required && value === undefined) throw new ProtoJsonError(at(field), `required field of ${type.fullName.slice(1)} is missing`);
    if (fr.minItems !== undefined && (Array.isArray(value) ? value.length : 0) < fr.minItems) {
      throw new ProtoJsonError(at(field), `needs at least ${fr.minItems} item(s)`);
    }
    if (fr.minLen !== undefined || fr.maxLen !== undefined) {
      const len = typeof value === "string" ? value.length : 0;
      if (fr.minLen !== undefined && len < fr.minLen) throw new ProtoJsonError(at(field), `must be at least ${fr.minLen} character(s) long, got ${JSON.stringify(value ?? "")}`);
      if (fr.maxLen !== undefined && len > fr.maxLen) throw new ProtoJsonError(at(field), `must be at most ${fr.maxLen} characters long`);
    }
    if (value === undefined || field.repeated || field.map) continue;
    const raw = fr.wrapper && typeof value === "object" && value !== null ? (value as Plain)["value"] : value;
    if (typeof raw === "number") {
      const { gte, gt, lte, lt } = fr.bounds;
      if (gte !== undefined && raw < gte) throw new ProtoJsonError(at(field), `must be >= ${gte}, got ${raw}`);
      if (gt !== undefined && raw <= gt) throw new ProtoJsonError(at(field), `must be > ${gt}, got ${raw}`);
      if (lte !== undefined && raw > lte) throw new ProtoJsonError(at(field), `must be <= ${lte}, got ${raw}`);
      if (lt !== undefined && raw >= lt) throw new ProtoJsonError(at(field), `must be < ${lt}, got ${raw}`);
      if (fr.definedEnum && !Object.values(fr.definedEnum.values).includes(raw)) {
        throw new ProtoJsonError(at(field), `${raw} is not a defined ${fr.definedEnum.name} value`);
      }
    }
  }
}

function convertSingle(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return convertMessage(resolved, value, path);
  if (resolved instanceof protobuf.Enum) return enumValue(resolved, value, path);
  return scalar(field.type, value, path);
}

function convertField(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field.map) {
    if (!isPlainObject(value)) throw new ProtoJsonError(path, `expected an object (map), got ${describe(value)}`);
    const keyType = (field as unknown as protobuf.MapField).keyType;
    const out: Plain = {};
    for (const [k, v] of Object.entries(value)) {
      if (keyType !== "string" && !/^-?\d+$/.test(k)) throw new ProtoJsonError(`${path}.${k}`, `map key must be an integer (${keyType})`);
      if (keyType === "bool" && k !== "true" && k !== "false") throw new ProtoJsonError(`${path}.${k}`, "map key must be true or false");
      out[k] = convertSingle(field, v, `${path}.${k}`);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new ProtoJsonError(path, `expected an array, got ${describe(value)}`);
    return value.map((v, i) => convertSingle(field, v, `${path}[${i}]`));
  }
  return convertSingle(field, value, path);
}

function convertAny(json: unknown, path: string): Plain {
  if (!isPlainObject(json)) throw new ProtoJsonError(path, `expected an Any object with "@type", got ${describe(json)}`);
  const typeUrl = json["@type"];
  if (typeof typeUrl !== "string" || !typeUrl.includes("/")) {
    throw new ProtoJsonError(path, `an Any needs "@type": "type.googleapis.com/<message>", got ${describe(typeUrl)}`);
  }
  let inner: protobuf.Type;
  try {
    inner = lookupMessage(typeUrl);
  } catch {
    throw new ProtoJsonError(`${path}.@type`, `unknown message type ${JSON.stringify(typeUrl)}`);
  }
  const rest: Plain = { ...json };
  delete rest["@type"];
  let body: unknown = rest;
  if (valueFormTypes.has(fullNameOf(inner))) {
    const keys = Object.keys(rest);
    if (keys.length !== 1 || keys[0] !== "value") {
      throw new ProtoJsonError(path, `an Any of ${inner.fullName.slice(1)} holds exactly one field "value"`);
    }
    body = rest["value"];
  }
  const message = inner.fromObject(convertMessage(inner, body, path));
  return { type_url: typeUrl, value: inner.encode(message).finish() };
}

/**
 * The protobufjs plain-object form of `json` for a message type of any protobufjs root (input to
 * `type.fromObject`), converted strictly. `Any` fields inside resolve through the Envoy protos.
 */
export function plainFromJson(type: protobuf.Type, json: unknown): Record<string, unknown> {
  return convertMessage(type, json, "");
}

/** Converts strictly and returns the protobufjs message. Throws `ProtoJsonError` on the first problem. */
export function messageFromJson(typeUrlOrName: string, json: unknown): protobuf.Message {
  const type = lookupMessage(typeUrlOrName);
  return type.fromObject(convertMessage(type, json, ""));
}

/** Strict conversion then binary encoding. */
export function encodeJson(typeUrlOrName: string, json: unknown): Uint8Array {
  const type = lookupMessage(typeUrlOrName);
  return type.encode(type.fromObject(convertMessage(type, json, ""))).finish();
}

/** An `Any` in JSON form (`{"@type": ..., ...}`) encoded to `{type_url, value}`. */
export function anyFromJson(json: unknown): { type_url: string; value: Uint8Array } {
  return convertAny(json, "") as { type_url: string; value: Uint8Array };
}

/**
 * Encodes `json` strictly, decodes the bytes and encodes the decoded message again: returns the bytes when
 * both encodings agree, throws otherwise. This is the check the tests run on every generated object.
 */
export function roundTripJson(typeUrlOrName: string, json: unknown): Uint8Array {
  const type = lookupMessage(typeUrlOrName);
  const bytes = type.encode(type.fromObject(convertMessage(type, json, ""))).finish();
  const again = type.encode(type.decode(bytes)).finish();
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(again)) !== 0) {
    throw new ProtoJsonError("", `${type.fullName.slice(1)} does not survive an encode/decode round trip`);
  }
  return bytes;
}
