// The optional host extension `dubbo_mesh.route_request` (docs/contracts.md §2): our own host registers
// it to route each request; Envoy does not have it. The first NotFound switches it off for the life of
// the VM, so in Envoy it costs one failed call.

import { callForeignFunction, hostLog, Level, Status, statusName } from "../hostcalls";
import { ByteWriter } from "./byte-writer";

const FUNCTION_NAME = String.UTF8.encode("dubbo_mesh.route_request");
const args = new ByteWriter(256);

export const FLAG_TWO_WAY: u32 = 1;
export const FLAG_NO_DESTINATION: u32 = 2;
/** A deny rule matched: the host answers the request with a Dubbo error (the route name is the rule's). */
export const FLAG_DENIED: u32 = 4;

let available = true;
let failuresLogged = 0;

/** False once the host answered NotFound. */
export function routeExtensionAvailable(): bool {
  return available;
}

/** Encodes the contract's argument bytes (little-endian). */
export function encodeRouteRequest(
  out: ByteWriter,
  requestId: u64,
  timeoutMs: u32,
  flags: u32,
  cluster: string,
  routeName: string,
  hashKey: string,
  service: string,
  method: string,
): void {
  out.reset();
  out.u64le(requestId);
  out.u32le(timeoutMs);
  out.u32le(flags);
  out.lengthPrefixedUtf8(cluster);
  out.lengthPrefixedUtf8(routeName);
  out.lengthPrefixedUtf8(hashKey);
  out.lengthPrefixedUtf8(service);
  out.lengthPrefixedUtf8(method);
}

/** Reports one request's destination to the host extension, when the host has it; true when the host took it. */
export function reportRoute(
  requestId: u64,
  timeoutMs: u32,
  flags: u32,
  cluster: string,
  routeName: string,
  hashKey: string,
  service: string,
  method: string,
): bool {
  if (!available) return false;
  encodeRouteRequest(args, requestId, timeoutMs, flags, cluster, routeName, hashKey, service, method);
  const status = callForeignFunction(FUNCTION_NAME, args.buffer, args.length);
  if (status == Status.Ok) return true;
  if (status == Status.NotFound) {
    available = false;
    hostLog(Level.Debug, "dubbo-mesh: host has no dubbo_mesh.route_request extension; routing per connection only");
    return false;
  }
  if (failuresLogged < 10) {
    failuresLogged++;
    hostLog(Level.Warn, "dubbo-mesh: dubbo_mesh.route_request failed: " + statusName(status));
  }
  return false;
}
