/**
 * The type URLs of MCP-over-xDS: istiod, as an ADS client of a `configSources` entry `xds://HOST:PORT`,
 * subscribes with one type URL per config kind, written `GROUP/VERSION/KIND` (Istio's GroupVersionKind
 * string). Checked against istio/istio 1.30.3:
 *   - pilot/pkg/bootstrap/configcontroller.go (initConfigSources): the `xds` scheme starts an `adsc` client
 *     whose initial requests are `adsc.ConfigInitialRequests()`;
 *   - pkg/adsc/adsc.go (ConfigInitialRequests): the MeshConfig type plus one request per schema of
 *     `collections.Pilot`, each with `GroupVersionKind().String()`, i.e. the schema's main version;
 *   - pkg/config/schema/collections/collections.gen.go: ServiceEntry and DestinationRule are `v1` (aliases
 *     v1alpha3, v1beta1), EnvoyFilter `v1alpha3`, WasmPlugin `v1alpha1`;
 *   - pkg/adsc/util.go (convertTypeURLToMCPGVK): a response's type URL counts as MCP only with the exact
 *     main version, and pkg/adsc/adsc.go (HasSynced) waits for one response on EVERY such type subscribed.
 */
import { ISTIO_KINDS, type IstioKind } from "./istio-kinds.js";

/** The type URL of each resource in an MCP response: the `Any` wrapping an `istio.mcp.v1alpha1.Resource`. */
export const MCP_RESOURCE_TYPE_URL = "type.googleapis.com/istio.mcp.v1alpha1.Resource";

/** Every type URL spelling we answer (`GROUP/VERSION/KIND` for each version of each kind) → that kind. */
export const MCP_TYPE_URL_KINDS: Readonly<Record<string, IstioKind>> = Object.fromEntries(
  Object.entries(ISTIO_KINDS).flatMap(([kind, info]) => info.versions.map((v) => [`${info.group}/${v}/${kind}`, kind as IstioKind])),
);

/** The type URL istiod subscribes with for a kind (its main version). */
export function mcpTypeUrl(kind: IstioKind): string {
  const info = ISTIO_KINDS[kind];
  return `${info.group}/${info.versions[0]}/${kind}`;
}

/** The kind of object a subscribed type URL asks for, or undefined for a type we never have objects of. */
export function kindOfTypeUrl(typeUrl: string): IstioKind | undefined {
  return Object.hasOwn(MCP_TYPE_URL_KINDS, typeUrl) ? MCP_TYPE_URL_KINDS[typeUrl] : undefined;
}

/**
 * The type URLs istiod 1.30 subscribes to on a config source, all at once on one stream: the MeshConfig type
 * (`core/v1alpha1/MeshConfig`, not an MCP type: it does not gate sync) and the 15 kinds of
 * `collections.Pilot`. istiod counts the source as synced only once each of the 15 has had a response, so a
 * server answers those it has no objects for with an empty list.
 */
export const ISTIOD_SUBSCRIBED_TYPE_URLS: readonly string[] = [
  "core/v1alpha1/MeshConfig",
  "security.istio.io/v1/AuthorizationPolicy",
  "networking.istio.io/v1/DestinationRule",
  "networking.istio.io/v1alpha3/EnvoyFilter",
  "networking.istio.io/v1/Gateway",
  "security.istio.io/v1/PeerAuthentication",
  "networking.istio.io/v1beta1/ProxyConfig",
  "security.istio.io/v1/RequestAuthentication",
  "networking.istio.io/v1/ServiceEntry",
  "networking.istio.io/v1/Sidecar",
  "telemetry.istio.io/v1/Telemetry",
  "extensions.istio.io/v1alpha1/TrafficExtension",
  "networking.istio.io/v1/VirtualService",
  "extensions.istio.io/v1alpha1/WasmPlugin",
  "networking.istio.io/v1/WorkloadEntry",
  "networking.istio.io/v1/WorkloadGroup",
];
