/**
 * What the live control plane serves, per type URL, from one model, through the same generators as
 * `generate`: the Envoy resources of a live Envoy (xdsSnapshot: a stable Listener, Clusters,
 * ClusterLoadAssignments, the DRDS routes and the filter's ECDS configuration) and, with MCP on, the Istio
 * objects `generate` writes, under every type URL spelling istiod may ask for. Each builder keeps what it
 * made for the previous model, so an unchanged resource is the very same object (and the publisher reuses its
 * encoding).
 */
import { createHash } from "node:crypto";
import { filterDocuments, pluginConfigFor, type IstioOptions } from "../generate/istio/index.js";
import { destinationRule, serviceEntry } from "../generate/istio/resources.js";
import { pluginConfigJson } from "../generate/plugin-config.js";
import { anyFromJson } from "../generate/xds/proto-json.js";
import type { ClusterSettings } from "../generate/xds/clusters.js";
import { ServiceCache } from "../generate/xds/service-cache.js";
import { xdsSnapshot, type XdsSnapshot, type XdsSnapshotOptions } from "../generate/xds/snapshot.js";
import { TypeUrl } from "../generate/xds/type-urls.js";
import { DEFAULT_MCP_NAMESPACE, encodeMcpResource } from "../mcp/encode.js";
import { MCP_RESOURCE_TYPE_URL, MCP_TYPE_URL_KINDS } from "../mcp/type-urls.js";
import type { MeshModel, Service } from "../model/model.js";
import type { GeneratedResource } from "./publisher.js";

type Json = Record<string, unknown>;

/**
 * The Envoy resources of successive models. The filter's ECDS configuration carries a `revision` that changes
 * with every new plugin configuration — a hash of the previous revision and the new configuration — so that
 * going back to an earlier configuration is a new plugin configuration for Envoy too: Envoy hands an
 * identical configuration the root context it already holds, without `proxy_on_configure`, and connections
 * would not follow the rollback (docs/host.md, "VM reuse and root contexts"). Replicas that saw the same
 * sequence of configurations agree on the revision.
 */
export class EnvoyResources {
  private readonly cache: ServiceCache;
  private previous: XdsSnapshot | undefined;
  private revision = "";
  private lastFilterConfig: Json | undefined;
  private revisedFilterConfig: Json | undefined;

  constructor(
    private readonly options: XdsSnapshotOptions,
    clusters: ClusterSettings = {},
  ) {
    this.cache = new ServiceCache(undefined, clusters);
  }

  build(model: MeshModel): Map<string, GeneratedResource<Json>[]> {
    const snapshot = xdsSnapshot(model, this.options, this.cache, this.previous);
    this.previous = snapshot;
    const out = new Map<string, GeneratedResource<Json>[]>();
    for (const [typeUrl, resources] of snapshot.resources) {
      const list: GeneratedResource<Json>[] = [];
      for (const [name, r] of resources) {
        const object = typeUrl === TypeUrl.typedExtensionConfig ? this.revised(r.resource) : r.resource;
        list.push({ name, object, ...(r.service !== undefined ? { scope: r.service } : {}) });
      }
      out.set(typeUrl, list);
    }
    return out;
  }

  /** The filter's TypedExtensionConfig with the revision in its plugin configuration (the same object while unchanged). */
  private revised(filterConfig: Json): Json {
    if (filterConfig === this.lastFilterConfig) return this.revisedFilterConfig!;
    const typed = filterConfig["typed_config"] as { config: { configuration: { "@type": string; value: string } } };
    const json = typed.config.configuration.value;
    this.revision = createHash("sha256").update(`${this.revision}\n${json}`).digest("hex").slice(0, 16);
    const value = `{"revision":${JSON.stringify(this.revision)},${json.slice(1)}`;
    this.lastFilterConfig = filterConfig;
    this.revisedFilterConfig = {
      ...filterConfig,
      typed_config: { ...typed, config: { ...typed.config, configuration: { ...typed.config.configuration, value } } },
    };
    return this.revisedFilterConfig;
  }
}

/**
 * Encodes an Envoy resource from its JSON form (with its "@type"), strictly: an unknown field is an error, not
 * dropped, and so is a resource of another type than the one it is published as.
 */
export function encodeEnvoy(typeUrl: string, object: object): Uint8Array {
  const any = anyFromJson(object);
  if (any.type_url !== typeUrl) throw new Error(`a ${any.type_url} generated as a ${typeUrl}`);
  return any.value;
}

/**
 * The Istio objects of successive models, as `generate` writes them. A Service's objects are kept while the
 * Service object lives, and the filter documents while the plugin configuration is the same, so a rebuild
 * after one endpoint change gives every other object back as it was (and the publisher reuses its encoding).
 */
export class McpResources {
  private readonly perService = new WeakMap<Service, Json[]>();
  private filters: { json: string; docs: Json[] } | undefined;

  constructor(private readonly options: IstioOptions) {}

  /** Every object, in `generate`'s order: ServiceEntries and DestinationRules by service, then the filter documents. */
  objects(model: MeshModel): Json[] {
    const { namespace } = this.options;
    const objects: Json[] = [];
    for (const s of model.services) {
      let docs = this.perService.get(s);
      if (docs === undefined) {
        docs = [serviceEntry(s, namespace)];
        const dr = destinationRule(s, namespace);
        if (dr !== null) docs.push(dr);
        this.perService.set(s, docs);
      }
      objects.push(...docs);
    }
    const config = pluginConfigFor(model, this.options.mode);
    const json = pluginConfigJson(config);
    if (this.filters?.json !== json) this.filters = { json, docs: filterDocuments(model, this.options, config, json).map((d) => d.doc) };
    objects.push(...this.filters.docs);
    return objects;
  }

  build(model: MeshModel): Map<string, GeneratedResource[]> {
    const byKind = new Map<string, GeneratedResource[]>();
    for (const object of this.objects(model)) {
      const kind = String(object["kind"]);
      const meta = (object["metadata"] ?? {}) as { name?: string; namespace?: string };
      let list = byKind.get(kind);
      if (!list) byKind.set(kind, (list = []));
      list.push({ name: `${meta.namespace ?? DEFAULT_MCP_NAMESPACE}/${meta.name ?? ""}`, object });
    }
    const out = new Map<string, GeneratedResource[]>();
    for (const [typeUrl, kind] of Object.entries(MCP_TYPE_URL_KINDS)) out.set(typeUrl, byKind.get(kind) ?? []);
    return out;
  }
}

export function encodeMcp(_typeUrl: string, object: object): Uint8Array {
  return encodeMcpResource(object).bytes;
}

export const mcpAnyTypeUrl = (typeUrl: string): string | undefined => (typeUrl in MCP_TYPE_URL_KINDS ? MCP_RESOURCE_TYPE_URL : undefined);
