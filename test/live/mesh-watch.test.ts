import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { MeshModel } from "../../control/model/model.js";
import { MeshWatch } from "../../control/live/mesh-watch.js";

const RULES = readFileSync(new URL("../../examples/rules.yaml", import.meta.url), "utf8");
const URL1 = "dubbo://127.0.0.1:20881/org.apache.dubbo.demo.DemoService?version=1.0.0&revision=v1";
const URL2 = "dubbo://127.0.0.1:20882/org.apache.dubbo.demo.DemoService?version=1.0.0&revision=v2";

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function until<T>(get: () => T | undefined, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const v = get();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error("condition not met in time"));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe("MeshWatch", () => {
  let watch: MeshWatch | undefined;
  afterEach(() => watch?.close());

  async function start() {
    const dir = mkdtempSync(join(tmpdir(), "mesh-watch-"));
    const registry = join(dir, "registry.yaml");
    const rules = join(dir, "rules.yaml");
    writeFileSync(registry, `providers:\n  - ${URL1}\n`);
    writeFileSync(rules, RULES);
    const models: MeshModel[] = [];
    const logs: string[] = [];
    watch = await MeshWatch.start({
      registry: `file:${registry}`,
      rules,
      debounce: { quietMs: 20, maxMs: 200 },
      onModel: (m) => models.push(m),
      log: (m) => logs.push(m),
    });
    return { registry, rules, models, logs, watch };
  }

  it("builds the first model at start and rebuilds once per burst of registry changes, reusing unchanged services", async () => {
    const { registry, models, watch } = await start();
    expect(watch.model.services.map((s) => s.endpoints.length)).toEqual([1]);
    writeAtomically(registry, `providers:\n  - ${URL1}\n  - ${URL2}\n`);
    const m = await until(() => models[0]);
    expect(m.services[0]!.endpoints.map((e) => e.port)).toEqual([20881, 20882]);
    expect(watch.status().registry).toMatchObject({ ok: true, message: "2 providers" });
    expect(watch.status().build).toMatchObject({ services: 1, endpoints: 2, reason: "registry" });
    expect(models.length).toBe(1);
  });

  it("keeps the last good rules on a bad edit and says so in its status", async () => {
    const { rules, models, logs, watch } = await start();
    const before = watch.model;
    writeAtomically(rules, RULES.replace("exact: gray", "regex: gray"));
    await until(() => (watch.status().rules.ok ? undefined : true));
    expect(watch.status().rules.message).toMatch(/regex/);
    expect(watch.status().rules.message).toMatch(/keeping the last good rules/);
    expect(logs.some((l) => l.includes("keeping the last good rules"))).toBe(true);
    expect(models).toEqual([]);
    expect(watch.model).toBe(before);
  });

  it("reload re-reads both sources", async () => {
    const { models, watch } = await start();
    await watch.reload();
    const m = await until(() => models[0]);
    // the rules file is read again (unchanged rules still count as a rules load); the registry file did not change
    expect(watch.status().build.reason).toBe("reload,rules");
    expect(m.services.length).toBe(1);
  });
});
