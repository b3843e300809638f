/**
 * `dubbo-mesh demo` (what `npm start` runs): the whole chain on loopback — a file registry and a rules file,
 * the control plane serving xDS, `dubbo-mesh proxy --xds`, two providers and a consumer — with a live view
 * of where the calls go while the rules are edited (proxy/demo/demo-chain.ts).
 *
 * The peers come from `sofa-rpc-node` and `dubbo-remoting`, development dependencies (`npm ci` in a checkout
 * installs them; a production install does not): the demo checks for them when it starts, with a clear error
 * when they are missing.
 */
import { createRequire } from "node:module";
import type { Args } from "../../cli/args.js";
import { parseCommandLine } from "../../cli/index.js";
import { type DemoOptions, runDemo } from "./demo-chain.js";

const PEER_PACKAGES = ["sofa-rpc-node", "dubbo-remoting"] as const;

/**
 * Checks that the demo's Dubbo peers (sofa-rpc-node, dubbo-remoting) can be loaded. A missing package becomes
 * an error that says how to install it. `resolve` finds a package (replaceable in tests).
 */
export function checkPeers(resolve: (name: string) => string = createRequire(import.meta.url).resolve): void {
  for (const name of PEER_PACKAGES) {
    try {
      resolve(name);
    } catch (err) {
      throw new Error(
        `the demo needs the packages sofa-rpc-node and dubbo-remoting, which a production install leaves out ` +
          `(${(err as Error).message.split("\n")[0]}); install them with npm install --include=dev, or run npm ci in a checkout`,
        { cause: err },
      );
    }
  }
}

export type DemoArgs = Omit<DemoOptions, "tty" | "stopSignal">;

/** The command line of `demo` as options; throws UsageError. */
export function demoArgs(args: Args): DemoArgs {
  const o: DemoArgs = { freePorts: args.flag("free-ports"), concurrency: args.integer("concurrency", 1, 10_000, 4) };
  const duration = args.number("duration", 0.1);
  if (duration !== undefined) o.durationSeconds = duration;
  const requests = args.integer("requests", 1, Number.MAX_SAFE_INTEGER);
  if (requests !== undefined) o.requests = requests;
  const edit = args.number("edit-every", 1);
  if (edit !== undefined) o.editEverySeconds = edit;
  return o;
}

/** Parses the arguments after `demo`; throws UsageError. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  return demoArgs(parseCommandLine("demo", argv));
}

export async function run(args: Args): Promise<number> {
  const parsed = demoArgs(args);
  checkPeers();
  let onSignal: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (onSignal = resolve));
  const handler = () => {
    process.stderr.write("\nstopping...\n");
    onSignal();
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  try {
    await runDemo({ ...parsed, tty: process.stdout.isTTY === true, stopSignal }, process.stdout);
    return 0;
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}
