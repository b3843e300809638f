/**
 * The model the generators read: Dubbo services (interface, version, group) with their endpoints (address,
 * port, weight, labels = sanitized URL params), and, from the first rule that applies to each service, its
 * subsets and routing rule.
 *
 * `ModelBuilder` keeps one `Service` object per service across builds and reuses it (same identity) when
 * neither its providers nor its rule changed, so generators can cache their output per `Service` (see
 * control/generate/xds/service-cache.ts). Services and endpoints are sorted. Every object of a model is
 * read-only, shared by later builds: deep-frozen when DUBBO_MESH_FREEZE=1 (util/freeze.ts; the tests set it).
 */
import type { Provider } from "./provider.js";
import type { DubboRoute, Subset } from "../rules/types.js";
import type { UrlParams } from "./url-params.js";
import { endpointLabels } from "./labels.js";
import { disambiguateHost, serviceHost } from "./service-host.js";
import { shared } from "../util/freeze.js";

export const DEFAULT_DUBBO_PORT = 20880;
export const DUBBO_PORT_NAME = "tcp-dubbo";

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /**
   * Sanitized URL params, sorted by key (labels.ts); often the provider's own params object, shared.
   * Read-only: `get` and iteration.
   */
  readonly labels: UrlParams;
  /** the provider URL it came from */
  readonly url: string;
}

export interface Service {
  /** `interface:version:group` */
  readonly key: string;
  readonly interface: string;
  readonly version: string;
  readonly group: string;
  /** DNS-safe host (service-host.ts) */
  readonly host: string;
  /** the service port consumers use (cluster names carry it) */
  readonly port: number;
  readonly endpoints: readonly Endpoint[];
  /** the first rule that applies, if any */
  readonly rule: DubboRoute | undefined;
  /** the rule's subsets (empty without a rule) */
  readonly subsets: readonly Subset[];
}

export interface MeshModel {
  readonly port: number;
  /** sorted by host */
  readonly services: readonly Service[];
}

export interface ModelOptions {
  /** service port (default 20880) */
  port?: number;
  /** reports URL params dropped from labels (once per provider URL) */
  warn?: (message: string) => void;
}

/** Whether `rule` applies to a service (interface exact or prefix glob; version/group when given). */
export function ruleMatches(rule: DubboRoute, iface: string, version: string, group: string): boolean {
  const matchesInterface = rule.interface.endsWith("*") ? iface.startsWith(rule.interface.slice(0, -1)) : iface === rule.interface;
  return matchesInterface && (rule.version === "" || rule.version === version) && (rule.group === "" || rule.group === group);
}

export function endpointInSubset(endpoint: Endpoint, subset: Subset): boolean {
  for (const k in subset.labels) if (endpoint.labels.get(k) !== subset.labels[k]) return false;
  return true;
}

/** The subsets of services without a rule (shared, read-only). */
const NO_SUBSETS: readonly Subset[] = Object.freeze([]);

interface CacheEntry {
  /** the providers it was built from (compared by identity: registries keep Provider objects of unchanged URLs) */
  providers: readonly Provider[];
  rule: DubboRoute | undefined;
  port: number;
  host: string;
  /** the host before disambiguation (serviceHost of the key) */
  plainHost: string;
  service: Service;
}

function sameProviders(a: readonly Provider[], b: readonly Provider[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && a[i]!.url !== b[i]!.url) return false;
  return true;
}

export class ModelBuilder {
  private cache = new Map<string, CacheEntry>();
  private readonly warned = new Set<string>();
  private readonly port: number;

  constructor(private readonly options: ModelOptions = {}) {
    this.port = options.port ?? DEFAULT_DUBBO_PORT;
  }

  build(providers: readonly Provider[], rules: readonly DubboRoute[]): MeshModel {
    const groups = groupByService(providers);
    // the plain host depends only on the service key: a rebuild takes it from the last build
    const plainHosts = new Map<string, string>();
    const hostCount = new Map<string, number>();
    for (const [key, list] of groups) {
      const p = list[0]!;
      const host = this.cache.get(key)?.plainHost ?? serviceHost(p.interface, p.version, p.group);
      plainHosts.set(key, host);
      hostCount.set(host, (hostCount.get(host) ?? 0) + 1);
    }
    const next = new Map<string, CacheEntry>();
    const services: Service[] = [];
    for (const [key, list] of groups) {
      const p = list[0]!;
      const plainHost = plainHosts.get(key)!;
      // services whose plain hosts collide all get a hash of their key in the host
      const host = hostCount.get(plainHost)! > 1 ? disambiguateHost(plainHost, key) : plainHost;
      const rule = rules.find((r) => ruleMatches(r, p.interface, p.version, p.group));
      const old = this.cache.get(key);
      let entry: CacheEntry;
      if (old && old.rule === rule && old.host === host && old.port === this.port && sameProviders(old.providers, list)) entry = old;
      else entry = { providers: list, rule, host, plainHost, port: this.port, service: this.makeService(key, list, rule, host) };
      next.set(key, entry);
      services.push(entry.service);
    }
    this.cache = next;
    services.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    return shared({ port: this.port, services });
  }

  private makeService(key: string, list: readonly Provider[], rule: DubboRoute | undefined, host: string): Service {
    const p = list[0]!;
    const endpoints: Endpoint[] = list.map((q) => {
      const { labels, dropped } = endpointLabels(q.params);
      if (dropped.length > 0 && !this.warned.has(q.url)) {
        this.warned.add(q.url);
        this.options.warn?.(`provider ${JSON.stringify(q.url)}: params ${dropped.map((d) => JSON.stringify(d)).join(", ")} cannot be labels: left out`);
      }
      return { address: q.host, port: q.port, weight: q.weight, labels, url: q.url };
    });
    return shared({
      key,
      interface: p.interface,
      version: p.version,
      group: p.group,
      host,
      port: this.port,
      endpoints,
      rule,
      subsets: rule ? rule.subsets : NO_SUBSETS,
    });
  }
}

/**
 * Providers grouped by service key, in order of first appearance. A service's providers usually come one
 * after the other: the group is looked up again only when the key changes.
 */
function groupByService(providers: readonly Provider[]): Map<string, Provider[]> {
  const groups = new Map<string, Provider[]>();
  let list: Provider[] | undefined;
  let key: string | undefined;
  for (const p of providers) {
    if (p.key !== key) {
      key = p.key;
      list = groups.get(key);
      if (!list) groups.set(key, (list = []));
    }
    list!.push(p);
  }
  return groups;
}

/** One-shot model build. */
export function buildModel(providers: readonly Provider[], rules: readonly DubboRoute[], options: ModelOptions = {}): MeshModel {
  return new ModelBuilder(options).build(providers, rules);
}
