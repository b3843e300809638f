/**
 * The `dubbo-mesh` command line. `commands` describes every subcommand (its options, for parsing and for
 * the usage texts) and how to load the module that runs it; adding a command is one entry here plus a
 * module exporting `run(args)`. This file parses the command line (cli/args.ts), prints help, and maps
 * errors to exit codes: `UsageError` → 2 with the command's usage, any other error → 1.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/paths.js";
import { type Args, type CommandSpec, EXIT_CODES, UsageError, columns, commandUsage, optionRows, parseCommand } from "./args.js";

export interface Command extends CommandSpec {
  load(): Promise<{ run(args: Args): Promise<number> }>;
}

export const commands: Readonly<Record<string, Command>> = {
  decode: {
    name: "decode",
    summary: "raw Dubbo bytes in, one JSON object per frame out (decoded by the .wasm)",
    details: "Reads FILE, or stdin for - or no argument, and prints each frame as soon as its last byte has arrived.",
    operands: { usage: "[FILE|-]", max: 1 },
    options: {
      "max-body": { value: "BYTES", help: "longest frame body accepted (default 8388608)" },
      args: { value: "N", help: "decode up to N arguments of each request (default 0)" },
    },
    load: () => import("./decode.js"),
  },
  generate: {
    name: "generate",
    summary: "Istio YAML for a registry's services and DubboRoute rules, written into DIR",
    details: "Reads the registry once; the same input gives byte-identical files.",
    options: {
      registry: { value: "URI", required: true, help: "file:PATH (YAML of provider URLs) or zookeeper://HOST:PORT[/ROOT]" },
      rules: { value: "FILE", required: true, help: "DubboRoute YAML (one or more documents)" },
      out: { value: "DIR", required: true, help: "folder for the generated files (created when missing)" },
      mode: { value: "dubbo-proxy|tcp", help: "per-request routing through Envoy's dubbo_proxy (default), or per connection through tcp_proxy" },
      wasm: { value: "URL", help: "the filter module: a path or file:///PATH in the sidecar (default file:///var/local/lib/wasm-filters/dubbo_filter.wasm), https://… or oci://…" },
      sha256: { value: "HEX", help: "SHA-256 of the module, 64 lower-case hex digits (required for https://)" },
      "wasm-form": { value: "envoyfilter|wasmplugin", help: "how the filter is inserted: envoy-filter-wasm.yaml (default) or wasm-plugin.yaml" },
      namespace: { value: "NS", help: "namespace of the generated objects (default: where they are applied)" },
      port: { value: "N", help: "the Dubbo service port consumers use (default 20880)" },
      strict: { help: "fail (exit 1) on warnings: a subset that selects no endpoint, a rule that matches no service" },
      "xds-address": { value: "HOST:PORT", help: "live mode: the sidecars' wasm filter takes its configuration by ECDS from dubbo-mesh control there" },
    },
    load: () => import("../control/cli-generate.js"),
  },
  control: {
    name: "control",
    summary: "the live control plane: ADS (SotW and Delta; MCP for istiod) following the registry and the rules",
    details:
      "Prints a line with 'ready' once the first snapshot is served; SIGHUP re-reads the rules and the registry; " +
      "SIGTERM or SIGINT stops it (within 2 s).",
    options: {
      registry: { value: "URI", required: true, help: "file:PATH (YAML of provider URLs) or zookeeper://HOST:PORT[/ROOT], followed" },
      rules: { value: "FILE", required: true, help: "DubboRoute YAML, followed (a bad edit keeps the last good rules)" },
      xds: { value: "HOST:PORT", help: "where ADS is served (default 127.0.0.1:18000)" },
      admin: { value: "HOST:PORT|off", help: "admin API: /nodes /config_dump /stats /ready (default 127.0.0.1:9902); off disables it" },
      mode: { value: "dubbo-proxy|tcp", help: "what the Listener runs after the filter (default dubbo-proxy)" },
      wasm: { value: "URL", help: "the filter module the Envoy resources load (as for generate)" },
      sha256: { value: "HEX", help: "SHA-256 of the module (required for https://)" },
      mcp: { help: "also serve the Istio objects over MCP-over-xDS (istiod's configSources)" },
      namespace: { value: "NS", help: "namespace of the Istio objects served over MCP (default istio-system)" },
      "xds-address": { value: "HOST:PORT", help: "with --mcp: where sidecars reach this control plane; MCP then serves the live-mode EnvoyFilter (as generate --xds-address)" },
      "tls-cert": { value: "FILE", help: "serve ADS over TLS with this certificate chain (PEM), with --tls-key" },
      "tls-key": { value: "FILE", help: "the certificate's private key (PEM)" },
      "tls-client-ca": { value: "FILE", help: "require client certificates signed by this CA (mTLS)" },
    },
    load: () => import("../control/cli-control.js"),
  },
  proxy: {
    name: "proxy",
    summary: "the fallback proxy: the filter .wasm serving Dubbo traffic outside Envoy",
    details:
      "Configured by --config FILE or, as an Envoy sidecar is, by a control plane over ADS (--xds). " +
      "Runs until SIGTERM or SIGINT (then drains); SIGHUP reloads the configuration.",
    options: {
      config: { value: "FILE", help: "proxy configuration (YAML, see docs/proxy.md); followed for changes" },
      xds: { value: "HOST:PORT", help: "take the whole configuration from a control plane over ADS (dubbo-mesh control)" },
      "node-id": { value: "ID", help: "with --xds: the node id (default dubbo-mesh-proxy~HOST~PID)" },
      cache: { value: "DIR", help: "with --xds: keep the last acknowledged resources in DIR, and start from them" },
      services: { value: "LIST", help: "with --xds: comma-separated interfaces or prefix globs served (node metadata DUBBO_MESH_SERVICES)" },
      listen: { value: "HOST:PORT", help: "address of the first Dubbo listener (default: the configuration's, or the first Listener's)" },
      admin: { value: "HOST:PORT|off", help: "admin API address (default 127.0.0.1:9901); off disables it" },
      "log-level": { value: "LEVEL", help: "debug, info (default), warn or error" },
    },
    load: () => import("../proxy/server/cli.js"),
  },
  demo: {
    name: "demo",
    summary: "the whole chain on loopback: registry, control plane, xDS, proxy, providers and a consumer, live",
    details: "What npm start runs; Ctrl-C stops it.",
    options: {
      duration: { value: "SECONDS", help: "stop after this long" },
      requests: { value: "N", help: "stop after N calls" },
      concurrency: { value: "N", help: "calls in flight (default 4)" },
      "edit-every": { value: "SECONDS", help: "edit the rules (flip the split between 90/10 and 10/90) this often (default 10)" },
      "free-ports": { help: "run everything on free loopback ports instead of 20880-20882, 18000, 9901 and 9902" },
    },
    load: () => import("../proxy/demo/cli.js"),
  },
};

export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
}

/** The top-level usage: every command with its options, in aligned columns. */
export function usage(): string {
  const rows: [string, string][] = [];
  for (const c of Object.values(commands)) {
    rows.push([`${c.name}${c.operands ? ` ${c.operands.usage}` : ""}`, c.summary]);
    rows.push(...optionRows(c, "  ").slice(0, -1));
  }
  return (
    "usage: dubbo-mesh COMMAND [OPTIONS]\n\ncommands:\n" +
    columns(rows) +
    "\noptions:\n" +
    columns([
      ["-h, --help", "print this help (dubbo-mesh COMMAND --help: one command's)"],
      ["--version", "print the version"],
    ]) +
    `\n${EXIT_CODES}`
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  if (name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return 0;
  }
  if (name === "--version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`dubbo-mesh: unknown ${name.startsWith("-") ? "option" : "command"} '${name}'\n\n${usage()}`);
    return 2;
  }
  return runCommand(command, rest);
}

/** Parses, loads and runs one command; the exit code. */
export async function runCommand(command: Command, argv: readonly string[]): Promise<number> {
  try {
    const args = parseCommand(command, argv);
    if (args.help) {
      process.stdout.write(commandUsage(command));
      return 0;
    }
    const mod = await command.load();
    return await mod.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`dubbo-mesh ${command.name}: ${err.message}\n\n${commandUsage(command)}`);
      return 2;
    }
    // one line per problem (validators report each on its own line), each with the command's name
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(message.split("\n").map((line) => `dubbo-mesh ${command.name}: ${line}\n`).join(""));
    return 1;
  }
}

/** Parses `argv` as the command line of command `name` (for the commands' own parse functions and tests). */
export function parseCommandLine(name: string, argv: readonly string[]): Args {
  return parseCommand(commands[name]!, argv);
}
