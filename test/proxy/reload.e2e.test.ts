/**
 * Reloads of the proxy's three sources — its configuration file, the rules file, the registry file — with
 * real peers: rules mounted as a Kubernetes ConfigMap and updated the way the kubelet does (the `..data`
 * symlink swapped), a bad rules edit that keeps the last good rules and shows on the admin API
 * (/config_dump `reloads`, /logs), and SIGHUP to the `dubbo-mesh proxy` process re-reading all three.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import type { ReloadResult } from "../../proxy/server/proxy-server.js";
import { DEMO_RULES, type Mesh, SERVICE, registryYaml, startMesh, tally } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Dump {
  reloads: Partial<Record<"config" | "rules" | "registry", ReloadResult>>;
  lastReload: ReloadResult;
}
interface LogLine {
  at: string;
  level: string;
  source: string;
  message: string;
}

const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

const GREET_TO_V2 = DEMO_RULES.replace(
  "name: greet-v1\n      match: {method: {exact: greet}}\n      route: [{subset: v1}]",
  "name: greet-v2\n      match: {method: {exact: greet}}\n      route: [{subset: v2}]",
);

describe("rules mounted as a ConfigMap", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ rulesAsConfigMap: true });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("applies an update made by swapping ..data, then keeps the last good rules after a bad one and shows why", async () => {
    const vm = mesh.proxy.filterVm;
    const first = await mesh.consumer();
    expect(tally(await Promise.all(Array.from({ length: 5 }, () => first.invoke("greet", ["a"]))))).toEqual({ v1: 5 });
    const booted = await getJson<Dump>(`${mesh.adminUrl}/config_dump`);
    expect(booted.reloads.rules?.ok).toBe(true);
    expect(booted.reloads.registry?.ok).toBe(true);
    expect(booted.reloads.config?.ok).toBe(true);

    // the kubelet's update: a new timestamped folder, ..data swapped to it; rules.yaml itself never changes
    // a new plugin configuration gets a new root context in the same VM (docs/host.md)
    let root = vm.rootContextId;
    mesh.rulesVolume!.update({ "rules.yaml": GREET_TO_V2 });
    await until("the filter reconfigured", () => vm.rootContextId !== root);
    const second = await mesh.consumer();
    expect(tally(await Promise.all(Array.from({ length: 5 }, () => second.invoke("greet", ["b"]))))).toEqual({ v2: 5 });
    const applied = await getJson<Dump>(`${mesh.adminUrl}/config_dump`);
    expect(applied.reloads.rules).toMatchObject({ source: "rules", ok: true });
    expect(Date.parse(applied.reloads.rules!.at)).toBeGreaterThan(Date.parse(booted.reloads.rules!.at));

    // a bad update: nothing changes, and the admin API says what was wrong
    root = vm.rootContextId;
    mesh.rulesVolume!.update({ "rules.yaml": DEMO_RULES.replace("timeoutMs: 3000", "timeoutMs: soon") });
    await until("the failed rules reload", async () => (await getJson<Dump>(`${mesh.adminUrl}/config_dump`)).reloads.rules?.ok === false);
    const failed = await getJson<Dump>(`${mesh.adminUrl}/config_dump`);
    expect(failed.reloads.rules!.error).toMatch(/rules\.yaml document 0 \(demo\): spec\.timeoutMs: expected a positive integer/);
    expect(failed.lastReload).toEqual(failed.reloads.rules);
    expect(failed.reloads.config?.ok).toBe(true); // the other sources keep their own outcome
    const logs = await getJson<LogLine[]>(`${mesh.adminUrl}/logs`);
    const line = logs.find((l) => l.source === "proxy" && l.level === "error" && /spec\.timeoutMs/.test(l.message));
    expect(line?.message).toMatch(/^rules reload failed, keeping the last good rules: /);
    expect(Date.parse(line!.at)).not.toBeNaN();
    expect(vm.rootContextId).toBe(root);
    const third = await mesh.consumer();
    expect(tally(await Promise.all(Array.from({ length: 5 }, () => third.invoke("greet", ["c"]))))).toEqual({ v2: 5 });
  });

  it("re-reads the rules and the registry file on request (what SIGHUP does), reporting a bad registry", async () => {
    const before = mesh.proxy.reloads.get("rules")!.at;
    await until("a later millisecond", () => Date.now() > Date.parse(before)); // so the new outcome's time differs
    mesh.rulesVolume!.update({ "rules.yaml": GREET_TO_V2 });
    writeFileSync(join(mesh.dir, "registry.yaml"), "providers: [unterminated\n");
    const outcome = await mesh.proxy.reloadAll();
    expect(outcome.config).toMatchObject({ ok: true });
    expect(outcome.rules).toMatchObject({ ok: true });
    expect(Date.parse(outcome.rules!.at)).toBeGreaterThan(Date.parse(before));
    expect(outcome.registry).toMatchObject({ ok: false });
    expect(outcome.registry!.error).toMatch(/registry\.yaml:\d+:\d+: /);
    // the last good providers still serve
    const c = await mesh.consumer();
    expect(await c.invoke("sayHello", ["x"], { requestProps: { "dubbo.tag": "gray" } })).toBe("v2:hello x");
    writeFileSync(join(mesh.dir, "registry.yaml"), registryYaml([{ address: mesh.v1.address, revision: "v1" }, { address: mesh.v2.address, revision: "v2" }]));
    expect((await mesh.proxy.reloadAll()).registry).toMatchObject({ ok: true });
  });
});

describe("SIGHUP to dubbo-mesh proxy", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-sighup-"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("re-reads the configuration, the rules and the registry file, each outcome in /config_dump", async () => {
    // no provider is needed: nothing is called, only loaded
    writeFileSync(join(dir, "registry.yaml"), registryYaml([{ address: "127.0.0.1:1", revision: "v1" }, { address: "127.0.0.1:2", revision: "v2" }]));
    writeFileSync(join(dir, "rules.yaml"), DEMO_RULES);
    writeFileSync(join(dir, "proxy.yaml"), `filter:\n  registry: file:registry.yaml\n  rules: rules.yaml\n`);
    const script = `import(${JSON.stringify(pathToFileURL(join(packageRoot, "cli", "index.ts")).href)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c))`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "-e", script, "proxy", "--config", join(dir, "proxy.yaml"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warn"],
      { cwd: packageRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await until("the listening line", () => /admin http:\/\/127\.0\.0\.1:\d+\//.test(out), 30_000);
      const admin = /admin (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1];
      const booted = await getJson<Dump>(`${admin}/config_dump`);
      expect(Object.keys(booted.reloads)).toEqual(["config", "rules", "registry"]);

      // unchanged files: only a re-read gives new outcomes (the watches see no new content)
      await until("a later millisecond", () => Date.now() > Date.parse(booted.reloads.registry!.at));
      child.kill("SIGHUP");
      const reread = (d: Dump) =>
        (["config", "rules", "registry"] as const).every((s) => d.reloads[s]!.ok && Date.parse(d.reloads[s]!.at) > Date.parse(booted.reloads[s]!.at));
      await until("all three re-read", async () => reread(await getJson<Dump>(`${admin}/config_dump`)));
      // good outcomes are in /logs even though the log level (stderr) is warn
      const good = (await getJson<LogLine[]>(`${admin}/logs`)).filter((l) => l.source === "proxy" && l.level === "info").map((l) => l.message);
      expect(good).toEqual(expect.arrayContaining(["configuration reloaded", "rules reloaded", "registry reloaded"]));

      // a bad rules file: SIGHUP reports it too, and the admin API shows it
      writeFileSync(join(dir, "rules.yaml"), `${DEMO_RULES}---\nkind: Nonsense\n`);
      child.kill("SIGHUP");
      await until("the rules error", async () => (await getJson<Dump>(`${admin}/config_dump`)).reloads.rules?.ok === false);
      const dump = await getJson<Dump>(`${admin}/config_dump`);
      expect(dump.reloads.rules!.error).toMatch(/rules\.yaml document 1/);
      expect(dump.reloads.registry!.ok).toBe(true);
      const logs = await getJson<LogLine[]>(`${admin}/logs`);
      expect(logs.some((l) => l.level === "error" && /rules reload failed/.test(l.message) && /document 1/.test(l.message))).toBe(true);
      expect((dump as unknown as { filter: { pluginConfiguration: { services: { interface: string }[] } } }).filter.pluginConfiguration.services.map((s) => s.interface)).toEqual([SERVICE]);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("clusterDefaults edited in the configuration file (registry + rules)", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("regenerates the Clusters with the new settings through the in-process control plane; established connections keep working", async () => {
    const c = await mesh.consumer();
    expect(await c.invoke("greet", ["a"])).toBe("v1:greet a");
    const text = readFileSync(mesh.configPath, "utf8").replace("connectTimeoutMs: 500", "connectTimeoutMs: 700\n  lbPolicy: LEAST_REQUEST");
    mesh.writeConfig(text);
    const outcome = await mesh.proxy.reload();
    expect(outcome).toMatchObject({ source: "config", ok: true });
    await until("the new cluster settings", async () => {
      const clusters = await getJson<Array<{ lbPolicy: string; name: string }>>(`${mesh.adminUrl}/clusters`);
      return clusters.length === 3 && clusters.every((x) => x.lbPolicy === "LEAST_REQUEST");
    });
    const dump = await getJson<{ clusters: Array<{ connectTimeoutMs: number }> }>(`${mesh.adminUrl}/config_dump`);
    expect(dump.clusters.every((x) => x.connectTimeoutMs === 700)).toBe(true);
    expect(await c.invoke("greet", ["b"])).toBe("v1:greet b");
    expect(tally(await Promise.all(Array.from({ length: 5 }, () => c.invoke("sayHello", ["g"], { requestProps: { "dubbo.tag": "gray" } }))))).toEqual({ v2: 5 });
  });
});
