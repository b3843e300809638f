/**
 * `dubbo-mesh proxy --config FILE [--listen HOST:PORT] [--admin HOST:PORT|off] [--log-level LEVEL]`
 *
 * Runs the fallback proxy until SIGTERM or SIGINT (graceful drain, bounded by the configuration's
 * drainTimeoutMs); SIGHUP re-reads the configuration, the rules file and a file: registry (all three are
 * also followed on change).
 */
import { ConfigError, type HostPort, parseHostPort } from "./config.js";
import { type ProxyLogLevel, ProxyServer } from "./proxy-server.js";

const USAGE = `usage: dubbo-mesh proxy --config FILE [--listen HOST:PORT] [--admin HOST:PORT|off] [--log-level debug|info|warn|error]
  --config FILE        proxy configuration (YAML, see docs/proxy.md); followed for changes
  --listen HOST:PORT   address of the (first) Dubbo listener (default 127.0.0.1:20880)
  --admin HOST:PORT    admin API address (default 127.0.0.1:9901); "off" disables it
  --log-level LEVEL    default info
`;

export interface ProxyArgs {
  config: string;
  listen?: HostPort;
  admin?: HostPort | null;
  logLevel: ProxyLogLevel;
}

/** Parse the command line; throws an Error with a message for the user. */
export function parseProxyArgs(argv: string[]): ProxyArgs {
  let config: string | undefined;
  let listen: HostPort | undefined;
  let admin: HostPort | null | undefined;
  let logLevel: ProxyLogLevel = "info";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith("--")) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--config":
        config = value();
        break;
      case "--listen":
        listen = parseHostPort(value(), "--listen");
        break;
      case "--admin": {
        const v = value();
        admin = v === "off" ? null : parseHostPort(v, "--admin");
        break;
      }
      case "--log-level": {
        const v = value();
        if (!["debug", "info", "warn", "error"].includes(v)) throw new Error(`--log-level: expected debug, info, warn or error, got ${JSON.stringify(v)}`);
        logLevel = v as ProxyLogLevel;
        break;
      }
      case "--xds":
        throw new Error("--xds is not supported yet; give the configuration with --config FILE");
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (config === undefined) throw new Error("--config FILE is required");
  return { config, listen, admin, logLevel };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let args: ProxyArgs;
  try {
    args = parseProxyArgs(argv);
  } catch (err) {
    process.stderr.write(`dubbo-mesh proxy: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
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
