/**
 * Test helpers: Istio objects against Istio's CRD schemas (@kubernetes-models/istio), and every Envoy
 * `typed_config` inside them through the real Envoy protos (strict: unknown fields fail).
 */
import { WasmPlugin } from "@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin";
import { EnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { ServiceEntry } from "@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry";
import { roundTripJson } from "../../control/generate/xds/proto-json.js";

type Obj = Record<string, unknown>;

/** Throws with the schema's message when `doc` is not a valid Istio object of its kind. */
export function validateIstio(doc: Obj): void {
  const key = `${doc["apiVersion"]}/${doc["kind"]}`;
  // The model classes take their input as a plain object; validate() runs the CRD's OpenAPI schema.
  const data = doc as never;
  switch (key) {
    case "networking.istio.io/v1beta1/ServiceEntry":
      return new ServiceEntry(data).validate();
    case "networking.istio.io/v1beta1/DestinationRule":
      return new DestinationRule(data).validate();
    case "networking.istio.io/v1alpha3/EnvoyFilter":
      return new EnvoyFilter(data).validate();
    case "extensions.istio.io/v1alpha1/WasmPlugin":
      return new WasmPlugin(data).validate();
    default:
      throw new Error(`no schema for ${key}`);
  }
}

/** Every EnvoyFilter patch value that is an Envoy network filter ({name, typed_config}). */
export function patchFilters(doc: Obj): { operation: string; value: Obj }[] {
  if (doc["kind"] !== "EnvoyFilter") return [];
  const spec = doc["spec"] as { configPatches: { patch: { operation: string; value: Obj } }[] };
  return spec.configPatches.map((p) => ({ operation: p.patch.operation, value: p.patch.value }));
}

/** Every object under a `typed_config` key, anywhere. */
export function typedConfigs(value: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(value)) for (const v of value) typedConfigs(v, out);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "typed_config" && typeof v === "object" && v !== null) out.push(v as Obj);
      typedConfigs(v, out);
    }
  }
  return out;
}

/** Round-trips a typed_config (an Any in JSON form) through its Envoy message. */
export function roundTripTypedConfig(tc: Obj): Uint8Array {
  const typeUrl = tc["@type"];
  if (typeof typeUrl !== "string") throw new Error("typed_config without @type");
  const body = { ...tc };
  delete body["@type"];
  return roundTripJson(typeUrl, body);
}
