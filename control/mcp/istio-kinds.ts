/**
 * The Istio kinds `dubbo-mesh generate` writes and the MCP server serves: each kind's API group, the
 * versions Istio serves it under (main version first; from istio/istio 1.30.3
 * pkg/config/schema/collections/collections.gen.go) and the protobuf message of its spec.
 */
export type IstioKind = "ServiceEntry" | "DestinationRule" | "EnvoyFilter" | "WasmPlugin";

export interface IstioKindInfo {
  group: string;
  /** main version first, then the aliases */
  versions: readonly string[];
  /** full name of the spec's message in protos/istio/ */
  message: string;
}

export const ISTIO_KINDS: Readonly<Record<IstioKind, IstioKindInfo>> = {
  ServiceEntry: { group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], message: "istio.networking.v1alpha3.ServiceEntry" },
  DestinationRule: { group: "networking.istio.io", versions: ["v1", "v1beta1", "v1alpha3"], message: "istio.networking.v1alpha3.DestinationRule" },
  EnvoyFilter: { group: "networking.istio.io", versions: ["v1alpha3"], message: "istio.networking.v1alpha3.EnvoyFilter" },
  WasmPlugin: { group: "extensions.istio.io", versions: ["v1alpha1"], message: "istio.extensions.v1alpha1.WasmPlugin" },
};

export function isIstioKind(kind: unknown): kind is IstioKind {
  return typeof kind === "string" && Object.hasOwn(ISTIO_KINDS, kind);
}
