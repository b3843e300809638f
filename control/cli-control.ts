/**
 * `dubbo-mesh control --registry URI --rules FILE [--xds HOST:PORT] [--admin HOST:PORT] [--mode dubbo-proxy|tcp]
 *                     [--wasm URL --sha256 HEX] [--mcp] [--namespace NS] [--tls-cert F --tls-key F [--tls-client-ca F]]`
 *
 * The long-running control plane (control/live/control-plane.ts): ADS on --xds (default 127.0.0.1:18000), the
 * admin API on --admin (default 127.0.0.1:9902). Prints a line with `ready` once the first snapshot is served;
 * SIGHUP re-reads the rules and the registry; SIGTERM and SIGINT stop it (within 2 s).
 * Exit codes: 0 stopped by a signal, 1 bad input (a source that cannot be loaded), 2 bad usage.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { MODES, type Mode } from "./generate/istio/envoy-filter.js";
import { DEFAULT_WASM_URL, parseWasmSource } from "./generate/xds/wasm-filter.js";
import { ControlPlane } from "./live/control-plane.js";
import type { AdsTlsOptions } from "./xds/ads-server.js";

export const DEFAULT_XDS = "127.0.0.1:18000";
export const DEFAULT_CONTROL_ADMIN = "127.0.0.1:9902";

const USAGE =
  "usage: dubbo-mesh control --registry URI --rules FILE [--xds HOST:PORT] [--admin HOST:PORT|off] [--mode dubbo-proxy|tcp]\n" +
  "                          [--wasm URL --sha256 HEX] [--mcp] [--namespace NS] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n" +
  "  --registry       file:PATH (YAML of provider URLs) or zookeeper://HOST:PORT[/ROOT], followed\n" +
  "  --rules          DubboRoute YAML, followed (a bad edit keeps the last good rules)\n" +
  `  --xds            where ADS is served (default ${DEFAULT_XDS})\n` +
  `  --admin          the admin API: /nodes /config_dump /stats /ready (default ${DEFAULT_CONTROL_ADMIN}; off for none)\n` +
  "  --mode           dubbo-proxy (default) or tcp\n" +
  `  --wasm, --sha256 the filter module the Envoy resources load (default ${DEFAULT_WASM_URL})\n` +
  "  --mcp            also serve the Istio objects over MCP-over-xDS (istiod's configSources)\n" +
  "  --namespace      namespace of the Istio objects served over MCP (default istio-system)\n" +
  "  --tls-cert, --tls-key   serve ADS over TLS; --tls-client-ca also requires client certificates (mTLS)\n";

export interface ControlArgs {
  registry: string;
  rules: string;
  xds: string;
  admin: { host: string; port: number } | null;
  mode: Mode;
  wasm: string;
  sha256?: string;
  mcp: boolean;
  namespace?: string;
  tls?: { cert: string; key: string; clientCa?: string };
}

export class UsageError extends Error {}

function hostPort(value: string, option: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : -1;
  if (!m || port > 65535) throw new UsageError(`${option}: expected HOST:PORT with a port 0-65535, got ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2]!, port };
}

export function parseControlArgs(argv: string[]): ControlArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        registry: { type: "string" },
        rules: { type: "string" },
        xds: { type: "string", default: DEFAULT_XDS },
        admin: { type: "string", default: DEFAULT_CONTROL_ADMIN },
        mode: { type: "string", default: "dubbo-proxy" },
        wasm: { type: "string", default: DEFAULT_WASM_URL },
        sha256: { type: "string" },
        mcp: { type: "boolean", default: false },
        namespace: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-client-ca": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (!v.registry) throw new UsageError("--registry is required");
  if (!v.rules) throw new UsageError("--rules is required");
  if (!(MODES as readonly string[]).includes(v.mode)) throw new UsageError(`--mode: expected ${MODES.join(" or ")}, got ${JSON.stringify(v.mode)}`);
  hostPort(v.xds, "--xds");
  if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (v["tls-client-ca"] !== undefined && v["tls-cert"] === undefined) throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  return {
    registry: v.registry,
    rules: v.rules,
    xds: v.xds,
    admin: v.admin === "off" ? null : hostPort(v.admin, "--admin"),
    mode: v.mode as Mode,
    wasm: v.wasm,
    ...(v.sha256 !== undefined ? { sha256: v.sha256 } : {}),
    mcp: v.mcp,
    ...(v.namespace !== undefined ? { namespace: v.namespace } : {}),
    ...(v["tls-cert"] !== undefined
      ? { tls: { cert: v["tls-cert"], key: v["tls-key"]!, ...(v["tls-client-ca"] !== undefined ? { clientCa: v["tls-client-ca"] } : {}) } }
      : {}),
  };
}

function readTls(tls: NonNullable<ControlArgs["tls"]>): AdsTlsOptions {
  const read = (path: string, option: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${option} ${path}: cannot read: ${(err as Error).message}`);
    }
  };
  return {
    cert: read(tls.cert, "--tls-cert"),
    key: read(tls.key, "--tls-key"),
    ...(tls.clientCa !== undefined ? { clientCa: read(tls.clientCa, "--tls-client-ca") } : {}),
  };
}

export async function main(argv: string[]): Promise<number> {
  let args: ControlArgs | "help";
  let wasm;
  try {
    args = parseControlArgs(argv);
    if (args === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    try {
      wasm = parseWasmSource(args.wasm, args.sha256);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  } catch (err) {
    process.stderr.write(`dubbo-mesh control: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let cp: ControlPlane;
  try {
    cp = await ControlPlane.start({
      registry: args.registry,
      rules: args.rules,
      mode: args.mode,
      wasm,
      xds: args.xds,
      admin: args.admin,
      mcp: args.mcp,
      ...(args.namespace !== undefined ? { namespace: args.namespace } : {}),
      ...(args.tls ? { tls: readTls(args.tls) } : {}),
      log,
    });
  } catch (err) {
    process.stderr.write(`dubbo-mesh control: ${(err as Error).message}\n`);
    return 1;
  }
  const host = args.xds.replace(/:\d+$/, "");
  const model = cp.model!;
  const endpoints = model.services.reduce((n, s) => n + s.endpoints.length, 0);
  const admin = cp.adminAddress;
  process.stdout.write(
    `dubbo-mesh control: ready: ADS on ${host}:${cp.xdsPort}${args.tls ? " (TLS)" : ""}${args.mcp ? " with MCP" : ""}` +
      `${admin ? `, admin on http://${admin.host}:${admin.port}/` : ""}; ${model.services.length} services, ${endpoints} endpoints\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: stopping`);
      process.off("SIGHUP", hup);
      void cp.close().then(() => resolve(0));
    };
    const hup = () => {
      log("SIGHUP: re-reading the rules and the registry");
      void cp.reload();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", hup);
  });
}
