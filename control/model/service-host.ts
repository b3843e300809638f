/**
 * The DNS-safe host of a Dubbo service (interface, version, group), used as the ServiceEntry host and in
 * cluster names. Scheme (documented in docs/control.md):
 *
 *   <interface segments, lower-cased>[.v<version>][.g-<group>].dubbo
 *   org.apache.dubbo.demo.DemoService, 1.0.0, ""  →  org.apache.dubbo.demo.demoservice.v1-0-0.dubbo
 *
 * Each DNS label keeps `[a-z0-9-]`; any other character becomes `-`, leading/trailing `-` are dropped, an
 * empty label becomes `x`, a label over 63 characters is cut to 54 and ends in `-` + 8 hex digits of the
 * SHA-256 of the original. When two services still map to the same host (e.g. interfaces differing only in
 * case), the model appends `-` + 8 hex digits of the SHA-256 of `interface:version:group` to the first
 * label of each of them (see `disambiguateHost`).
 */
import { createHash } from "node:crypto";

export const HOST_SUFFIX = "dubbo";

function dnsLabel(raw: string): string {
  let s = raw.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "");
  if (s === "") s = "x";
  if (s.length > 63) s = `${s.slice(0, 54).replace(/-+$/, "")}-${createHash("sha256").update(raw).digest("hex").slice(0, 8)}`;
  return s;
}

export function serviceHost(iface: string, version: string, group: string): string {
  const labels = iface.split(".").map(dnsLabel);
  if (version !== "") labels.push(dnsLabel(`v${version}`));
  if (group !== "") labels.push(dnsLabel(`g-${group}`));
  labels.push(HOST_SUFFIX);
  return labels.join(".");
}

/** The host with a hash of the service key in its first label, for services whose plain hosts collide. */
export function disambiguateHost(host: string, serviceKey: string): string {
  const hash = createHash("sha256").update(serviceKey).digest("hex").slice(0, 8);
  const dot = host.indexOf(".");
  const first = host.slice(0, dot).slice(0, 54);
  return `${first}-${hash}${host.slice(dot)}`;
}

/** Istio's cluster name for a host and port, and a subset ("" = the whole service). */
export function istioClusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}
