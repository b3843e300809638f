/**
 * The WasmPlugin variant (extensions.istio.io/v1alpha1, `type: NETWORK`, Istio ≥ 1.20): Istio's agent
 * fetches the module (oci://, https:// or file://) and delivers it over ECDS, on the client (outbound) side
 * of the Dubbo port. The only way to use an oci:// image. It replaces the "wasm" EnvoyFilter; the mode's
 * EnvoyFilter (dubbo_proxy, or the tcp_proxy early-data merge) is needed with it.
 */
import type { PluginConfig } from "../plugin-config.js";
import { WASM_PLUGIN_NAME, WASM_ROOT_ID, type WasmSource } from "../xds/wasm-filter.js";
import { GENERATED_BY } from "./resources.js";

export const WASM_PLUGIN_API = "extensions.istio.io/v1alpha1";

export function wasmPlugin(config: PluginConfig, wasm: WasmSource, port: number, namespace?: string): Record<string, unknown> {
  const url = wasm.kind === "local" ? `file://${wasm.filename}` : wasm.url;
  return {
    apiVersion: WASM_PLUGIN_API,
    kind: "WasmPlugin",
    metadata: { name: WASM_PLUGIN_NAME, ...(namespace ? { namespace } : {}), labels: { ...GENERATED_BY } },
    spec: {
      type: "NETWORK",
      url,
      ...(wasm.sha256 ? { sha256: wasm.sha256 } : {}),
      pluginName: WASM_ROOT_ID,
      failStrategy: "FAIL_CLOSE",
      match: [{ mode: "CLIENT", ports: [{ number: port }] }],
      pluginConfig: config,
    },
  };
}
