/**
 * `dubbo-mesh proxy --config FILE [--listen HOST:PORT] [--admin HOST:PORT|off] [--log-level LEVEL]`
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
  config: string;
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
  return {
    config: args.required("config"),
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
    proxy = await ProxyServer.start({ configPath: args.config, listen: args.listen, admin: args.admin, logLevel: args.logLevel });
  } catch (err) {
    const prefix = err instanceof ConfigError ? "invalid configuration: " : "";
    process.stderr.write(`dubbo-mesh proxy: ${prefix}${(err as Error).message}\n`);
    return 1;
  }
  const listeners = proxy.listenerAddresses.map((a) => `${a.host}:${a.port}`).join(", ");
  const admin = proxy.adminAddress ? ` admin http://${proxy.adminAddress.host}:${proxy.adminAddress.port}/` : "";
  process.stdout.write(`dubbo-mesh proxy: listening on ${listeners};${admin}\n`);

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
