/**
 * envoyfilters/ holds `dubbo-mesh generate` output for examples/ (one folder per mode). A test regenerates it
 * and fails when it is out of date. Refresh with:
 *
 *   npx tsx scripts/example-outputs.ts
 *
 * (the same as `dubbo-mesh generate --registry file:examples/registry.yaml --rules examples/rules.yaml
 *  --out envoyfilters/MODE --mode MODE` for both modes).
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../common/paths.js";
import { generate, type GenerateArgs } from "../control/cli-generate.js";
import { MODES, type Mode } from "../control/generate/istio/envoy-filter.js";
import { DEFAULT_WASM_URL } from "../control/generate/xds/wasm-filter.js";
import { DEFAULT_DUBBO_PORT } from "../control/model/model.js";

export const REFRESH_COMMAND = "npx tsx scripts/example-outputs.ts";

export function exampleArgs(mode: Mode, out: string = join(packageRoot, "envoyfilters", mode)): GenerateArgs {
  return {
    registry: `file:${join(packageRoot, "examples", "registry.yaml")}`,
    rules: join(packageRoot, "examples", "rules.yaml"),
    out,
    mode,
    wasm: DEFAULT_WASM_URL,
    port: DEFAULT_DUBBO_PORT,
  };
}

export async function writeExampleOutputs(): Promise<void> {
  for (const mode of MODES) await generate(exampleArgs(mode));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeExampleOutputs().then(
    () => process.stdout.write(`refreshed ${MODES.map((m) => `envoyfilters/${m}`).join(", ")}\n`),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
