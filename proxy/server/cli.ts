/**
 * `dubbo-mesh proxy --config FILE [--listen HOST:PORT] [--admin HOST:PORT|off] [--log-level LEVEL]`
 * `dubbo-mesh proxy --xds HOST:PORT [--node-id ID] [--cache DIR] [--services LIST] [--listen HOST:PORT] [--admin HOST:PORT|off]`
 *
 * Runs the fallback proxy until SIGTERM or SIGINT (graceful drain, bounded by the configuration's
 * drainTimeoutMs); SIGHUP re-reads the configuration, the rules file and a file: registry (all three are
 * also followed on change).
 */
import { type Args, UsageError } from "../../cli/args.js";
import { parseCommandLine } from "../../cli/index.js";
import { ConfigError, type HostPort, parseHostPort } from "./config.js";
import { type ProxyLogLevel, ProxyServer } from "./proxy-server.js";

const LOG_LEVELS: readonly ProxyLogLevel[] = ["debug", "info", "warn", "error"];

export interface ProxyArgs {
  config?: string;
  xds?: { server: string; nodeId?: string; cacheDir?: string; services?: string[] };
  listen?: HostPort;
  admin?: HostPort | null;
  logLevel: ProxyLogLevel;
}

function hostPortOption(args: Args, name: string): HostPort | undefined {
  const v = args.string(name);
  if (v === undefined) return undefined;
  try {
    return parseHostPort(v, `--${name}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The command line of `proxy` as ProxyArgs; throws UsageError. */
export function proxyArgs(args: Args): ProxyArgs {
  const config = args.string("config");
  const server = args.string("xds");
  const nodeId = args.string("node-id");
  const cacheDir = args.string("cache");
  const services = args.string("services")?.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (config !== undefined && server !== undefined) throw new UsageError("give either --config FILE or --xds HOST:PORT, not both");
  if (config === undefined && server === undefined) throw new UsageError("--config FILE is required (or --xds HOST:PORT)");
  if (server === undefined && (nodeId !== undefined || cacheDir !== undefined || services !== undefined)) {
    throw new UsageError("--node-id, --cache and --services go with --xds HOST:PORT");
  }
  if (server !== undefined) hostPortOption(args, "xds");
  const xds =
    server === undefined
      ? undefined
      : { server, ...(nodeId !== undefined ? { nodeId } : {}), ...(cacheDir !== undefined ? { cacheDir } : {}), ...(services !== undefined ? { services } : {}) };
  return {
    ...(config !== undefined ? { config } : {}),
    ...(xds !== undefined ? { xds } : {}),
    listen: hostPortOption(args, "listen"),
    admin: args.string("admin") === "off" ? null : hostPortOption(args, "admin"),
    logLevel: args.choice("log-level", LOG_LEVELS, "info"),
  };
}

/** Parses the arguments after `proxy`; throws UsageError. */
export function parseProxyArgs(argv: readonly string[]): ProxyArgs {
  return proxyArgs(parseCommandLine("proxy", argv));
}

export async function run(argv: Args): Promise<number> {
  const args = proxyArgs(argv);
  let proxy: ProxyServer;
  try {
    proxy = await ProxyServer.start({
      ...(args.config !== undefined ? { configPath: args.config } : {}),
      ...(args.xds !== undefined ? { xds: args.xds } : {}),
      listen: args.listen,
      admin: args.admin,
      logLevel: args.logLevel,
    });
  } catch (err) {
    const prefix = err instanceof ConfigError ? "invalid configuration: " : "";
    process.stderr.write(`dubbo-mesh proxy: ${prefix}${(err as Error).message}\n`);
    return 1;
  }
  const admin = proxy.adminAddress ? ` admin http://${proxy.adminAddress.host}:${proxy.adminAddress.port}/` : "";
  const xds = args.xds;
  if (xds !== undefined) {
    process.stdout.write(`dubbo-mesh proxy: waiting for the configuration from ${xds.server};${admin}\n`);
    void proxy.whenReady().then(() => {
      const listeners = proxy.listenerAddresses.map((a) => `${a.host}:${a.port}`).join(", ");
      const from = proxy.configuredFromCache ? ` (from the cache in ${xds.cacheDir}: ${xds.server} not reached yet)` : "";
      process.stdout.write(`dubbo-mesh proxy: ready: listening on ${listeners}${from};${admin}\n`);
    });
  } else {
    const listeners = proxy.listenerAddresses.map((a) => `${a.host}:${a.port}`).join(", ");
    process.stdout.write(`dubbo-mesh proxy: listening on ${listeners};${admin}\n`);
  }

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`dubbo-mesh proxy: ${signal} again, stopping now\n`);
        void proxy.close().then(() => resolveExit(1));
        return;
      }
      stopping = true;
      process.stderr.write(`dubbo-mesh proxy: ${signal}: draining\n`);
      void proxy.drain().then(() => {
        process.off("SIGHUP", hup);
        resolveExit(0);
      });
    };
    const hup = (): void => void proxy.reloadAll();
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", hup);
  });
}
