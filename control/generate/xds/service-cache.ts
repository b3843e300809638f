/**
 * The generators' one cache: what is generated for a `Service` object, kept while that object lives.
 * `ModelBuilder` keeps a Service object across builds while neither its providers nor its rule change, so
 * after one endpoint changes only that service's pieces are made again; everything else is found here.
 *
 * Owned by whoever rebuilds (the long-running control plane keeps one for its lifetime; a one-shot
 * command needs none). Bounded by the live Service objects (a WeakMap). The pieces are shared by every
 * build that finds them: read-only (deep-frozen under DUBBO_MESH_FREEZE=1, util/freeze.ts).
 */
import type { Service } from "../../model/model.js";
import { compileService, DEFAULT_ROUTE_ATTACHMENT, type PluginService } from "../plugin-config.js";
import { shared } from "../../util/freeze.js";
import { dubboRouteConfiguration } from "./dubbo-proxy.js";
import { serviceClusters, type ClusterSettings, type Json } from "./clusters.js";
import type { XdsResource } from "./snapshot.js";

export interface ServicePieces {
  /** the plugin-configuration entry, with Istio's cluster names */
  readonly entry: PluginService;
  /** `JSON.stringify(entry)` */
  readonly entryJson: string;
  /** the dubbo_proxy RouteConfiguration (for the cache's route attachment) */
  readonly routeConfig: Json;
  /**
   * EDS clusters and their assignments as snapshot entries, [name, {resource, service: the interface}], in
   * the same order: the whole service first, then its subsets by name
   */
  readonly clusterEntries: readonly (readonly [string, XdsResource])[];
  readonly assignmentEntries: readonly (readonly [string, XdsResource])[];
}

export class ServiceCache {
  private readonly byService = new WeakMap<Service, ServicePieces>();

  constructor(
    readonly routeAttachment: string = DEFAULT_ROUTE_ATTACHMENT,
    /** what every generated Cluster carries besides the rule's fields (clusters.ts) */
    readonly clusterSettings: ClusterSettings = {},
  ) {}

  /** The pieces of `service`, made on the first call for this Service object. */
  pieces(service: Service): ServicePieces {
    let out = this.byService.get(service);
    if (out === undefined) {
      const entry = compileService(service);
      const { clusters, assignments } = serviceClusters(service, this.clusterSettings);
      const iface = service.interface;
      out = shared({
        entry,
        entryJson: JSON.stringify(entry),
        routeConfig: dubboRouteConfiguration(entry, this.routeAttachment),
        clusterEntries: clusters.map((c) => [c["name"] as string, { resource: c, service: iface }] as const),
        assignmentEntries: assignments.map((a) => [a["cluster_name"] as string, { resource: a, service: iface }] as const),
      });
      this.byService.set(service, out);
    }
    return out;
  }
}
