/** The `dubbo-mesh` command line as a whole: usage texts, --help, --version and exit codes, for every command. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { commands, main } from "../../cli/index.js";
import { parseCommand, synopsis } from "../../cli/args.js";
import { DEFAULT_WASM_URL } from "../../control/generate/xds/wasm-filter.js";
import { DEFAULT_DUBBO_PORT } from "../../control/model/model.js";

/** Runs the command line in this process, capturing stdout and stderr. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const capture = (stream: "stdout" | "stderr") =>
    vi.spyOn(process[stream], "write").mockImplementation((chunk: string | Uint8Array) => {
      out[stream] += String(chunk);
      return true;
    });
  const spies = [capture("stdout"), capture("stderr")];
  try {
    const code = await main(argv);
    return { code, ...out };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

/** The column where the descriptions start, for every row of an options/commands listing. */
function descriptionColumns(text: string): number[] {
  return text
    .split("\n")
    .filter((l) => /^ {2}\S/.test(l) || /^ {4}--/.test(l))
    .map((l) => /^\s*\S+(?: \S+)*? {2,}(?=\S)/.exec(l)?.[0].length ?? -1);
}

describe("dubbo-mesh", () => {
  it("lists every command and every option in aligned columns, with the exit codes", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const text = r.stdout;
    expect(text).toMatch(/^usage: dubbo-mesh COMMAND \[OPTIONS\]\n/);
    for (const c of Object.values(commands)) {
      expect(text).toMatch(new RegExp(`\\n  ${c.name}[ \\[]`));
      for (const [name, o] of Object.entries(c.options)) expect(text).toContain(`    --${name}${o.value ? ` ${o.value}` : ""}  `);
    }
    expect(text).toContain("  --version");
    expect(text).toContain("exit codes: 0 done, 1 bad input (unreadable or invalid files, a failed run), 2 bad usage\n");
    const commandColumns = descriptionColumns(text.slice(0, text.indexOf("\noptions:")));
    expect(commandColumns.length).toBe(Object.values(commands).reduce((n, c) => n + 1 + Object.keys(c.options).length, 0));
    expect(new Set(commandColumns).size).toBe(1);
  });

  it("the README's Command line section shows this usage", async () => {
    const readme = readFileSync(join(packageRoot, "README.md"), "utf8");
    expect(readme).toContain("```\n" + (await run(["--help"])).stdout + "```\n");
  });

  it("without a command prints the usage on stderr and exits 2; an unknown command or option exits 2", async () => {
    const none = await run([]);
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr).toMatch(/^usage: dubbo-mesh COMMAND/);
    const unknown = await run(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^dubbo-mesh: unknown command 'frobnicate'\n\nusage:/);
    expect((await run(["--verbose"])).stderr).toMatch(/^dubbo-mesh: unknown option '--verbose'/);
    expect((await run(["constructor"])).code).toBe(2);
  });

  it("--version prints the package's version", async () => {
    const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
    expect(await run(["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  for (const name of Object.keys(commands)) {
    it(`${name} --help prints its usage, every option, and exits 0; an unknown option exits 2 with the usage`, async () => {
      const spec = commands[name]!;
      const help = await run([name, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe("");
      expect(help.stdout.startsWith(`usage: ${synopsis(spec)}\n`)).toBe(true);
      expect(help.stdout.toLowerCase()).toContain(spec.summary.toLowerCase());
      for (const o of Object.keys(spec.options)) expect(help.stdout).toContain(`  --${o}`);
      expect(help.stdout).toContain("  -h, --help");
      expect(new Set(descriptionColumns(help.stdout.slice(help.stdout.indexOf("options:")))).size).toBe(1);
      expect((await run([name, "-h"])).stdout).toBe(help.stdout);

      const bad = await run([name, "--no-such-option"]);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toBe(`dubbo-mesh ${name}: Unknown option '--no-such-option'\n\n${help.stdout}`);
    });
  }

  it("the generate usage states the defaults the code uses", () => {
    const text = JSON.stringify(commands.generate!.options);
    expect(text).toContain(`default ${DEFAULT_WASM_URL}`);
    expect(text).toContain(`default ${DEFAULT_DUBBO_PORT}`);
  });

  it("parses with parseArgs in strict mode: values with =, a missing value, required options, too many operands", () => {
    const decode = commands.decode!;
    expect(parseCommand(decode, ["--max-body=100", "f.bin"]).integer("max-body", 0, 1000)).toBe(100);
    expect(() => parseCommand(decode, ["a", "b"])).toThrow("unexpected argument 'b'");
    expect(() => parseCommand(decode, ["--args"])).toThrow("Option '--args <value>' argument missing");
    expect(() => parseCommand(decode, ["--args", "x"]).integer("args", 0, 10)).toThrow("--args: expected an integer 0..10, got 'x'");
    expect(() => parseCommand(commands.control!, ["--rules", "r.yaml"])).toThrow("--registry is required");
    // parseArgs' own messages, cut to their first sentence (one line)
    expect(() => parseCommand(commands.proxy!, ["--config", "--listen", "x"])).toThrow(/^Option '--config' argument is ambiguous$/);
    expect(parseCommand(commands.proxy!, ["--help"]).help).toBe(true); // help wins over missing options
  });

  it("exit 2 for bad usage and 1 for bad input, in every command", async () => {
    expect((await run(["decode", "--max-body", "-1"])).code).toBe(2);
    expect((await run(["decode", join(packageRoot, "no-such-file.bin")])).code).toBe(1);
    expect((await run(["proxy", "--config", "x.yaml", "--listen", "127.0.0.1:99999"])).code).toBe(2);
    const proxy = await run(["proxy", "--config", join(packageRoot, "no-such-config.yaml"), "--admin", "off"]);
    expect(proxy.code).toBe(1);
    expect(proxy.stderr).toMatch(/no-such-config\.yaml/);
    expect((await run(["demo", "--concurrency", "0"])).code).toBe(2);
    expect((await run(["generate", "--registry", "file:examples/registry.yaml", "--rules", "examples/rules.yaml", "--out", "/tmp/x", "--sha256", "xyz"])).code).toBe(2);
  });
});
