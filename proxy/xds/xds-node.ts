/**
 * The `node` a proxy introduces itself with on the first request of each ADS stream: id (`--node-id`, by
 * default `dubbo-mesh-proxy~HOSTNAME~PID`), cluster, user agent `dubbo-mesh` with the package version, and
 * metadata — `DUBBO_MESH_SERVICES` (the interfaces or prefix globs the proxy consumes, as a list of strings;
 * the control plane then sends only those services, see docs/xds-client.md) plus any other keys given.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../common/paths.js";
import type { NodeMessage, StructMessage, ValueMessage } from "./ads-proto.js";

export interface NodeOptions {
  /** default `dubbo-mesh-proxy~HOSTNAME~PID` */
  id?: string;
  /** default `dubbo-mesh` */
  cluster?: string;
  /** sent as metadata `DUBBO_MESH_SERVICES` when given */
  services?: readonly string[];
  /** more metadata (any JSON values) */
  metadata?: Readonly<Record<string, unknown>>;
}

export function defaultNodeId(): string {
  return `dubbo-mesh-proxy~${hostname()}~${process.pid}`;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "";
}

/** A JSON value as a `google.protobuf.Value` (what proto-loader encodes). Throws on what JSON cannot hold. */
function jsonValue(value: unknown, path: string): ValueMessage {
  if (value === null) return { nullValue: "NULL_VALUE" };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map((v, i) => jsonValue(v, `${path}[${i}]`)) } };
  if (typeof value === "object") return { structValue: jsonStruct(value as Record<string, unknown>, path) };
  throw new Error(`node metadata ${path}: expected a JSON value, got ${typeof value}`);
}

function jsonStruct(object: Readonly<Record<string, unknown>>, path: string): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(object)) fields[k] = jsonValue(v, path ? `${path}.${k}` : k);
  return { fields };
}

export function nodeMessage(options: NodeOptions = {}): NodeMessage {
  const metadata: Record<string, unknown> = { ...options.metadata };
  if (options.services !== undefined) metadata["DUBBO_MESH_SERVICES"] = [...options.services];
  return {
    id: options.id ?? defaultNodeId(),
    cluster: options.cluster ?? "dubbo-mesh",
    user_agent_name: "dubbo-mesh",
    user_agent_version: packageVersion(),
    metadata: jsonStruct(metadata, ""),
  };
}
