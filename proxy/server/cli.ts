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
       dubbo-mesh proxy --xds HOST:PORT [--node-id ID] [--cache DIR] [--services LIST] [--listen HOST:PORT] [--admin HOST:PORT|off]
  --config FILE        proxy configuration (YAML, see docs/proxy.md); followed for changes
  --xds HOST:PORT      take the whole configuration from a control plane over ADS (dubbo-mesh control)
  --node-id ID         the xDS node id (default dubbo-mesh-proxy~HOST~PID)
  --cache DIR          keep the last acknowledged resources in DIR and start from them
  --services LIST      comma-separated interfaces or prefix globs this proxy serves (node metadata DUBBO_MESH_SERVICES)
  --listen HOST:PORT   address of the (first) Dubbo listener (default: the configuration's, or the first Listener's)
  --admin HOST:PORT    admin API address (default 127.0.0.1:9901); "off" disables it
  --log-level LEVEL    default info
`;

export interface ProxyArgs {
  config?: string;
  xds?: { server: string; nodeId?: string; cacheDir?: string; services?: string[] };
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
  let xds: string | undefined;
  let nodeId: string | undefined;
  let cacheDir: string | undefined;
  let services: string[] | undefined;
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
        xds = value();
        parseHostPort(xds, "--xds");
        break;
      case "--node-id":
        nodeId = value();
        break;
      case "--cache":
        cacheDir = value();
        break;
      case "--services":
        services = value().split(",").map((v) => v.trim()).filter((v) => v !== "");
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (config !== undefined && xds !== undefined) throw new Error("give either --config FILE or --xds HOST:PORT, not both");
  if (xds === undefined && (nodeId !== undefined || cacheDir !== undefined || services !== undefined)) {
    throw new Error("--node-id, --cache and --services go with --xds HOST:PORT");
  }
  if (config === undefined && xds === undefined) throw new Error("--config FILE is required (or --xds HOST:PORT)");
  const x = xds === undefined ? undefined : { server: xds, ...(nodeId !== undefined ? { nodeId } : {}), ...(cacheDir !== undefined ? { cacheDir } : {}), ...(services !== undefined ? { services } : {}) };
  return { ...(config !== undefined ? { config } : {}), ...(x !== undefined ? { xds: x } : {}), listen, admin, logLevel };
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
  if (args.xds !== undefined) {
    process.stdout.write(`dubbo-mesh proxy: waiting for the configuration from ${args.xds.server};${admin}\n`);
    void proxy.whenReady().then(() => {
      const listeners = proxy.listenerAddresses.map((a) => `${a.host}:${a.port}`).join(", ");
      const from = proxy.configuredFromCache ? ` (from the cache in ${args.xds!.cacheDir}: ${args.xds!.server} not reached yet)` : "";
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
