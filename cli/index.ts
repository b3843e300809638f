/**
 * The `dubbo-mesh` command line. Each subcommand lives beside the code it drives and exports
 * `main(argv): Promise<number>` (the exit code); this file only dispatches, loading the one it needs.
 */
type Command = { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> };

const commands: Record<string, Command> = {
  decode: {
    summary: "decode [FILE|-]                      raw Dubbo bytes in, one JSON object per frame out (decoded by the .wasm)",
    load: () => import("./decode.js"),
  },
  generate: {
    summary:
      "generate --registry URI --rules FILE --out DIR [--mode dubbo-proxy|tcp] [--wasm URL --sha256 HEX]\n" +
      "                                       Istio YAML for the services and rules, deterministic",
    load: () => import("../control/cli-generate.js"),
  },
  control: {
    summary:
      "control --registry URI --rules FILE [--xds HOST:PORT] [--admin HOST:PORT] [--mcp] ...\n" +
      "                                       the live control plane: ADS (SotW, Delta, MCP) following the registry and rules",
    load: () => import("../control/cli-control.js"),
  },
  proxy: {
    summary: "proxy --config FILE [--listen HOST:PORT] [--admin HOST:PORT]\n" +
      "                                       the fallback proxy: the filter .wasm serving Dubbo traffic outside Envoy",
    load: () => import("../proxy/server/cli.js"),
  },
  demo: {
    summary: "demo                                 providers, the proxy and a consumer on loopback, with live routing counts",
    load: () => import("../proxy/demo/cli.js"),
  },
};

export function usage(): string {
  const lines = Object.values(commands).map((c) => `  dubbo-mesh ${c.summary}`);
  return `usage:\n${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`dubbo-mesh: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  return mod.main(rest);
}
