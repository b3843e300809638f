/**
 * The inverse of `encode.ts`: an encoded `istio.mcp.v1alpha1.Resource` back to its metadata and its spec in
 * Istio's JSON form. For tests and debugging (what did istiod receive?).
 */
import protobuf from "protobufjs";
import { ISTIO_KINDS, type IstioKind } from "./istio-kinds.js";
import { istioMessage } from "./istio-protos.js";
import { messageToJson } from "./proto-to-json.js";

export interface DecodedMcpResource {
  /** `NAMESPACE/NAME` */
  name: string;
  version: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** the body's type URL, e.g. `type.googleapis.com/istio.networking.v1alpha3.ServiceEntry` */
  bodyTypeUrl: string;
  kind: IstioKind;
  /** the body in Istio's JSON form (lowerCamel names) */
  spec: Record<string, unknown>;
}

type Plain = Record<string, unknown>;

export function decodeMcpResource(bytes: Uint8Array): DecodedMcpResource {
  const resource = istioMessage("istio.mcp.v1alpha1.Resource").decode(bytes) as unknown as Plain;
  const metadata = (resource["metadata"] ?? {}) as Plain;
  const body = (resource["body"] ?? {}) as Plain;
  const bodyTypeUrl = String(body["type_url"] ?? "");
  const messageName = bodyTypeUrl.slice(bodyTypeUrl.lastIndexOf("/") + 1);
  const entry = Object.entries(ISTIO_KINDS).find(([, info]) => info.message === messageName);
  if (!entry) throw new Error(`MCP resource ${JSON.stringify(metadata["name"])}: body type ${JSON.stringify(bodyTypeUrl)} is not an Istio kind we know`);
  const specType = istioMessage(messageName);
  const spec = specType.decode((body["value"] ?? new Uint8Array()) as Uint8Array) as protobuf.Message;
  return {
    name: String(metadata["name"] ?? ""),
    version: String(metadata["version"] ?? ""),
    labels: { ...((metadata["labels"] ?? {}) as Record<string, string>) },
    annotations: { ...((metadata["annotations"] ?? {}) as Record<string, string>) },
    bodyTypeUrl,
    kind: entry[0] as IstioKind,
    spec: messageToJson(specType, spec as unknown as Plain) as Record<string, unknown>,
  };
}
