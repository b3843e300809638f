/**
 * What the live control plane serves, per type URL, from one model: the Envoy resources (Listener, Cluster,
 * ClusterLoadAssignment, and in the live form the DRDS routes and the filter's ECDS configuration) and,
 * with MCP on, the Istio objects `generate` writes, under every type URL spelling istiod may ask for.
 */
import { envoyFilter } from "../generate/istio/envoy-filter.js";
import type { IstioOptions } from "../generate/istio/index.js";
import { destinationRule, serviceEntry } from "../generate/istio/resources.js";
import { wasmPlugin } from "../generate/istio/wasm-plugin.js";
import { buildXdsResources, serviceResources, type XdsOptions } from "../generate/xds/resources.js";
import { TypeUrl } from "../generate/xds/envoy-protos.js";
import { anyFromJson } from "../generate/xds/proto-json.js";
import { DEFAULT_MCP_NAMESPACE, encodeMcpResource } from "../mcp/encode.js";
import { MCP_RESOURCE_TYPE_URL, MCP_TYPE_URL_KINDS } from "../mcp/type-urls.js";
import type { MeshModel, Service } from "../model/model.js";
import { compilePluginConfig, pluginConfigJson } from "../plugin-config.js";
import type { GeneratedResource } from "./publisher.js";

type Json = Record<string, unknown>;

/**
 * The last Listeners published and what they were made from, kept by the caller between rebuilds: the
 * Listener embeds every service's routes (megabytes at 10k services) and the generator builds a new object
 * on every build, so without this an endpoint change would re-encode it each time only to find the same bytes.
 */
export interface ListenerReuse {
  key?: string;
  listeners?: Json[];
}

/**
 * A service's Clusters and ClusterLoadAssignments are scoped to its interface (a node with
 * `DUBBO_MESH_SERVICES` receives only those it consumes); the Listener and shared clusters go to every node.
 * With `reuse`, the previous Listener objects are published again (so their encoding is reused) when the
 * plugin configuration they are made from, its JSON text, and the port are the same.
 */
export function envoyResourceSets(model: MeshModel, options: XdsOptions, reuse?: ListenerReuse): Map<string, GeneratedResource<Json>[]> {
  const pluginConfig = options.pluginConfig ?? compilePluginConfig(model, { rewrite: options.mode === "dubbo-proxy" });
  const r = buildXdsResources(model, { ...options, pluginConfig });
  let listeners = r.listeners;
  if (reuse) {
    const key = `${model.port} ${pluginConfigJson(pluginConfig)}`;
    if (reuse.key === key && reuse.listeners) listeners = reuse.listeners;
    else Object.assign(reuse, { key, listeners });
  }
  // the generators return the same objects per service (their cache), so the interface of each is known
  const scopes = new Map<Json, string>();
  for (const s of model.services) {
    const own = serviceResources(s);
    for (const object of own.clusters) scopes.set(object, s.interface);
    for (const object of own.assignments) scopes.set(object, s.interface);
  }
  const named = (list: Json[], key: string) =>
    list.map((object) => {
      const scope = scopes.get(object);
      return { name: String(object[key]), object, ...(scope !== undefined ? { scope } : {}) };
    });
  return new Map([
    [TypeUrl.cluster, named(r.clusters, "name")],
    [TypeUrl.clusterLoadAssignment, named(r.clusterLoadAssignments, "cluster_name")],
    [TypeUrl.listener, named(listeners, "name")],
  ]);
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
 * What the previous MCP builds made, kept by the caller between rebuilds (one set of options): the
 * ServiceEntry and DestinationRule of each Service object (the model reuses the objects of unchanged
 * services), and the EnvoyFilters and WasmPlugin with the plugin configuration text and port they were made
 * from. Publishing the same objects again lets the publisher reuse their encoding: one endpoint change then
 * encodes one ServiceEntry, not all of them.
 */
export interface McpReuse {
  readonly services: WeakMap<Service, { se: Json; dr: Json | null }>;
  key?: string;
  filters?: Json[];
}

export function newMcpReuse(): McpReuse {
  return { services: new WeakMap() };
}

/**
 * The Istio objects `generate` writes for the model (the same generators, in the same order as
 * `istioObjects`): ServiceEntries, DestinationRules, the EnvoyFilters and the WasmPlugin.
 */
export function mcpObjects(model: MeshModel, options: IstioOptions, reuse: McpReuse = newMcpReuse()): Json[] {
  const entries: Json[] = [];
  const rules: Json[] = [];
  for (const s of model.services) {
    let own = reuse.services.get(s);
    if (own === undefined) reuse.services.set(s, (own = { se: serviceEntry(s, options.namespace), dr: destinationRule(s, options.namespace) }));
    entries.push(own.se);
    if (own.dr) rules.push(own.dr);
  }
  const config = compilePluginConfig(model, { rewrite: options.mode === "dubbo-proxy" });
  const key = `${model.port} ${pluginConfigJson(config)}`;
  if (reuse.key !== key || reuse.filters === undefined) {
    const ef = { mode: options.mode, port: model.port, wasm: options.wasm, ...(options.namespace ? { namespace: options.namespace } : {}) };
    reuse.key = key;
    reuse.filters = [
      ...(options.wasm.kind !== "oci" ? [envoyFilter(config, { ...ef, part: "wasm" })] : []),
      envoyFilter(config, { ...ef, part: "mode" }),
      wasmPlugin(config, options.wasm, model.port, options.namespace),
    ];
  }
  return [...entries, ...rules, ...reuse.filters];
}

export function mcpResourceSets(model: MeshModel, options: IstioOptions, reuse?: McpReuse): Map<string, GeneratedResource[]> {
  const byKind = new Map<string, GeneratedResource[]>();
  for (const object of mcpObjects(model, options, reuse)) {
    const kind = String((object as { kind?: unknown }).kind);
    const meta = (object as { metadata?: { name?: string; namespace?: string } }).metadata ?? {};
    let list = byKind.get(kind);
    if (!list) byKind.set(kind, (list = []));
    list.push({ name: `${meta.namespace ?? DEFAULT_MCP_NAMESPACE}/${meta.name ?? ""}`, object });
  }
  const out = new Map<string, GeneratedResource[]>();
  for (const [typeUrl, kind] of Object.entries(MCP_TYPE_URL_KINDS)) out.set(typeUrl, byKind.get(kind) ?? []);
  return out;
}

export function encodeMcp(_typeUrl: string, object: object): Uint8Array {
  return encodeMcpResource(object).bytes;
}

export const mcpAnyTypeUrl = (typeUrl: string): string | undefined => (typeUrl in MCP_TYPE_URL_KINDS ? MCP_RESOURCE_TYPE_URL : undefined);
