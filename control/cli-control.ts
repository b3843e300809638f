/**
 * `dubbo-mesh control --registry URI --rules FILE [--xds HOST:PORT] [--admin HOST:PORT|off] [--mode dubbo-proxy|tcp]
 *                     [--wasm URL --sha256 HEX] [--mcp] [--namespace NS] [--tls-cert F --tls-key F [--tls-client-ca F]]`
 *
 * The long-running control plane (control/live/control-plane.ts): ADS on --xds (default 127.0.0.1:18000), the
 * admin API on --admin (default 127.0.0.1:9902). Prints a line with `ready` once the first snapshot is served;
 * SIGHUP re-reads the rules and the registry; SIGTERM and SIGINT stop it (within 2 s).
 */
import { readFileSync } from "node:fs";
import { type Args, UsageError } from "../cli/args.js";
import { MODES } from "./generate/istio/envoy-filter.js";
import { parseXdsAddress } from "./generate/istio/live.js";
import { parseWasmSource } from "./generate/xds/wasm-filter.js";
import { ControlPlane, type ControlPlaneOptions } from "./live/control-plane.js";
import type { AdsTlsOptions } from "./xds/ads-server.js";

export const DEFAULT_XDS = { host: "127.0.0.1", port: 18000 };
export const DEFAULT_CONTROL_ADMIN = { host: "127.0.0.1", port: 9902 };

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${option} ${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

function tlsOptions(args: Args): AdsTlsOptions | undefined {
  const cert = args.string("tls-cert");
  const key = args.string("tls-key");
  const clientCa = args.string("tls-client-ca");
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (clientCa !== undefined && cert === undefined) throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  if (cert === undefined || key === undefined) return undefined;
  return {
    cert: readPem(cert, "--tls-cert"),
    key: readPem(key, "--tls-key"),
    ...(clientCa !== undefined ? { clientCa: readPem(clientCa, "--tls-client-ca") } : {}),
  };
}

/** The command line of `control` as ControlPlane options (without `log`); throws UsageError. */
export function controlOptions(args: Args): Omit<ControlPlaneOptions, "log" | "tls"> & { xds: string } {
  let wasm;
  try {
    wasm = parseWasmSource(args.string("wasm"), args.string("sha256"));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const xds = args.hostPort("xds") ?? DEFAULT_XDS;
  const namespace = args.string("namespace");
  const advertised = args.string("xds-address");
  let xdsAddress;
  if (advertised !== undefined) {
    if (!args.flag("mcp")) throw new UsageError("--xds-address goes with --mcp (it shapes the Istio objects served over MCP)");
    try {
      xdsAddress = parseXdsAddress(advertised);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    registry: args.required("registry"),
    rules: args.required("rules"),
    mode: args.choice("mode", MODES, "dubbo-proxy"),
    wasm,
    xds: `${xds.host.includes(":") ? `[${xds.host}]` : xds.host}:${xds.port}`,
    admin: args.string("admin") === "off" ? null : (args.hostPort("admin") ?? DEFAULT_CONTROL_ADMIN),
    mcp: args.flag("mcp"),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(xdsAddress !== undefined ? { xdsAddress } : {}),
  };
}

export async function run(args: Args): Promise<number> {
  const options = controlOptions(args);
  const tls = tlsOptions(args);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const cp = await ControlPlane.start({ ...options, ...(tls ? { tls } : {}), log });
  const model = cp.model!;
  const endpoints = model.services.reduce((n, s) => n + s.endpoints.length, 0);
  const admin = cp.adminAddress;
  const host = options.xds.replace(/:\d+$/, "");
  process.stdout.write(
    `dubbo-mesh control: ready: ADS on ${host}:${cp.xdsPort}${tls ? " (TLS)" : ""}${options.mcp ? " with MCP" : ""}` +
      `${admin ? `, admin http://${admin.host}:${admin.port}/` : ""}; ${model.services.length} services, ${endpoints} endpoints\n`,
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
