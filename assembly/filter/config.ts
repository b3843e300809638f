// The plugin configuration (docs/contracts.md §1, version 1): validated once and compiled into the route
// table and the filter settings. Every rejection names the JSON path of the bad field and the shape that
// was expected, e.g.
//   services[0].routes[1].destinations[0].weight: expected an integer from 0 to 1000000, got the number -1

import { JsonKind, JsonReader, JsonValue } from "./json";
import { InterfaceMatcher, MatchKind, StringMatcher } from "../router/string-matcher";
import {
  DenyRule,
  Destination,
  HashKeyKind,
  KeyedMatcher,
  RequestMatch,
  RouteRule,
  RouteTable,
  ServiceEntry,
} from "../router/route-table";

export const CONFIG_VERSION = 1;
export const DEFAULT_ROUTE_ATTACHMENT = "x-dubbo-mesh-cluster";
export const DEFAULT_MAX_BODY_BYTES: i32 = 8 * 1024 * 1024;
/** Dubbo's own limit is 8 MiB; Envoy and Aeraki cap bodies at 16 MiB. */
export const MAX_MAX_BODY_BYTES: i32 = 16 * 1024 * 1024;
export const MAX_CONFIG_BYTES: i32 = 4 * 1024 * 1024;
export const MAX_WEIGHT: i32 = 1000000;
export const MAX_NAME_LENGTH: i32 = 256;

export const enum NonDubboPolicy {
  Close = 0,
  Passthrough = 1,
}

/** Everything the filter reads from its configuration. */
export class FilterConfig {
  routeAttachment: string = DEFAULT_ROUTE_ATTACHMENT;
  rewrite: bool = true;
  nonDubbo: NonDubboPolicy = NonDubboPolicy.Close;
  maxBodyBytes: i32 = DEFAULT_MAX_BODY_BYTES;
  /** Seed of the weighted-choice generator; 0 = seed from the host's randomness. */
  randomSeed: u64 = 0;
  /** Opaque text that makes a configuration distinct from every earlier one ("" = none); see docs/filter.md. */
  revision: string = "";
  table: RouteTable = new RouteTable();
}

const SHAPE_STRING_MATCHER = 'an object with exactly one of {"exact": string}, {"prefix": string}, {"suffix": string}, {"present": true}';
const SHAPE_MATCH = 'an object with optional "method" (string matcher), "attachments" (object of string matchers) and "arguments" (object of argument index -> string matcher)';

class Checker {
  error: string = "";

  get failed(): bool {
    return this.error.length > 0;
  }

  fail(path: string, expected: string, got: JsonValue | null): void {
    if (this.error.length > 0) return;
    const where = path.length > 0 ? path : "(document)";
    this.error = where + ": expected " + expected + (got !== null ? ", got " + got.describe() : "");
  }

  failText(path: string, message: string): void {
    if (this.error.length > 0) return;
    this.error = (path.length > 0 ? path : "(document)") + ": " + message;
  }

  /** Rejects members of `obj` not in `allowed` (strict: a misspelt field is an error, not a default). */
  onlyKnown(obj: JsonValue, path: string, allowed: string[]): bool {
    for (let i = 0; i < obj.keys.length; i++) {
      const key = unchecked(obj.keys[i]);
      if (!allowed.includes(key)) {
        this.failText(path, "unknown field '" + key + "' (allowed: " + allowed.join(", ") + ")");
        return false;
      }
    }
    return true;
  }

  object(v: JsonValue | null, path: string, shape: string): bool {
    if (v === null || v.kind != JsonKind.Object) {
      if (v === null) this.failText(path, "missing; expected " + shape);
      else this.fail(path, shape, v);
      return false;
    }
    return true;
  }

  /** A string member; `fallback` when absent (or an error when `required`). */
  string(obj: JsonValue, key: string, path: string, required: bool, fallback: string, maxLength: i32): string {
    const v = obj.member(key);
    const p = join(path, key);
    if (v === null) {
      if (required) this.failText(p, "missing; expected a string");
      return fallback;
    }
    if (v.kind != JsonKind.String) {
      this.fail(p, "a string", v);
      return fallback;
    }
    if (v.stringValue.length > maxLength) {
      this.failText(p, "expected a string of at most " + maxLength.toString() + " characters");
      return fallback;
    }
    return v.stringValue;
  }

