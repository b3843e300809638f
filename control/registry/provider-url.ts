/**
 * Provider URLs as Dubbo writes them into a registry (decoded), e.g.
 *   dubbo://172.18.0.9:20880/org.apache.dubbo.demo.DemoService?version=1.0.0&weight=100&methods=sayHello
 * and the sofa-rpc-node form without a path segment, the interface in the query:
 *   dubbo://127.0.0.1:12200?interface=com.example.Echo&version=1.0&group=SOFA&language=nodejs
 * One parser serves the file and ZooKeeper registries.
 */

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
  /** every URL param, in URL order (duplicates: the last wins) */
  readonly params: ReadonlyMap<string, string>;
}

export type ParsedProvider = { ok: true; provider: Provider } | { ok: false; error: string; skip?: "disabled" | "protocol" };

const javaName = /^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/;

/** Parses one provider URL; never throws. `skip` marks URLs that are valid but not for us (disabled, other protocol). */
export function parseProviderUrl(url: string): ParsedProvider {
  const bad = (why: string): ParsedProvider => ({ ok: false, error: `malformed provider URL ${JSON.stringify(url)}: ${why}` });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return bad("not a URL (expected dubbo://HOST:PORT/INTERFACE?params)");
  }
  const protocol = u.protocol.slice(0, -1);
  if (protocol !== "dubbo") {
    return { ok: false, skip: "protocol", error: `provider URL ${JSON.stringify(url)} uses protocol '${protocol}', not dubbo: skipped` };
  }
  let host = u.hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") return bad("no host");
  if (u.port === "") return bad("no port");
  const port = Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return bad(`port ${u.port} out of range`);
  const params = new Map<string, string>();
  for (const [k, v] of u.searchParams) params.set(k, v);
  const path = decodeURIComponent(u.pathname.replace(/^\/+/, ""));
  const iface = params.get("interface") || path;
  if (iface === "") return bad("no interface (neither a path nor an interface= param)");
  if (!javaName.test(iface)) return bad(`interface '${iface}' is not a Java type name`);
  const category = params.get("category");
  if (category !== undefined && category !== "providers") return bad(`category '${category}' is not providers`);
  if (params.get("enabled") === "false") {
    return { ok: false, skip: "disabled", error: `provider URL ${JSON.stringify(url)} has enabled=false: skipped` };
  }
  const weightRaw = params.get("weight");
  let weight = 100;
  if (weightRaw !== undefined && weightRaw !== "") {
    if (!/^\d{1,9}$/.test(weightRaw)) return bad(`weight '${weightRaw}' is not a non-negative integer`);
    weight = Number(weightRaw);
  }
  let version = params.get("version") ?? params.get("default.version") ?? "";
  if (version === "0.0.0") version = "";
  const group = params.get("group") ?? params.get("default.group") ?? "";
  return { ok: true, provider: { url, protocol, host, port, interface: iface, version, group, weight, params } };
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
