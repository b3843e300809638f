/**
 * A provider as the model reads it: one registry entry (a Dubbo provider URL, parsed by the registry's
 * registry/provider-url.ts) of one Dubbo service.
 */
import type { UrlParams } from "./url-params.js";

export interface Provider {
  /**
   * `interface:version:group` (`serviceKeyOf`), made once when the URL is parsed and the same string for
   * every provider of a service: a model rebuild finds its services by it without building or comparing
   * key strings again
   */
  readonly key: string;
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

/** `interface:version:group`, the identity of a Dubbo service. */
export function serviceKeyOf(p: { interface: string; version: string; group: string }): string {
  return `${p.interface}:${p.version}:${p.group}`;
}
