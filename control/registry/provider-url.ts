/**
 * Provider URLs as Dubbo writes them into a registry (decoded), e.g.
 *   dubbo://172.18.0.9:20880/org.apache.dubbo.demo.DemoService?version=1.0.0&weight=100&methods=sayHello
 * and the sofa-rpc-node form without a path segment, the interface in the query:
 *   dubbo://127.0.0.1:12200?interface=com.example.Echo&version=1.0&group=SOFA&language=nodejs
 * One parser serves the file and ZooKeeper registries.
 */

import type { Provider } from "../model/provider.js";
import { serviceKeyOf } from "../model/provider.js";
import { UrlParams } from "../model/url-params.js";

export type { Provider } from "../model/provider.js";
export { serviceKeyOf } from "../model/provider.js";

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
 * Param keys and short values repeat across 10^5 providers ("application", "side", "provider", "2.0.2"),
 * and so do interface names (the ~10 providers of a service): one shared copy each (a bounded table,
 * emptied when full). Less memory, and the model's comparisons of a service's providers find the very
 * same string instead of comparing characters (measured 5x faster over 10^5 providers).
 */
const internTable = new Map<string, string>();
const INTERN_MAX = 50_000;

function intern(s: string, maxLength = 24): string {
  if (s.length > maxLength) return s;
  const hit = internTable.get(s);
  if (hit !== undefined) return hit;
  if (internTable.size >= INTERN_MAX) internTable.clear();
  internTable.set(s, s);
  return s;
}

function malformed(url: string, why: string): ParsedProvider {
  return { ok: false, error: `malformed provider URL ${JSON.stringify(url)}: ${why}` };
}

/**
 * Parses one provider URL; never throws. `skip` marks URLs that are valid but not for us (disabled, other
 * protocol). A narrow parser for `scheme://host:port[/path][?query]` (registries hold 10^5 of these; WHATWG
 * `new URL` costs several times more and accepts shapes Dubbo never writes).
 */
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
  if (q >= 0) {
    for (const part of rest.slice(q + 1).split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const key = decode(eq < 0 ? part : part.slice(0, eq));
      const value = eq < 0 ? "" : decode(part.slice(eq + 1));
      if (key === undefined || value === undefined) return malformed(url, `bad percent-encoding in '${part}'`);
      if (key !== "") kv.push(intern(key), intern(value));
    }
  }
  const params = UrlParams.fromPairs(kv);
  const path = decode(rawPath.charCodeAt(0) === 47 ? rawPath.replace(/^\/+/, "") : rawPath);
  if (path === undefined) return malformed(url, "bad percent-encoding in the path");
  const ifaceParam = params.get("interface");
  const category = params.get("category");
  const weightRaw = params.get("weight");
  const name = ifaceParam || path;
  if (name === "") return malformed(url, "no interface (neither a path nor an interface= param)");
  if (!javaName.test(name)) return malformed(url, `interface '${name}' is not a Java type name`);
  const iface = intern(name, Infinity);
  if (category !== undefined && category !== "providers") return malformed(url, `category '${category}' is not providers`);
  if (params.get("enabled") === "false") {
    return { ok: false, skip: "disabled", error: `provider URL ${JSON.stringify(url)} has enabled=false: skipped` };
  }
  let weight = 100;
  if (weightRaw !== undefined && weightRaw !== "") {
    if (!/^\d{1,9}$/.test(weightRaw)) return malformed(url, `weight '${weightRaw}' is not a non-negative integer`);
    weight = Number(weightRaw);
  }
  let version = params.get("version") ?? params.get("default.version") ?? "";
  if (version === "0.0.0") version = "";
  const group = params.get("group") ?? params.get("default.group") ?? "";
  const key = intern(serviceKeyOf({ interface: iface, version, group }), Infinity);
  return { ok: true, provider: { key, url, protocol: "dubbo", host, port, interface: iface, version, group, weight, params } };
}

/** Stable order: by service key, then host, then port, then URL. */
export function compareProviders(a: Provider, b: Provider): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  return a.url < b.url ? -1 : a.url > b.url ? 1 : 0;
}
