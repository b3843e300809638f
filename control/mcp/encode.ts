/**
 * An Istio object, as `dubbo-mesh generate` builds it (`{apiVersion, kind, metadata, spec}`, spec in Istio's
 * lowerCamel JSON/YAML names), encoded as istiod reads it from an MCP-over-xDS config source:
 *
 *   istio.mcp.v1alpha1.Resource {
 *     metadata: { name: "NAMESPACE/NAME", version: HASH, labels, annotations }
 *     body: Any { type_url: "type.googleapis.com/<spec message>", value: <spec encoded with protos/istio/> }
 *   }
 *
 * The bytes are the value of an `Any` whose type_url is `MCP_RESOURCE_TYPE_URL` in the DiscoveryResponse.
 * istiod (istio/istio 1.30.3 pkg/adsc/adsc.go, mcpToPilot) splits the name at its one slash, stores labels and
 * annotations, and replaces its stored copy only when the version changes: the version is a hash of the
 * whole resource without it (name, labels, annotations and body), so any change is seen.
 *
 * Strict: an object field, metadata field or spec field that Istio's proto does not have, a value of the
 * wrong type or an unknown enum name throws an `McpEncodeError` naming the object and the field's path;
 * nothing is dropped.
 */
import { createHash } from "node:crypto";
import { ProtoJsonError, plainFromJson } from "../generate/xds/proto-json.js";
import { ISTIO_KINDS, isIstioKind, type IstioKind } from "./istio-kinds.js";
import { istioMessage } from "./istio-protos.js";

/**
 * The namespace of objects that have none (`dubbo-mesh generate` without `--namespace`): Istio's default
 * root namespace, where an EnvoyFilter or WasmPlugin applies to every sidecar and a ServiceEntry or
 * DestinationRule (exported to all namespaces by default) is seen by every namespace.
 */
export const DEFAULT_MCP_NAMESPACE = "istio-system";

export interface McpEncodeOptions {
  /** namespace of objects without `metadata.namespace` (default `DEFAULT_MCP_NAMESPACE`) */
  defaultNamespace?: string;
}

/** One encoded resource, ready to serve under the type URLs of its kind (`kindOfTypeUrl`). */
export interface McpResource {
  kind: IstioKind;
  /** `NAMESPACE/NAME`, as in the resource's metadata */
  name: string;
  /** the metadata's version: 16 hex digits of a SHA-256 over the resource without its version */
  version: string;
  /** the encoded `istio.mcp.v1alpha1.Resource` */
  bytes: Uint8Array;
}

export class McpEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "McpEncodeError";
  }
}

type Plain = Record<string, unknown>;

const OBJECT_KEYS = new Set(["apiVersion", "kind", "metadata", "spec"]);
const METADATA_KEYS = new Set(["name", "namespace", "labels", "annotations"]);
/** Kubernetes name rules are looser than this, but a slash would break istiod's NAMESPACE/NAME split. */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlain(value)) throw new McpEncodeError(`${what} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    if (typeof v !== "string") throw new McpEncodeError(`${what}.${key} must be a string, got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  return out;
}

/** Encodes one Istio object (see the file comment). Throws `McpEncodeError` on anything it cannot encode exactly. */
export function encodeMcpResource(object: unknown, options: McpEncodeOptions = {}): McpResource {
  if (!isPlain(object)) throw new McpEncodeError(`an Istio object must be an object, got ${JSON.stringify(object)}`);
  const kind = object["kind"];
  if (!isIstioKind(kind)) {
    throw new McpEncodeError(`kind ${JSON.stringify(kind)} is not one of ${Object.keys(ISTIO_KINDS).join(", ")}`);
  }
  const info = ISTIO_KINDS[kind];
  const metadata = object["metadata"];
  const rawName = isPlain(metadata) ? metadata["name"] : undefined;
  const label = `${kind} ${typeof rawName === "string" ? JSON.stringify(rawName) : "(no name)"}`;

  const apiVersion = object["apiVersion"];
  if (!info.versions.some((v) => apiVersion === `${info.group}/${v}`)) {
    const allowed = info.versions.map((v) => `${info.group}/${v}`).join(", ");
    throw new McpEncodeError(`${label}: apiVersion ${JSON.stringify(apiVersion)} is not one of ${allowed}`);
  }
  for (const key of Object.keys(object)) {
    if (!OBJECT_KEYS.has(key)) throw new McpEncodeError(`${label}: unknown field ${key} (an object has ${[...OBJECT_KEYS].join(", ")})`);
  }
  if (!isPlain(metadata)) throw new McpEncodeError(`${label}: metadata must be an object`);
  for (const key of Object.keys(metadata)) {
    if (!METADATA_KEYS.has(key)) throw new McpEncodeError(`${label}: unknown field metadata.${key} (MCP carries ${[...METADATA_KEYS].join(", ")})`);
  }
  if (typeof rawName !== "string" || !NAME.test(rawName)) throw new McpEncodeError(`${label}: metadata.name must be a DNS-1123 name`);
  const namespace = metadata["namespace"] ?? options.defaultNamespace ?? DEFAULT_MCP_NAMESPACE;
  if (typeof namespace !== "string" || !NAME.test(namespace)) {
    throw new McpEncodeError(`${label}: metadata.namespace must be a DNS-1123 name, got ${JSON.stringify(namespace)}`);
  }
  const name = `${namespace}/${rawName}`;
  const where = `${kind} ${name}`;
  const labels = stringMap(metadata["labels"], `${where}: metadata.labels`);
  const annotations = stringMap(metadata["annotations"], `${where}: metadata.annotations`);

  const spec = object["spec"];
  if (!isPlain(spec)) throw new McpEncodeError(`${where}: spec must be an object, got ${JSON.stringify(spec)}`);
  const specType = istioMessage(info.message);
  let plain: Plain;
  try {
    plain = plainFromJson(specType, spec);
  } catch (err) {
    if (!(err instanceof ProtoJsonError)) throw err;
    const reason = err.message.slice(`${err.path || "(root)"}: `.length);
    throw new McpEncodeError(`${where}: ${err.path ? `spec.${err.path}` : "spec"}: ${reason}`);
  }
  const body = { type_url: `type.googleapis.com/${info.message}`, value: specType.encode(specType.fromObject(plain)).finish() };

  const resourceType = istioMessage("istio.mcp.v1alpha1.Resource");
  const encode = (version: string): Uint8Array =>
    resourceType.encode(resourceType.fromObject({ metadata: { name, version, labels, annotations }, body })).finish();
  const version = createHash("sha256").update(encode("")).digest("hex").slice(0, 16);
  return { kind, name, version, bytes: encode(version) };
}

/**
 * Every object encoded, grouped by kind, each list sorted by name: what the MCP server answers per type URL
 * (`kindOfTypeUrl`; a kind with no objects is an empty list). Two objects of one kind with the same
 * `NAMESPACE/NAME` are an error: istiod would keep only one of them.
 */
export function encodeMcpResources(objects: Iterable<unknown>, options: McpEncodeOptions = {}): Record<IstioKind, McpResource[]> {
  const out: Record<IstioKind, McpResource[]> = { ServiceEntry: [], DestinationRule: [], EnvoyFilter: [], WasmPlugin: [] };
  for (const object of objects) {
    const r = encodeMcpResource(object, options);
    out[r.kind].push(r);
  }
  for (const list of Object.values(out)) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.name === list[i - 1]!.name) throw new McpEncodeError(`two ${list[i]!.kind} objects named ${list[i]!.name}`);
    }
  }
  return out;
}
