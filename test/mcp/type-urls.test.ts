import { describe, expect, it } from "vitest";
import { ISTIO_KINDS, type IstioKind } from "../../control/mcp/istio-kinds.js";
import { ISTIOD_SUBSCRIBED_TYPE_URLS, MCP_RESOURCE_TYPE_URL, MCP_TYPE_URL_KINDS, kindOfTypeUrl, mcpTypeUrl } from "../../control/mcp/type-urls.js";

describe("MCP type URLs", () => {
  // the GVK spellings of istio/istio 1.30.3 pkg/config/schema/collections/collections.gen.go (main version + aliases)
  const spellings: [string, IstioKind][] = [
    ["networking.istio.io/v1/ServiceEntry", "ServiceEntry"],
    ["networking.istio.io/v1beta1/ServiceEntry", "ServiceEntry"],
    ["networking.istio.io/v1alpha3/ServiceEntry", "ServiceEntry"],
    ["networking.istio.io/v1/DestinationRule", "DestinationRule"],
    ["networking.istio.io/v1beta1/DestinationRule", "DestinationRule"],
    ["networking.istio.io/v1alpha3/DestinationRule", "DestinationRule"],
    ["networking.istio.io/v1alpha3/EnvoyFilter", "EnvoyFilter"],
    ["extensions.istio.io/v1alpha1/WasmPlugin", "WasmPlugin"],
  ];

  it("every spelling maps to its kind, and there are no others", () => {
    for (const [url, kind] of spellings) expect(kindOfTypeUrl(url)).toBe(kind);
    expect(Object.keys(MCP_TYPE_URL_KINDS).sort()).toEqual(spellings.map(([u]) => u).sort());
  });

  it("types we have no objects of, Envoy types and prototype keys map to nothing", () => {
    for (const url of ["networking.istio.io/v1/VirtualService", "core/v1alpha1/MeshConfig", "type.googleapis.com/envoy.config.cluster.v3.Cluster", "toString", "networking.istio.io/v1/serviceentry"]) {
      expect(kindOfTypeUrl(url)).toBeUndefined();
    }
  });

  it("istiod subscribes to each kind with its main version (the one answered)", () => {
    for (const kind of Object.keys(ISTIO_KINDS) as IstioKind[]) {
      expect(ISTIOD_SUBSCRIBED_TYPE_URLS).toContain(mcpTypeUrl(kind));
      expect(kindOfTypeUrl(mcpTypeUrl(kind))).toBe(kind);
    }
    expect(mcpTypeUrl("ServiceEntry")).toBe("networking.istio.io/v1/ServiceEntry");
    expect(ISTIOD_SUBSCRIBED_TYPE_URLS).toHaveLength(16);
    expect(new Set(ISTIOD_SUBSCRIBED_TYPE_URLS).size).toBe(16);
  });

  it("resources are Any of istio.mcp.v1alpha1.Resource", () => {
    expect(MCP_RESOURCE_TYPE_URL).toBe("type.googleapis.com/istio.mcp.v1alpha1.Resource");
  });
});