  bool(obj: JsonValue, key: string, path: string, fallback: bool): bool {
    const v = obj.member(key);
    if (v === null) return fallback;
    if (v.kind != JsonKind.Bool) {
      this.fail(join(path, key), "true or false", v);
      return fallback;
    }
    return v.boolValue;
  }

  /** An integer member in [lo, hi]; `fallback` when absent. */
  integer(obj: JsonValue, key: string, path: string, lo: f64, hi: f64, fallback: f64): f64 {
    const v = obj.member(key);
    if (v === null) return fallback;
    return this.integerValue(v, join(path, key), lo, hi, fallback);
  }

  integerValue(v: JsonValue, path: string, lo: f64, hi: f64, fallback: f64): f64 {
    const n = v.numberValue;
    if (v.kind != JsonKind.Number || n != Math.floor(n) || n < lo || n > hi) {
      this.fail(path, "an integer from " + i64(lo).toString() + " to " + i64(hi).toString(), v);
      return fallback;
    }
    return n;
  }

  array(obj: JsonValue, key: string, path: string, shape: string, maxItems: i32): JsonValue[] {
    const v = obj.member(key);
    if (v === null) return [];
    if (v.kind != JsonKind.Array) {
      this.fail(join(path, key), "an array of " + shape, v);
      return [];
    }
    if (v.items.length > maxItems) {
      this.failText(join(path, key), "expected at most " + maxItems.toString() + " entries");
      return [];
    }
    return v.items;
  }
}

function join(path: string, key: string): string {
  return path.length > 0 ? path + "." + key : key;
}

function index(path: string, i: i32): string {
  return path + "[" + i.toString() + "]";
}

function stringMatcher(c: Checker, v: JsonValue | null, path: string): StringMatcher | null {
  if (!c.object(v, path, SHAPE_STRING_MATCHER)) return null;
  const obj = v!;
  if (!c.onlyKnown(obj, path, ["exact", "prefix", "suffix", "present"])) return null;
  if (obj.keys.length != 1) {
    c.fail(path, SHAPE_STRING_MATCHER, obj);
    return null;
  }
  const key = unchecked(obj.keys[0]);
  const value = unchecked(obj.items[0]);
  const p = join(path, key);
  if (key == "present") {
    if (value.kind != JsonKind.Bool || !value.boolValue) {
      c.fail(p, "true (a matcher that requires absence is not supported)", value);
      return null;
    }
    return new StringMatcher(MatchKind.Present, "");
  }
  if (value.kind != JsonKind.String) {
    c.fail(p, "a string", value);
    return null;
  }
  if (value.stringValue.length > 4096) {
    c.failText(p, "expected a string of at most 4096 characters");
    return null;
  }
  if (key == "exact") return new StringMatcher(MatchKind.Exact, value.stringValue);
  if (key == "prefix") return new StringMatcher(MatchKind.Prefix, value.stringValue);
  return new StringMatcher(MatchKind.Suffix, value.stringValue);
}

function requestMatch(c: Checker, v: JsonValue, path: string): RequestMatch {
  const m = new RequestMatch();
  if (!c.object(v, path, SHAPE_MATCH)) return m;
  if (!c.onlyKnown(v, path, ["method", "attachments", "arguments"])) return m;
  const method = v.member("method");
  if (method !== null) m.method = stringMatcher(c, method, join(path, "method"));
  const attachments = v.member("attachments");
  if (attachments !== null) {
    const p = join(path, "attachments");
    if (c.object(attachments, p, "an object of attachment name -> string matcher")) {
      for (let i = 0; i < attachments.keys.length && !c.failed; i++) {
        const key = unchecked(attachments.keys[i]);
        const sm = stringMatcher(c, unchecked(attachments.items[i]), join(p, key));
        if (sm !== null) m.attachments.push(new KeyedMatcher(key, 0, sm));
      }
    }
  }
  const args = v.member("arguments");
  if (args !== null) {
    const p = join(path, "arguments");
    if (c.object(args, p, 'an object of argument index ("0".."255") -> string matcher')) {
      for (let i = 0; i < args.keys.length && !c.failed; i++) {
        const key = unchecked(args.keys[i]);
        const n = parseArgumentIndex(key);
        if (n < 0) {
          c.failText(join(p, key), 'expected an argument index "0".."255" as the member name');
          break;
        }
        const sm = stringMatcher(c, unchecked(args.items[i]), join(p, key));
        if (sm !== null) m.arguments.push(new KeyedMatcher(key, n, sm));
      }
    }
  }
  return m;
}

