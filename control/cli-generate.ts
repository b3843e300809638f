/**
 * `dubbo-mesh generate --registry URI --rules FILE --out DIR [--mode dubbo-proxy|tcp] [--wasm URL --sha256 HEX]
 *                      [--wasm-form envoyfilter|wasmplugin] [--namespace NS] [--port N] [--strict]`
 * (options described in cli/index.ts).
 *
 * Reads the registry once (no watching), validates the rules, writes the Istio YAML of
 * control/generate/istio/index.ts into DIR. Deterministic: the same input gives byte-identical files.
 * Warns on stderr about rules and subsets that select nothing (`--strict`: and fails).
 * Exit codes: 0 written, 1 bad input (message on stderr), 2 bad usage.
 */
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type Args, UsageError } from "../cli/args.js";
import { parseCommandLine } from "../cli/index.js";
import { MODES, type Mode } from "./generate/istio/envoy-filter.js";
import { WASM_FORMS, type WasmForm, generateIstio } from "./generate/istio/index.js";
import { parseXdsAddress } from "./generate/istio/live.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "./generate/xds/wasm-filter.js";
import { DEFAULT_DUBBO_PORT, buildModel } from "./model/model.js";
import { createRegistry } from "./registry/index.js";
import { ruleCoverageWarnings } from "./rule-coverage.js";
import { loadRulesFile } from "./rules/load.js";

export interface GenerateArgs {
  registry: string;
  rules: string;
  out: string;
  mode: Mode;
  wasm: string;
  sha256?: string;
  /** default "envoyfilter" */
  wasmForm?: WasmForm;
  namespace?: string;
  port: number;
  /** warnings fail the run */
  strict?: boolean;
  /** live mode: the control plane's HOST:PORT */
  xdsAddress?: string;
}

/** The file of the wasm form not chosen: removed from DIR so that `kubectl apply -f DIR` inserts the filter once. */
const OTHER_FORM_FILE: Record<WasmForm, string> = { envoyfilter: "wasm-plugin.yaml", wasmplugin: "envoy-filter-wasm.yaml" };

/** The command line of `generate` as GenerateArgs; throws UsageError. */
export function generateArgs(args: Args): GenerateArgs {
  const namespace = args.string("namespace");
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new UsageError(`--namespace: expected a Kubernetes namespace name, got '${namespace}'`);
  }
  const wasm = args.string("wasm") ?? DEFAULT_WASM_URL;
  const sha256 = args.string("sha256");
  const wasmForm = args.choice("wasm-form", WASM_FORMS, "envoyfilter");
  let kind;
  try {
    kind = parseWasmSource(wasm, sha256).kind;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const xdsAddress = args.string("xds-address");
  if (xdsAddress !== undefined) {
    try {
      parseXdsAddress(xdsAddress);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (kind === "oci" && xdsAddress !== undefined) {
    throw new UsageError(`--xds-address: the wasm filter is inserted by an EnvoyFilter, which cannot load ${wasm} (use a file or https module)`);
  }
  if (kind === "oci" && wasmForm !== "wasmplugin") throw new UsageError(`--wasm ${wasm}: an oci:// module needs --wasm-form wasmplugin`);
  return {
    registry: args.required("registry"),
    rules: args.required("rules"),
    out: args.required("out"),
    mode: args.choice("mode", MODES, "dubbo-proxy"),
    wasm,
    ...(sha256 !== undefined ? { sha256 } : {}),
    wasmForm,
    ...(namespace !== undefined ? { namespace } : {}),
    port: args.integer("port", 1, 65535, DEFAULT_DUBBO_PORT),
    strict: args.flag("strict"),
    ...(xdsAddress !== undefined ? { xdsAddress } : {}),
  };
}

/** Parses the arguments after `generate`; throws UsageError. */
export function parseGenerateArgs(argv: readonly string[]): GenerateArgs {
  return generateArgs(parseCommandLine("generate", argv));
}

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
  const coverage = ruleCoverageWarnings(model, rules);
  for (const w of coverage) warn(w);
  if (args.strict && coverage.length > 0) {
    throw new Error(`--strict: ${coverage.length} warning${coverage.length === 1 ? "" : "s"} above; nothing written`);
  }
  const wasmForm = args.wasmForm ?? "envoyfilter";
  const files = generateIstio(model, {
    mode: args.mode,
    wasm,
    wasmForm,
    ...(args.namespace ? { namespace: args.namespace } : {}),
    ...(xdsAddress ? { xdsAddress } : {}),
  });
  mkdirSync(args.out, { recursive: true });
  // files of the forms not chosen, left by an earlier run: `kubectl apply -f DIR` must insert the filter once
  const stale = xdsAddress ? ["envoy-filter-wasm.yaml", "wasm-plugin.yaml"] : [OTHER_FORM_FILE[wasmForm], "envoy-filter-xds.yaml"];
  for (const name of stale) rmSync(join(args.out, name), { force: true });
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

export async function run(args: Args): Promise<number> {
  const parsed = generateArgs(args);
  const names = await generate(parsed, (m) => process.stderr.write(`dubbo-mesh generate: warning: ${m}\n`));
  process.stderr.write(`dubbo-mesh generate: wrote ${names.map((n) => join(parsed.out, n)).join(", ")}\n`);
  return 0;
}
