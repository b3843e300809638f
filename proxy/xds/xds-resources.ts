/**
 * The five resource types an Envoy sidecar of dubbo-mesh subscribes to over ADS, how each is decoded from its
 * `Any` with the real Envoy protos, what its name is, and which names of the dependent types the received
 * Clusters and Listeners ask for:
 *
 *   Cluster (wildcard) ──► ClusterLoadAssignment, by `eds_cluster_config.service_name` (else the cluster name)
 *   Listener (wildcard) ─► MultipleRouteConfiguration (DRDS), by `DubboProxy.drds.route_config_name`
 *                       └► TypedExtensionConfig (ECDS), by the name of each network filter with `config_discovery`
 *
 * as Envoy does (envoyproxy/envoy): `source/extensions/clusters/eds/eds.cc` (the EDS name is
 * `service_name`, or the cluster's name when that is empty), `source/extensions/filters/network/dubbo_proxy/router/rds_impl.h`
 * (DRDS: a route config provider of `Drds` → `MultipleRouteConfiguration`), `source/common/filter/config_discovery_impl.cc`
 * (ECDS: one subscription per filter name).
 */
import type protobuf from "protobufjs";
import { lookupMessage } from "../../control/generate/xds/envoy-protos.js";
import { TypeUrl } from "../../control/generate/xds/type-urls.js";
import type { AnyMessage } from "./ads-proto.js";

export const XdsType = {
  listener: TypeUrl.listener,
  cluster: TypeUrl.cluster,
  clusterLoadAssignment: TypeUrl.clusterLoadAssignment,
  dubboRoutes: TypeUrl.multipleRouteConfiguration,
  extensionConfig: TypeUrl.typedExtensionConfig,
} as const;
export type XdsTypeUrl = (typeof XdsType)[keyof typeof XdsType];

/** Every type, in the order Envoy applies them (CDS → EDS → LDS → routes / extension configs). */
export const XDS_TYPES: readonly XdsTypeUrl[] = [
  XdsType.cluster,
  XdsType.clusterLoadAssignment,
  XdsType.listener,
  XdsType.dubboRoutes,
  XdsType.extensionConfig,
];

/** The types subscribed as wildcards (full state: a resource missing from a SotW response is deleted). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([XdsType.listener, XdsType.cluster]);

const DUBBO_PROXY_TYPE = TypeUrl.dubboProxy;

/** A decoded resource as the client keeps it. The objects are shared: never alter them. */
export interface XdsResource {
  name: string;
  /** Delta: the resource's own version; SotW: the `version_info` of the response that carried it. */
  version: string;
  /**
   * The message in Envoy's JSON shape: proto field names, enums as names, 64-bit integers as strings,
   * nested `Any`s as `{"@type": URL, ...fields}`, durations as `{seconds, nanos}`, bytes as base64.
   */
  resource: Record<string, unknown>;
  /** The resource's protobuf encoding (what the disk cache keeps). */
  bytes: Uint8Array;
}

const toObjectOptions: protobuf.IConversionOptions = { json: true, enums: String, longs: String, bytes: String };

/** Decodes `bytes` as a message of `typeUrl` into Envoy's JSON shape. Throws naming the type when they do not decode. */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = lookupMessage(typeUrl);
  try {
    return type.toObject(type.decode(bytes), toObjectOptions);
  } catch (err) {
    throw new Error(`a ${type.name} that does not decode: ${(err as Error).message}`, { cause: err });
  }
}

/** The name a resource is known by (SotW responses carry no names). */
export function resourceName(typeUrl: string, resource: Record<string, unknown>): string {
  const name = typeUrl === XdsType.clusterLoadAssignment ? resource["cluster_name"] : resource["name"];
  return typeof name === "string" ? name : "";
}

/** Decodes one `Any` of a response of type `typeUrl`; throws naming what is wrong (another type, bad bytes). */
export function decodeAny(typeUrl: string, any: AnyMessage | undefined): { resource: Record<string, unknown>; bytes: Uint8Array } {
  if (!any) throw new Error("a resource entry without a resource");
  if (any.type_url !== typeUrl) throw new Error(`a resource of type ${any.type_url} in a response of type ${typeUrl}`);
  // a copy: the decoded Any's bytes are a view of the whole gRPC message, which would stay alive with them
  const bytes = any.value instanceof Uint8Array ? new Uint8Array(any.value) : new Uint8Array(0);
  return { resource: decodeResource(typeUrl, bytes), bytes };
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The ClusterLoadAssignment name an EDS Cluster asks for, or undefined for other cluster types. */
export function edsNameOf(cluster: Plain): string | undefined {
  if (cluster["type"] !== "EDS") return undefined;
  const eds = cluster["eds_cluster_config"];
  const service = isPlain(eds) ? eds["service_name"] : undefined;
  if (typeof service === "string" && service !== "") return service;
  return typeof cluster["name"] === "string" ? cluster["name"] : undefined;
}

/** Every network filter of a Listener: its filter chains' and its default filter chain's. */
function networkFiltersOf(listener: Plain): Plain[] {
  const chains: unknown[] = Array.isArray(listener["filter_chains"]) ? [...listener["filter_chains"]] : [];
  if (isPlain(listener["default_filter_chain"])) chains.push(listener["default_filter_chain"]);
  const filters: Plain[] = [];
  for (const chain of chains) {
    if (!isPlain(chain) || !Array.isArray(chain["filters"])) continue;
    for (const f of chain["filters"]) if (isPlain(f)) filters.push(f);
  }
  return filters;
}

/** The DRDS route configuration names a Listener's dubbo_proxy filters ask for. */
export function drdsNamesOf(listener: Plain): string[] {
  const names: string[] = [];
  for (const filter of networkFiltersOf(listener)) {
    const config = filter["typed_config"];
    if (!isPlain(config) || config["@type"] !== DUBBO_PROXY_TYPE) continue;
    const drds = config["drds"];
    if (isPlain(drds)) names.push(typeof drds["route_config_name"] === "string" ? drds["route_config_name"] : "");
  }
  return names;
}

/** The ECDS names a Listener asks for: the names of its network filters configured by `config_discovery`. */
export function ecdsNamesOf(listener: Plain): string[] {
  const names: string[] = [];
  for (const filter of networkFiltersOf(listener)) {
    if (isPlain(filter["config_discovery"]) && typeof filter["name"] === "string") names.push(filter["name"]);
  }
  return names;
}

/**
 * The names each named type should be subscribed to, given the current Clusters and Listeners. A type no
 * received resource asks for maps to an empty set.
 */
export function dependentNames(clusters: Iterable<XdsResource>, listeners: Iterable<XdsResource>): Map<XdsTypeUrl, Set<string>> {
  const eds = new Set<string>();
  const drds = new Set<string>();
  const ecds = new Set<string>();
  for (const c of clusters) {
    const name = edsNameOf(c.resource);
    if (name !== undefined) eds.add(name);
  }
  for (const l of listeners) {
    for (const name of drdsNamesOf(l.resource)) drds.add(name);
    for (const name of ecdsNamesOf(l.resource)) ecds.add(name);
  }
  return new Map<XdsTypeUrl, Set<string>>([
    [XdsType.clusterLoadAssignment, eds],
    [XdsType.dubboRoutes, drds],
    [XdsType.extensionConfig, ecds],
  ]);
}
