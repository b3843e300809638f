/**
 * Provider URLs as Dubbo writes them into a registry (decoded), e.g.
 *   dubbo://172.18.0.9:20880/org.apache.dubbo.demo.DemoService?version=1.0.0&weight=100&methods=sayHello
 * and the sofa-rpc-node form without a path segment, the interface in the query:
 *   dubbo://127.0.0.1:12200?interface=com.example.Echo&version=1.0&group=SOFA&language=nodejs
 * One parser serves the file and ZooKeeper registries.
 */

import { UrlParams } from "./url-params.js";

export interface Provider {
  /** the URL as found in the registry (decoded) */
  readonly url: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  readonly interface: string;
  /** "" when unset ("0.0.0", Dubbo's placeholder, counts as unset) */
  readonly version: string;
  /** "" when unset */
  readonly group: string;
  /** relative weight, default 100 */
  readonly weight: number;
  /** every URL param, in URL order (duplicates: the last wins); a compact read-only map */
  readonly params: UrlParams;
}

export type ParsedProvider = { ok: true; provider: Provider } | { ok: false; error: string; skip?: "disabled" | "protocol" };

const javaName = /^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/;

const schemeRe = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const hostRe = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)$/;

function decode(part: string): string | undefined {
  if (part.indexOf("%") < 0 && part.indexOf("+") < 0) return part;
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/**
 * Param keys and short values repeat across 10^5 providers ("application", "side", "provider", "2.0.2"):
 * one shared copy each (a bounded table, emptied when full).
 */
const internTable = new Map<string, string>();
const INTERN_MAX = 50_000;

function intern(s: string | undefined): string | undefined {
  if (s === undefined || s.length > 24) return s;
  const hit = internTable.get(s);
  if (hit !== undefined) return hit;
  if (internTable.size >= INTERN_MAX) internTable.clear();
  internTable.set(s, s);
  return s;
}

/**
 * The previous URL's params (decoded, alternating keys and values). A service's providers come one after
 * the other and repeat most keys and values: the text at the same position is compared with the previous
 * string (a slice and ===, no hashing) and that string reused when equal — unless it had `%` or `+`
 * (`previousPlain[i]` false), whose raw text would decode differently.
 */
let previousKv: readonly string[] = [];
let previousPlain: boolean[] = [];
let sparePlain: boolean[] = [];

/** The last provider's keys array: shared by the next one when its keys are the very same strings. */
let previousKeys: readonly string[] = [];
const scratchValues: string[] = [];

/**
 * The params map of alternating keys and values: arrays of exact size (the pushed ones have spare capacity,
 * and 10^5 of them are kept), the keys array shared with the previous provider when they are the same.
 */
function paramsOf(kv: readonly string[]): UrlParams {
  const n = kv.length >> 1;
  let same = previousKeys.length === n;
  const values = scratchValues;
  values.length = 0;
  for (let i = 0; i < kv.length; i += 2) {
    if (same && previousKeys[i >> 1] !== kv[i]) same = false;
    values.push(kv[i + 1]!);
  }
  let keys = previousKeys;
  if (!same) {
    const fresh: string[] = [];
    for (let i = 0; i < kv.length; i += 2) fresh.push(kv[i]!);
    keys = previousKeys = fresh.slice();
  }
  return UrlParams.fromLists(keys, values.slice());
}

/** The raw text has neither `%` nor `+`: it decodes to itself. */
function isPlainText(s: string): boolean {
  return s.indexOf("%") < 0 && s.indexOf("+") < 0;
}

/** A param's decoded text; `allPlain`: the whole query has neither `%` nor `+` (usual), no per-param check. */
function param(text: string, start: number, end: number, index: number, plain: boolean[], allPlain: boolean): string | undefined {
  const prev = previousKv[index];
  const raw = text.slice(start, end);
  // (a slice and ===, garbage that dies young, measured 2-3x faster than startsWith(prev, start) in V8 11)
  if (prev !== undefined && previousPlain[index] === true && prev.length === raw.length && raw === prev) {
    plain.push(true);
    return prev;
  }
  if (allPlain || isPlainText(raw)) {
    plain.push(true);
    return intern(raw);
  }
  plain.push(false);
  return intern(decode(raw));
}

/**
 * Parses one provider URL; never throws. `skip` marks URLs that are valid but not for us (disabled, other
 * protocol). A narrow, allocation-light parser for `scheme://host:port[/path][?query]` (registries hold
 * 10^5 of these; WHATWG `new URL` costs several times more and accepts shapes Dubbo never writes).
 */
function malformed(url: string, why: string): ParsedProvider {
  return { ok: false, error: `malformed provider URL ${JSON.stringify(url)}: ${why}` };
}

/** The last interface name found valid: a service's providers come together, so most checks are repeats. */
let lastJavaName = "";

function isJavaName(name: string): boolean {
  if (name === lastJavaName) return true;
  if (!javaName.test(name)) return false;
  lastJavaName = name;
  return true;
}

export function parseProviderUrl(url: string): ParsedProvider {
  let schemeLength: number;
  if (url.startsWith("dubbo://")) schemeLength = 8; // the common case, without a regular expression match
  else {
    const m = schemeRe.exec(url);
    if (!m) return malformed(url, "not a URL (expected dubbo://HOST:PORT/INTERFACE?params)");
    const protocol = m[1]!.toLowerCase();
    if (protocol !== "dubbo") {
      return { ok: false, skip: "protocol", error: `provider URL ${JSON.stringify(url)} uses protocol '${protocol}', not dubbo: skipped` };
    }
    schemeLength = m[0].length;
  }
  const rest = url.slice(schemeLength);
  const q = rest.indexOf("?");
  const beforeQuery = q < 0 ? rest : rest.slice(0, q);
  const slash = beforeQuery.indexOf("/");
  const authority = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  const rawPath = slash < 0 ? "" : beforeQuery.slice(slash + 1);
  const at = authority.lastIndexOf("@");
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  const colon = hostPort.lastIndexOf(":");
  if (colon < 0 || hostPort.endsWith("]")) {
    return hostPort === "" ? malformed(url, "no host") : malformed(url, "no port");
  }
  let host = hostPort.slice(0, colon);
  const portText = hostPort.slice(colon + 1);
  if (host === "") return malformed(url, "no host");
  if (!hostRe.test(host)) return malformed(url, `host '${host}' is not a host name or IP address`);
  if (host.startsWith("[")) host = host.slice(1, -1);
  if (!/^\d{1,5}$/.test(portText)) return malformed(url, portText === "" ? "no port" : `port '${portText}' is not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return malformed(url, `port ${port} out of range`);
  const kv: string[] = [];
  const plain = sparePlain; // reused: only the previous URL's flags are ever read
  plain.length = 0;
  if (q >= 0) {
    const query = rest.slice(q + 1);
    const allPlain = isPlainText(query);
    let i = 0;
    while (i <= query.length) {
      let amp = query.indexOf("&", i);
      if (amp < 0) amp = query.length;
      if (amp > i) {
        const eq = query.indexOf("=", i);
        const hasValue = eq >= 0 && eq < amp;
        const key = param(query, i, hasValue ? eq : amp, kv.length, plain, allPlain);
        let value: string | undefined = "";
        if (hasValue) value = param(query, eq + 1, amp, kv.length + 1, plain, allPlain);
        else plain.push(true);
        if (key === undefined || value === undefined) return malformed(url, `bad percent-encoding in '${query.slice(i, amp)}'`);
        if (key !== "") kv.push(key, value);
        else plain.length -= 2;
      }
      i = amp + 1;
    }
  }
  previousKv = kv;
  sparePlain = previousPlain;
  previousPlain = plain;
  const params = paramsOf(kv);
  const path = decode(rawPath.charCodeAt(0) === 47 ? rawPath.replace(/^\/+/, "") : rawPath);
  if (path === undefined) return malformed(url, "bad percent-encoding in the path");
  // the params this parser reads, in one pass (a later duplicate wins, as in `params.get`)
  let ifaceParam: string | undefined;
  let category: string | undefined;
  let enabled: string | undefined;
  let weightRaw: string | undefined;
  let versionParam: string | undefined;
  let defaultVersion: string | undefined;
  let groupParam: string | undefined;
  let defaultGroup: string | undefined;
  for (let i = 0; i < kv.length; i += 2) {
    switch (kv[i]) {
      case "interface":
        ifaceParam = kv[i + 1];
        break;
      case "category":
        category = kv[i + 1];
        break;
      case "enabled":
        enabled = kv[i + 1];
        break;
      case "weight":
        weightRaw = kv[i + 1];
        break;
      case "version":
        versionParam = kv[i + 1];
        break;
      case "default.version":
        defaultVersion = kv[i + 1];
        break;
      case "group":
        groupParam = kv[i + 1];
        break;
      case "default.group":
        defaultGroup = kv[i + 1];
        break;
    }
  }
  const iface = ifaceParam || path;
  if (iface === "") return malformed(url, "no interface (neither a path nor an interface= param)");
  if (!isJavaName(iface)) return malformed(url, `interface '${iface}' is not a Java type name`);
  if (category !== undefined && category !== "providers") return malformed(url, `category '${category}' is not providers`);
  if (enabled === "false") {
    return { ok: false, skip: "disabled", error: `provider URL ${JSON.stringify(url)} has enabled=false: skipped` };
  }
  let weight = 100;
  if (weightRaw !== undefined && weightRaw !== "") {
    if (!/^\d{1,9}$/.test(weightRaw)) return malformed(url, `weight '${weightRaw}' is not a non-negative integer`);
    weight = Number(weightRaw);
  }
  let version = versionParam ?? defaultVersion ?? "";
  if (version === "0.0.0") version = "";
  const group = groupParam ?? defaultGroup ?? "";
  return { ok: true, provider: { url, protocol: "dubbo", host, port, interface: iface, version, group, weight, params } };
}

/** `interface:version:group`, the identity of a Dubbo service. */
export function serviceKeyOf(p: { interface: string; version: string; group: string }): string {
  return `${p.interface}:${p.version}:${p.group}`;
}

/** Stable order: by service key, then host, then port, then URL. */
export function compareProviders(a: Provider, b: Provider): number {
  const ka = serviceKeyOf(a);
  const kb = serviceKeyOf(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.url < b.url ? -1 : a.url > b.url ? 1 : 0;
}
