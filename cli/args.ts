/**
 * What every `dubbo-mesh` subcommand shares: its command-line description (`CommandSpec`), parsing with
 * `node:util` `parseArgs` in strict mode, the usage text drawn from the description, and `UsageError`.
 *
 * Exit codes, the same for every command: 0 done, 1 bad input (an unreadable or invalid file, a failed
 * run), 2 bad usage (an unknown option, a missing or malformed value). A command throws `UsageError` for
 * the latter at any point of its run; cli/index.ts prints it with the command's usage and exits 2.
 */
import { parseArgs } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface OptionSpec {
  /** The value's placeholder in usage texts ("FILE"); a flag (boolean option) has none. */
  value?: string;
  required?: boolean;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** One line for the top-level usage. */
  summary: string;
  /** More about the command, for its own --help. */
  details?: string;
  /** Positional arguments: how usage shows them ("[FILE|-]") and how many are accepted. */
  operands?: { usage: string; max: number };
  options: Readonly<Record<string, OptionSpec>>;
}

/** The parsed command line of one command, with typed accessors that throw `UsageError` naming the option. */
export class Args {
  constructor(
    readonly help: boolean,
    private readonly values: Readonly<Record<string, string | boolean | undefined>>,
    readonly positionals: readonly string[],
  ) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** A required option (`OptionSpec.required`): parseCommand has already checked it is there. */
  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** An integer option in [min, max], or `fallback` when absent. */
  integer(name: string, min: number, max: number, fallback: number): number;
  integer(name: string, min: number, max: number): number | undefined;
  integer(name: string, min: number, max: number, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${name}: expected an integer ${min}..${max}, got '${v}'`);
    return n;
  }

  /** A decimal number option of at least `min`, or undefined when absent. */
  number(name: string, min: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min) throw new UsageError(`--${name}: expected a number >= ${min}, got '${v}'`);
    return n;
  }

  /** A `HOST:PORT` option (IPv6 as `[::1]:PORT`, port 0-65535), or undefined when absent. */
  hostPort(name: string): { host: string; port: number } | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
    if (!m || Number(m[3]) > 65535) throw new UsageError(`--${name}: expected HOST:PORT with a port 0-65535, got '${v}'`);
    return { host: m[1] ?? m[2]!, port: Number(m[3]) };
  }

  /** One of `choices`, or `fallback` when absent. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const v = this.string(name);
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) {
      const expected = choices.length === 2 ? choices.join(" or ") : `one of ${choices.join(", ")}`;
      throw new UsageError(`--${name}: expected ${expected}, got '${v}'`);
    }
    return v as T;
  }
}

/** Parses `argv` (the arguments after the command's name) against `spec`. Throws `UsageError`. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Args {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.value === undefined ? "boolean" : "string" };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (err) {
    // parseArgs' messages go on with advice about '--'; the first sentence names the problem.
    throw new UsageError((err as Error).message.split(/\.(\s|$)/)[0]!);
  }
  const args = new Args(parsed.values["help"] === true, parsed.values, parsed.positionals);
  if (args.help) return args;
  const max = spec.operands?.max ?? 0;
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`);
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.required && args.string(name) === undefined) throw new UsageError(`--${name} is required`);
  }
  return args;
}

/** `--name VALUE`, the left column of an option's row. */
function optionLabel(name: string, o: OptionSpec): string {
  return o.value === undefined ? `--${name}` : `--${name} ${o.value}`;
}

/** The command line in one line: operands, required options, then `[OPTIONS]` when there are others. */
export function synopsis(spec: CommandSpec): string {
  const parts = [`dubbo-mesh ${spec.name}`];
  if (spec.operands) parts.push(spec.operands.usage);
  const entries = Object.entries(spec.options);
  for (const [name, o] of entries) if (o.required) parts.push(optionLabel(name, o));
  if (entries.some(([, o]) => !o.required)) parts.push("[OPTIONS]");
  return parts.join(" ");
}

/** Rows of two columns, the left one padded to the widest. */
export function columns(rows: ReadonlyArray<readonly [string, string]>, indent = "  "): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd() + "\n").join("");
}

/** The option rows of a command, `--help` last. */
export function optionRows(spec: CommandSpec, indent = ""): [string, string][] {
  const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => [
    indent + optionLabel(name, o),
    o.required ? `${o.help} (required)` : o.help,
  ]);
  rows.push([`${indent}-h, --help`, "print this help and exit"]);
  return rows;
}

export const EXIT_CODES = "exit codes: 0 done, 1 bad input (unreadable or invalid files, a failed run), 2 bad usage\n";

/** The help of one command (`dubbo-mesh NAME --help`). */
export function commandUsage(spec: CommandSpec): string {
  const about = spec.details ? `${spec.summary}. ${spec.details}` : `${spec.summary}.`;
  return `usage: ${synopsis(spec)}\n${about[0]!.toUpperCase()}${about.slice(1)}\n\noptions:\n${columns(optionRows(spec))}\n${EXIT_CODES}`;
}
