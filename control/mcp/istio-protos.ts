/**
 * Istio's API protos (the subset in `protos/istio/`, see its README for the Istio version), loaded with
 * protobufjs. Field names keep their proto spelling (snake_case); `plainFromJson` (proto-json.ts) accepts
 * Istio's lowerCamel JSON/YAML names as well.
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import protobuf from "protobufjs";
import { packageRoot } from "../../common/paths.js";

/** The folder of Istio's protos: `protos/istio/` at the package root (the same from sources and from dist/). */
export const istioProtoDir = join(packageRoot, "protos", "istio");

/** The files loaded; their imports are followed. */
export const istioProtoFiles: readonly string[] = [
  "mcp/v1alpha1/resource.proto",
  "networking/v1alpha3/service_entry.proto",
  "networking/v1alpha3/destination_rule.proto",
  "networking/v1alpha3/envoy_filter.proto",
  "extensions/v1alpha1/wasm.proto",
];

let root: protobuf.Root | undefined;

/** Loads (once per process) and returns the protobufjs root of Istio's messages. */
export function istioProtoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    // protobufjs bundles the well-known types and uses its copy when the path is exactly google/protobuf/NAME.proto
    if (target.startsWith("google/protobuf/")) return target;
    const path = join(istioProtoDir, target);
    if (!existsSync(path)) throw new Error(`Istio proto '${target}' not found in ${istioProtoDir}`);
    return path;
  };
  r.loadSync([...istioProtoFiles], { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

/** An Istio message type by its full name, e.g. `istio.networking.v1alpha3.ServiceEntry`. */
export function istioMessage(fullName: string): protobuf.Type {
  return istioProtoRoot().lookupType(fullName);
}
