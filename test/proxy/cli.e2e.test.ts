/** `dubbo-mesh proxy` as a process: starts on a config file, serves, reports bad configs, drains on SIGTERM. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { type Provider, startConsumer, startProvider } from "../support/dubbo-peers.js";

const CLI = join(packageRoot, "cli", "index.ts");

function run(args: string[]) {
  // cli/index.ts is what bin/dubbo-mesh.js runs (from dist/); run its main from the sources here.
  const script = `import(${JSON.stringify(pathToFileURL(CLI).href)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c))`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script, ...args], { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  child.stderr.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function until(what: string, cond: () => boolean, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("dubbo-mesh proxy (process)", () => {
  let dir: string;
  let provider: Provider;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-cli-"));
    provider = await startProvider({ interface: "com.example.Cli", version: "1.0.0", methods: { async hi(n: string) { return `hi ${n}`; } } });
  });
  afterAll(async () => {
    await provider?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves until SIGTERM, then drains and exits 0", async () => {
    const config = join(dir, "proxy.yaml");
    writeFileSync(
      config,
      `filter:
  configuration: {version: 1, services: [{interface: com.example.Cli, defaultCluster: cli}]}
clusters:
  - {name: cli, endpoints: ["${provider.address}"]}
`,
    );
    const p = run(["proxy", "--config", config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
    try {
      await until("the listening line", () => /listening on/.test(p.out()));
      const m = /listening on 127\.0\.0\.1:(\d+); admin http:\/\/127\.0\.0\.1:(\d+)\//.exec(p.out());
      expect(m).not.toBeNull();
      const consumer = await startConsumer({ address: `127.0.0.1:${m![1]}`, interface: "com.example.Cli", version: "1.0.0" });
      expect(await consumer.invoke("hi", ["cli"])).toBe("hi cli");
      expect((await fetch(`http://127.0.0.1:${m![2]}/ready`)).status).toBe(200);
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(p.err()).toMatch(/SIGTERM: draining/);
      await consumer.close();
    } finally {
      p.child.kill("SIGKILL");
    }
  });

  it("exits 1 naming the bad field of a bad configuration, and 2 on bad arguments", async () => {
    const config = join(dir, "bad.yaml");
    writeFileSync(config, "clusters:\n  - name: x\n    lbPolicy: FASTEST\n");
    const bad = run(["proxy", "--config", config]);
    expect(await bad.exited).toBe(1);
    expect(bad.err()).toMatch(/invalid configuration: .*bad\.yaml: clusters\[0\]\.lbPolicy: expected one of ROUND_ROBIN/);
    const plugin = join(dir, "bad-plugin.yaml");
    writeFileSync(plugin, "filter:\n  configuration: {version: 2, services: []}\n");
    const refused = run(["proxy", "--config", plugin, "--listen", "127.0.0.1:0", "--admin", "off"]);
    expect(await refused.exited).toBe(1);
    expect(refused.err()).toMatch(/dubbo-mesh proxy: .*plugin configuration rejected.*version: expected 1/);
    expect(refused.err().match(/version: expected 1/g)).toHaveLength(1); // printed once, not by the filter, the host and the command
    const regex = join(dir, "regex-plugin.yaml");
    writeFileSync(regex, "filter:\n  configuration: {version: 1, services: [{interface: a.B, routes: [{name: r, match: {method: {regex: x}}, destinations: [{cluster: c}]}]}]}\n");
    const refusedRegex = run(["proxy", "--config", regex, "--listen", "127.0.0.1:0", "--admin", "off"]);
    expect(await refusedRegex.exited).toBe(1);
    expect(refusedRegex.err()).toBe(
      "dubbo-mesh proxy: proxy_on_configure returned failure (plugin configuration rejected): dubbo-mesh: invalid plugin configuration: " +
        "services[0].routes[0].match.method: unknown field 'regex' (allowed: exact, prefix, suffix, present)\n",
    );
    const usage = run(["proxy", "--listen", "127.0.0.1:1"]);
    expect(await usage.exited).toBe(2);
    expect(usage.err()).toMatch(/^dubbo-mesh proxy: --config FILE is required \(or --xds HOST:PORT\)\n\nusage: dubbo-mesh proxy \[OPTIONS\]/);
  });
});
