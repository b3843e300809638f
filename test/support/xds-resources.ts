/**
 * Small real Envoy resources for ADS tests, encoded with protobufjs from the Envoy protos, and decoding of
 * what a client received.
 */
import { lookupMessage } from "../../control/generate/xds/envoy-protos.js";
import { makeResource, type XdsResource } from "../../control/xds/snapshot.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";

function encode(typeUrl: string, object: Record<string, unknown>): Uint8Array {
  const type = lookupMessage(typeUrl);
  const problem = type.verify(object);
  if (problem) throw new Error(`test resource of ${typeUrl}: ${problem}`);
  return type.encode(type.fromObject(object)).finish();
}

/** A ClusterLoadAssignment `name` with one endpoint per port on 127.0.0.1. */
export function endpointResource(name: string, ports: number[], scope?: string): XdsResource {
  const bytes = encode(XdsTypeUrl.endpoint, {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: ports.map((port) => ({
          endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } },
        })),
      },
    ],
  });
  return makeResource(XdsTypeUrl.endpoint, name, bytes, scope === undefined ? {} : { scope });
}

/** An EDS Cluster `name` (its endpoints over ADS), with a connect timeout that tests vary to change it. */
export function clusterResource(name: string, connectTimeoutSeconds = 1, scope?: string): XdsResource {
  const bytes = encode(XdsTypeUrl.cluster, {
    name,
    type: 3, // EDS
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 2 } },
    connect_timeout: { seconds: connectTimeoutSeconds },
  });
  return makeResource(XdsTypeUrl.cluster, name, bytes, scope === undefined ? {} : { scope });
}

/** A Listener `name` on 127.0.0.1:`port` with no filter chains. */
export function listenerResource(name: string, port: number): XdsResource {
  const bytes = encode(XdsTypeUrl.listener, { name, address: { socket_address: { address: "127.0.0.1", port_value: port } } });
  return makeResource(XdsTypeUrl.listener, name, bytes);
}

/** Any resource of any type with arbitrary bytes (for types the tests do not decode). */
export function opaqueResource(typeUrl: string, name: string, text: string, options: { scope?: string; anyTypeUrl?: string } = {}): XdsResource {
  return makeResource(typeUrl, name, new TextEncoder().encode(text), options);
}

/** The `name`/`cluster_name` of an encoded resource of a known Envoy type. */
export function resourceName(typeUrl: string, value: Uint8Array): string {
  const decoded = lookupMessage(typeUrl).toObject(lookupMessage(typeUrl).decode(value)) as Record<string, unknown>;
  return String(decoded["name"] ?? decoded["cluster_name"]);
}

/** The ports of an encoded ClusterLoadAssignment. */
export function endpointPorts(value: Uint8Array): number[] {
  const type = lookupMessage(XdsTypeUrl.endpoint);
  const cla = type.toObject(type.decode(value)) as { endpoints?: { lb_endpoints?: { endpoint: { address: { socket_address: { port_value: number } } } }[] }[] };
  return (cla.endpoints ?? []).flatMap((e) => (e.lb_endpoints ?? []).map((lb) => lb.endpoint.address.socket_address.port_value));
}