/** "0".."255" without leading zeros, or -1. */
function parseArgumentIndex(s: string): i32 {
  if (s.length == 0 || s.length > 3) return -1;
  if (s.length > 1 && s.charCodeAt(0) == 0x30) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= 255 ? n : -1;
}

function validName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const ok =
      (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a) || ch == 0x2d || ch == 0x5f || ch == 0x2e;
    if (!ok) return false;
  }
  return true;
}

function ruleName(c: Checker, obj: JsonValue, path: string, fallback: string): string {
  const name = c.string(obj, "name", path, false, fallback, 128);
  if (!c.failed && !validName(name)) {
    c.failText(join(path, "name"), "expected 1-128 characters from A-Z a-z 0-9 . _ -");
  }
  return name;
}

function routeRule(c: Checker, v: JsonValue, path: string, i: i32): RouteRule {
  const r = new RouteRule();
  if (!c.object(v, path, 'an object {"name", "match"?, "destinations": [{"cluster", "weight"}]}')) return r;
  if (!c.onlyKnown(v, path, ["name", "match", "destinations"])) return r;
  r.name = ruleName(c, v, path, "route-" + i.toString());
  const match = v.member("match");
  if (match !== null) r.match = requestMatch(c, match, join(path, "match"));
  const dests = v.member("destinations");
  const dp = join(path, "destinations");
  if (dests === null || dests.kind != JsonKind.Array || dests.items.length == 0 || dests.items.length > 64) {
    if (dests === null) c.failText(dp, 'missing; expected an array of 1 to 64 {"cluster": string, "weight": integer}');
    else c.fail(dp, 'an array of 1 to 64 {"cluster": string, "weight": integer}', dests);
    return r;
  }
  let total: f64 = 0;
  for (let j = 0; j < dests.items.length && !c.failed; j++) {
    const d = unchecked(dests.items[j]);
    const p = index(dp, j);
    if (!c.object(d, p, '{"cluster": string, "weight": integer}')) break;
    if (!c.onlyKnown(d, p, ["cluster", "weight"])) break;
    const cluster = c.string(d, "cluster", p, true, "", MAX_NAME_LENGTH);
    if (!c.failed && cluster.length == 0) c.failText(join(p, "cluster"), "expected a non-empty cluster name");
    const weight = c.integer(d, "weight", p, 0, <f64>MAX_WEIGHT, 1);
    total += weight;
    r.destinations.push(new Destination(cluster, <u32>weight));
  }
  if (!c.failed && total <= 0) c.failText(dp, "expected the weights to add up to more than 0");
  r.totalWeight = <u32>total;
  return r;
}

function denyRule(c: Checker, v: JsonValue, path: string, i: i32): DenyRule {
  const d = new DenyRule();
  if (!c.object(v, path, 'an object {"name"?, "match"?}')) return d;
  if (!c.onlyKnown(v, path, ["name", "match"])) return d;
  d.name = ruleName(c, v, path, "deny-" + i.toString());
  const match = v.member("match");
  if (match !== null) d.match = requestMatch(c, match, join(path, "match"));
  return d;
}

function serviceEntry(c: Checker, v: JsonValue, path: string): ServiceEntry {
  const s = new ServiceEntry();
  if (!c.object(v, path, 'an object {"interface", "version"?, "group"?, "defaultCluster"?, "hashKey"?, "deny"?, "routes"?}')) return s;
  if (!c.onlyKnown(v, path, ["interface", "version", "group", "defaultCluster", "hashKey", "deny", "routes"])) return s;
  const iface = c.string(v, "interface", path, true, "", 1024);
  if (!c.failed) {
    const star = iface.indexOf("*");
    if (iface.length == 0 || (star >= 0 && star != iface.length - 1)) {
      c.failText(join(path, "interface"), "expected an interface name, or a prefix ending in a single '*'");
    }
  }
  s.iface = new InterfaceMatcher(iface);
  s.version = c.string(v, "version", path, false, "", 256);
  s.group = c.string(v, "group", path, false, "", 256);
  s.defaultCluster = c.string(v, "defaultCluster", path, false, "", MAX_NAME_LENGTH);
  const hash = v.member("hashKey");
  if (hash !== null && !c.failed) {
    const p = join(path, "hashKey");
    const shape = '{"attachment": string} or {"argument": integer 0..255}';
    if (c.object(hash, p, shape)) {
      if (hash.keys.length != 1) {
        c.fail(p, shape, hash);
      } else if (hash.member("attachment") !== null) {
        s.hashKind = HashKeyKind.Attachment;
        s.hashAttachment = c.string(hash, "attachment", p, true, "", MAX_NAME_LENGTH);
        if (!c.failed && s.hashAttachment.length == 0) c.failText(join(p, "attachment"), "expected a non-empty attachment name");
      } else if (hash.member("argument") !== null) {
        s.hashKind = HashKeyKind.Argument;
        s.hashArgument = <i32>c.integer(hash, "argument", p, 0, 255, 0);
      } else {
        c.fail(p, shape, hash);
      }
    }
  }
  const deny = c.array(v, "deny", path, "deny rules", 256);
  for (let i = 0; i < deny.length && !c.failed; i++) {
    s.deny.push(denyRule(c, unchecked(deny[i]), index(join(path, "deny"), i), i));
  }
  const routes = c.array(v, "routes", path, "routes", 1024);
  for (let i = 0; i < routes.length && !c.failed; i++) {
    s.routes.push(routeRule(c, unchecked(routes[i]), index(join(path, "routes"), i), i));
  }
  return s;
}

