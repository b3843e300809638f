/**
 * `dubbo-mesh generate --registry URI --rules FILE --out DIR [--mode dubbo-proxy|tcp] [--wasm URL --sha256 HEX]
 *                      [--namespace NS] [--port N]`
 *
 * Reads the registry once (no watching), validates the rules, writes the Istio YAML of
 * control/generate/istio/index.ts into DIR. Deterministic: the same input gives byte-identical files.
 * Exit codes: 0 written, 1 bad input (message on stderr), 2 bad usage.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MODES, type Mode } from "./generate/istio/envoy-filter.js";
import { generateIstio } from "./generate/istio/index.js";
import { parseXdsAddress } from "./generate/istio/live.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "./generate/xds/wasm-filter.js";
import { DEFAULT_DUBBO_PORT, buildModel } from "./model/model.js";
import { createRegistry } from "./registry/index.js";
import { loadRulesFile } from "./rules/load.js";

const USAGE =
  "usage: dubbo-mesh generate --registry URI --rules FILE --out DIR [--mode dubbo-proxy|tcp] [--wasm URL --sha256 HEX] [--namespace NS] [--port N] [--xds-address HOST:PORT]\n" +
  "  --registry  file:PATH (YAML of provider URLs) or zookeeper://HOST:PORT[/ROOT]\n" +
  "  --rules     DubboRoute YAML (one or more documents)\n" +
  "  --out       folder for service-entries.yaml, destination-rules.yaml, envoy-filter-wasm.yaml, envoy-filter-MODE.yaml,\n" +
  "              wasm-plugin.yaml (instead of envoy-filter-wasm.yaml), plugin-config.json\n" +
  "  --mode      dubbo-proxy (default: per-request routing through Envoy's dubbo_proxy) or tcp (per connection through tcp_proxy)\n" +
  `  --wasm      the filter module: a path or file:///PATH inside the sidecar (default ${DEFAULT_WASM_URL}), https://... or oci://... (WasmPlugin only)\n` +
  "  --sha256    SHA-256 of the module, 64 hex digits (required for https)\n" +
  "  --namespace namespace for the generated objects (default: none, i.e. where they are applied)\n" +
  `  --port      the Dubbo service port consumers use (default ${DEFAULT_DUBBO_PORT})\n` +
  "  --xds-address  live mode: the sidecars' wasm filter takes its configuration from the dubbo-mesh control plane\n" +
  "              at HOST:PORT (envoy-filter-xds.yaml instead of envoy-filter-wasm.yaml and wasm-plugin.yaml)\n";

export interface GenerateArgs {
  registry: string;
  rules: string;
  out: string;
  mode: Mode;
  wasm: string;
  sha256?: string;
  namespace?: string;
  port: number;
  xdsAddress?: string;
}

/** Parses argv; throws an Error with the usage problem. */
export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      registry: { type: "string" },
      rules: { type: "string" },
      out: { type: "string" },
      mode: { type: "string", default: "dubbo-proxy" },
      wasm: { type: "string", default: DEFAULT_WASM_URL },
      sha256: { type: "string" },
      namespace: { type: "string" },
      port: { type: "string" },
      "xds-address": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) throw new HelpRequested();
  if (positionals.length > 0) throw new Error(`unexpected argument '${positionals[0]}'`);
  for (const name of ["registry", "rules", "out"] as const) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  if (!MODES.includes(values.mode as Mode)) throw new Error(`--mode: expected dubbo-proxy or tcp, got '${values.mode}'`);
  let port = DEFAULT_DUBBO_PORT;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new Error(`--port: expected 1..65535, got '${values.port}'`);
  }
  if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.namespace)) {
    throw new Error(`--namespace: expected a Kubernetes namespace name, got '${values.namespace}'`);
  }
  return {
    registry: values.registry!,
    rules: values.rules!,
    out: values.out!,
    mode: values.mode as Mode,
    wasm: values.wasm!,
    ...(values.sha256 !== undefined ? { sha256: values.sha256 } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    port,
    ...(values["xds-address"] !== undefined ? { xdsAddress: values["xds-address"] } : {}),
  };
}

class HelpRequested extends Error {}

/** Runs generate; returns the written file names. Throws on bad input. */
export async function generate(args: GenerateArgs, warn: (m: string) => void = () => undefined): Promise<string[]> {
  const wasm = parseWasmSource(args.wasm, args.sha256);
  const xdsAddress = args.xdsAddress !== undefined ? parseXdsAddress(args.xdsAddress) : undefined;
  const rules = loadRulesFile(args.rules);
  const registry = createRegistry(args.registry, { onWarning: warn });
  let providers;
  try {
    await registry.start();
    providers = registry.providers();
  } finally {
    await registry.close();
  }
  const model = buildModel(providers, rules, { port: args.port, warn });
  const files = generateIstio(model, { mode: args.mode, wasm, ...(args.namespace ? { namespace: args.namespace } : {}), ...(xdsAddress ? { xdsAddress } : {}) });
  mkdirSync(args.out, { recursive: true });
  for (const f of files) {
    const fd = openSync(join(args.out, f.name), "w");
    try {
      for (const chunk of f.chunks) writeSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
  }
  return files.map((f) => f.name);
}

export async function main(argv: string[]): Promise<number> {
  let args: GenerateArgs;
  try {
    args = parseGenerateArgs(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`dubbo-mesh generate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const names = await generate(args, (m) => process.stderr.write(`dubbo-mesh generate: warning: ${m}\n`));
    process.stderr.write(`dubbo-mesh generate: wrote ${names.map((n) => join(args.out, n)).join(", ")}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`dubbo-mesh generate: ${(err as Error).message}\n`);
    return 1;
  }
}
