// Per-connection routing through Envoy's tcp_proxy: the foreign function `set_envoy_filter_state`
// (Envoy >= 1.28) with a serialized envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments
//   { string path = 1; string value = 2; LifeSpan span = 3; }
// hand-encoded here (span left at its default, FilterChain, i.e. the connection for a network filter).

import { callForeignFunction } from "../hostcalls";
import { ByteWriter } from "./byte-writer";

export const TCP_PROXY_CLUSTER_KEY = "envoy.tcp_proxy.cluster";
const FUNCTION_NAME = String.UTF8.encode("set_envoy_filter_state");
const args = new ByteWriter(128);

/** Encodes SetEnvoyFilterStateArguments{path, value} into `out` (protobuf wire format). */
export function encodeFilterStateArguments(out: ByteWriter, path: string, value: string): void {
  out.reset();
  out.protoString(1, path);
  out.protoString(2, value);
}

/** Asks the host to set filter state `envoy.tcp_proxy.cluster` = cluster. Returns the host's status. */
export function setTcpProxyCluster(cluster: string): u32 {
  encodeFilterStateArguments(args, TCP_PROXY_CLUSTER_KEY, cluster);
  return callForeignFunction(FUNCTION_NAME, args.buffer, args.length);
}
