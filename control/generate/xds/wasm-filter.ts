/**
 * The `envoy.filters.network.wasm` filter that loads build/dubbo_filter.wasm, in Envoy's JSON form, and the
 * `--wasm URL --sha256 HEX` source it loads the module from.
 */
import { TypeUrl } from "./type-urls.js";

/** Where the sidecar finds the module by default (mounted there, see docs/control.md). */
export const DEFAULT_WASM_URL = "file:///var/local/lib/wasm-filters/dubbo_filter.wasm";
export const WASM_ROOT_ID = "dubbo_mesh";
export const WASM_VM_ID = "dubbo_mesh";
export const WASM_PLUGIN_NAME = "dubbo-mesh";

export type WasmSource =
  | { kind: "local"; url: string; filename: string; sha256?: string }
  | { kind: "remote"; url: string; sha256: string; host: string }
  | { kind: "oci"; url: string; sha256?: string };

/** Validates `--wasm` and `--sha256`. Throws with the expected shape. */
export function parseWasmSource(url: string = DEFAULT_WASM_URL, sha256?: string): WasmSource {
  if (sha256 !== undefined && !/^[a-f0-9]{64}$/.test(sha256)) {
    throw new Error(`--sha256: expected 64 lower-case hex digits (the SHA-256 of the .wasm), got ${JSON.stringify(sha256)}`);
  }
  if (url.startsWith("/")) return { kind: "local", url: `file://${url}`, filename: url, ...(sha256 ? { sha256 } : {}) };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--wasm: expected a file path, file:///PATH, https://HOST/PATH or oci://REGISTRY/IMAGE:TAG, got ${JSON.stringify(url)}`);
  }
  switch (u.protocol) {
    case "file:":
      if (u.host !== "" || u.pathname === "/") throw new Error(`--wasm: expected file:///ABSOLUTE/PATH, got ${JSON.stringify(url)}`);
      return { kind: "local", url, filename: decodeURIComponent(u.pathname), ...(sha256 ? { sha256 } : {}) };
    case "https:":
    case "http:":
      if (!sha256) throw new Error(`--wasm ${url}: a remote module needs --sha256 HEX (Envoy refuses remote code without it)`);
      return { kind: "remote", url, sha256, host: u.hostname };
    case "oci:":
      return { kind: "oci", url, ...(sha256 ? { sha256 } : {}) };
    default:
      throw new Error(`--wasm: unsupported scheme '${u.protocol}' (use a file path, file://, https:// or oci://)`);
  }
}

/** vm_config.code for an EnvoyFilter / Listener; oci has none (WasmPlugin only). */
export function wasmCode(source: WasmSource): Record<string, unknown> {
  if (source.kind === "local") return { local: { filename: source.filename } };
  if (source.kind === "remote") {
    const u = new URL(source.url);
    const port = u.port !== "" ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
    return {
      remote: {
        // Envoy fetches through a cluster: Istio's outbound cluster of the host (it needs a ServiceEntry).
        http_uri: { uri: source.url, cluster: `outbound|${port}||${source.host}`, timeout: "10s" },
        sha256: source.sha256,
      },
    };
  }
  throw new Error(`${source.url}: an oci:// module can only be delivered by a WasmPlugin (Istio's agent pulls it); use --wasm with a file or https URL for the EnvoyFilter`);
}

/** The filter's Envoy config (`envoy.extensions.filters.network.wasm.v3.Wasm` as an Any), carrying the plugin configuration's JSON text. */
export function wasmTypedConfig(source: WasmSource, configJson: string): Record<string, unknown> {
  return {
    "@type": TypeUrl.wasm,
    config: {
      name: WASM_PLUGIN_NAME,
      root_id: WASM_ROOT_ID,
      vm_config: {
        vm_id: WASM_VM_ID,
        runtime: "envoy.wasm.runtime.v8",
        code: wasmCode(source),
      },
      configuration: { "@type": TypeUrl.stringValue, value: configJson },
    },
  };
}

/** The network filter (name + typed_config) in Envoy JSON. */
export function wasmNetworkFilter(source: WasmSource, configJson: string): Record<string, unknown> {
  return { name: "envoy.filters.network.wasm", typed_config: wasmTypedConfig(source, configJson) };
}

/**
 * The name of the wasm filter whose configuration is discovered (ECDS): the filter's name in the Listener
 * and the name of the `TypedExtensionConfig` resource that configures it.
 */
export const WASM_ECDS_NAME = "dubbo-mesh.filter";

/**
 * The wasm network filter taking its configuration by ECDS (`config_discovery`) from `configSource`
 * (an Envoy `ConfigSource`). `defaultConfig`: the Wasm Any Envoy uses until the first answer (and when
 * the source cannot be reached); without one the listener refuses connections until then.
 */
export function wasmDiscoveredFilter(configSource: Record<string, unknown>, defaultConfig?: Record<string, unknown>): Record<string, unknown> {
  return {
    name: WASM_ECDS_NAME,
    config_discovery: { config_source: configSource, ...(defaultConfig ? { default_config: defaultConfig } : {}), type_urls: [TypeUrl.wasm] },
  };
}