/** The outcome of parseConfig: `config` when valid, otherwise `error` (never both). */
export class ConfigResult {
  config: FilterConfig | null = null;
  error: string = "";
}

/** Parses and validates the plugin configuration text. */
export function parseConfig(text: string): ConfigResult {
  const result = new ConfigResult();
  if (text.length > MAX_CONFIG_BYTES) {
    result.error = "the configuration is larger than " + MAX_CONFIG_BYTES.toString() + " bytes";
    return result;
  }
  const reader = new JsonReader();
  const doc = reader.parse(text);
  if (doc === null) {
    result.error = reader.error;
    return result;
  }
  const c = new Checker();
  const config = new FilterConfig();
  const shape = '{"version": 1, "services": [...], ...} (see docs/filter.md)';
  if (!c.object(doc, "", shape)) {
    result.error = c.error;
    return result;
  }
  c.onlyKnown(doc, "", ["version", "routeAttachment", "rewrite", "nonDubbo", "maxBodyBytes", "defaultCluster", "randomSeed", "services", "revision"]);
  const version = doc.member("version");
  if (!c.failed) {
    if (version === null) c.failText("version", "missing; expected 1");
    else if (version.kind != JsonKind.Number || version.numberValue != CONFIG_VERSION) c.fail("version", "1", version);
  }
  if (!c.failed) {
    config.routeAttachment = c.string(doc, "routeAttachment", "", false, DEFAULT_ROUTE_ATTACHMENT, MAX_NAME_LENGTH);
    if (!c.failed && config.routeAttachment.length == 0) c.failText("routeAttachment", "expected a non-empty attachment name");
  }
  if (!c.failed) config.revision = c.string(doc, "revision", "", false, "", 128);
  if (!c.failed) config.rewrite = c.bool(doc, "rewrite", "", true);
  if (!c.failed) {
    const policy = c.string(doc, "nonDubbo", "", false, "close", 32);
    if (policy == "close") config.nonDubbo = NonDubboPolicy.Close;
    else if (policy == "passthrough") config.nonDubbo = NonDubboPolicy.Passthrough;
    else c.fail("nonDubbo", '"close" or "passthrough"', doc.member("nonDubbo"));
  }
  if (!c.failed) {
    config.maxBodyBytes = <i32>c.integer(doc, "maxBodyBytes", "", 16, <f64>MAX_MAX_BODY_BYTES, <f64>DEFAULT_MAX_BODY_BYTES);
  }
  if (!c.failed) config.table.defaultCluster = c.string(doc, "defaultCluster", "", false, "", MAX_NAME_LENGTH);
  if (!c.failed) config.randomSeed = <u64>c.integer(doc, "randomSeed", "", 0, 9007199254740991, 0);
  if (!c.failed) {
    const services = doc.member("services");
    if (services === null) {
      c.failText("services", "missing; expected an array of services (may be empty)");
    } else if (services.kind != JsonKind.Array) {
      c.fail("services", "an array of services", services);
    } else if (services.items.length > 4096) {
      c.failText("services", "expected at most 4096 entries");
    } else {
      for (let i = 0; i < services.items.length && !c.failed; i++) {
        config.table.services.push(serviceEntry(c, unchecked(services.items[i]), index("services", i)));
      }
    }
  }
  if (c.failed) {
    result.error = c.error;
    return result;
  }
  result.config = config;
  return result;
}
