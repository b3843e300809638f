/**
 * Decoding of real Envoy resources and the names the Clusters and Listeners ask for.
 */
import { describe, expect, it } from "vitest";
import type { AnyMessage } from "../../proxy/xds/ads-proto.js";
import { decodeAny, dependentNames, drdsNamesOf, ecdsNamesOf, edsNameOf, resourceName, XdsType, type XdsResource } from "../../proxy/xds/xds-resources.js";
import { anyOf, dubboListener, dubboRoutes, edsCluster, loadAssignment, staticCluster, wasmExtensionConfig } from "./envoy-fixtures.js";

function resource(typeUrl: string, any: AnyMessage): XdsResource {
  const { resource, bytes } = decodeAny(typeUrl, any);
  return { name: resourceName(typeUrl, resource), version: "1", resource, bytes };
}

describe("xds resources", () => {
  it("decodes each type into Envoy's JSON shape and names it", () => {
    const cases: [string, AnyMessage, string][] = [
      [XdsType.cluster, edsCluster("c"), "c"],
      [XdsType.clusterLoadAssignment, loadAssignment("c", [1]), "c"],
      [XdsType.listener, dubboListener("l", "r", "f"), "l"],
      [XdsType.dubboRoutes, dubboRoutes("r", "x.Y", "c"), "r"],
      [XdsType.extensionConfig, wasmExtensionConfig("f", "{}"), "f"],
    ];
    for (const [typeUrl, any, name] of cases) expect(resource(typeUrl, any).name).toBe(name);
    const listener = resource(XdsType.listener, dubboListener("l", "r", "f")).resource;
    expect(listener).toMatchObject({
      filter_chains: [{ filters: [{ name: "f", config_discovery: {} }, { typed_config: { "@type": expect.stringContaining("DubboProxy"), drds: { route_config_name: "r" } } }] }],
    });
  });

  it("takes the EDS name from service_name, else the cluster name, and none from other cluster types", () => {
    expect(edsNameOf(resource(XdsType.cluster, edsCluster("c", "svc")).resource)).toBe("svc");
    expect(edsNameOf(resource(XdsType.cluster, edsCluster("c")).resource)).toBe("c");
    expect(edsNameOf(resource(XdsType.cluster, staticCluster("s", 1)).resource)).toBeUndefined();
  });

  it("finds DRDS and ECDS names in filter chains and the default filter chain, not in inline configurations", () => {
    const withDefault = anyOf({
      "@type": XdsType.listener,
      name: "l",
      address: { socket_address: { address: "127.0.0.1", port_value: 1 } },
      filter_chains: [
        {
          filters: [
            {
              name: "envoy.filters.network.dubbo_proxy",
              typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy", stat_prefix: "s", route_config: [] },
            },
          ],
        },
      ],
      default_filter_chain: { filters: [{ name: "late.wasm", config_discovery: { config_source: { ads: {} }, type_urls: ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"] } }] },
    });
    const l = resource(XdsType.listener, withDefault).resource;
    expect([drdsNamesOf(l), ecdsNamesOf(l)]).toEqual([[], ["late.wasm"]]);
    const names = dependentNames(
      [resource(XdsType.cluster, edsCluster("a")), resource(XdsType.cluster, edsCluster("b", "b-svc")), resource(XdsType.cluster, staticCluster("s", 1))],
      [resource(XdsType.listener, dubboListener("l1", "r1", "f1")), resource(XdsType.listener, dubboListener("l2", "r1", "f2"))],
    );
    expect(Object.fromEntries([...names].map(([t, n]) => [t, [...n].sort()]))).toEqual({
      [XdsType.clusterLoadAssignment]: ["a", "b-svc"],
      [XdsType.dubboRoutes]: ["r1"],
      [XdsType.extensionConfig]: ["f1", "f2"],
    });
  });
});
