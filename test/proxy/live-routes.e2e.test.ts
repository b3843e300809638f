/**
 * Rules edits reach established connections: real sofa-rpc-node consumers keep one connection each to the proxy
 * while calling it without pause; the rules file is edited (gray rule v2 → v1, the split shifted, back again);
 * every call on those same connections follows the new rules within 1 s of the edit, and no call fails.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Consumer } from "../support/dubbo-peers.js";
import { DEMO_RULES, type Mesh, startMesh } from "./harness.js";

const GRAY_V1 = DEMO_RULES.replace("match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v2}]", "match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v1}]");
const SPLIT_TO_V2 = DEMO_RULES.replace("route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]", "route: [{subset: v2, weight: 100}]");

/** Calls `call` back to back on `consumer` until stopped; keeps where each call went, with its start time. */
function traffic(consumer: Consumer, call: (c: Consumer) => Promise<unknown>) {
  const results: Array<{ at: number; subset: string }> = [];
  const failures: string[] = [];
  let stop = false;
  const loops = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!stop) {
        const at = Date.now();
        try {
          results.push({ at, subset: String(await call(consumer)).split(":")[0]! });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }),
  );
  return {
    results,
    failures,
    async stop() {
      stop = true;
      await loops;
    },
  };
}

/**
 * Waits until the last `n` or more calls that started after `since` all went to `subset`; answers the time from
 * `since` to the start of the first of that final run (every later call went there too). Throws after `limitMs`.
 */
async function settled(results: Array<{ at: number; subset: string }>, since: number, subset: string, n: number, limitMs: number): Promise<number> {
  const end = Date.now() + limitMs;
  for (;;) {
    const after = results.filter((r) => r.at >= since).sort((a, b) => a.at - b.at);
    let lastOther = -1;
    after.forEach((r, i) => {
      if (r.subset !== subset) lastOther = i;
    });
    if (after.length - 1 - lastOther >= n) return after[lastOther + 1]!.at - since;
    if (Date.now() > end) throw new Error(`no run of ${n} calls to ${subset} within ${limitMs} ms (${after.length} calls since the edit)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("rules edits on established connections", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  it("moves gray traffic from v2 to v1 and back within 1 s, on the same connection, with no failed call", async () => {
    const consumer = await mesh.consumer();
    const gray = traffic(consumer, (c) => c.invoke("sayHello", ["g"], { requestProps: { "dubbo.tag": "gray" } }));
    try {
      await settled(gray.results, 0, "v2", 20, 5000);
      const connections = mesh.proxy.downstreamCount;

      const edit = Date.now();
      writeFileSync(join(mesh.dir, "rules.yaml"), GRAY_V1);
      expect(await settled(gray.results, edit, "v1", 50, 3000)).toBeLessThan(1000);

      const back = Date.now();
      writeFileSync(join(mesh.dir, "rules.yaml"), DEMO_RULES); // the rollback: the very first configuration again
      expect(await settled(gray.results, back, "v2", 50, 3000)).toBeLessThan(1000);
      expect(mesh.proxy.downstreamCount).toBe(connections); // nothing reconnected
    } finally {
      await gray.stop();
    }
    expect(gray.failures).toEqual([]);
  });

  it("moves a weighted split (90/10 → all to v2) on an established connection within 1 s", async () => {
    const consumer = await mesh.consumer();
    const plain = traffic(consumer, (c) => c.invoke("sayHello", ["p"]));
    try {
      const edit = Date.now();
      writeFileSync(join(mesh.dir, "rules.yaml"), SPLIT_TO_V2);
      expect(await settled(plain.results, edit, "v2", 100, 3000)).toBeLessThan(1000);
    } finally {
      await plain.stop();
      writeFileSync(join(mesh.dir, "rules.yaml"), DEMO_RULES);
    }
    expect(plain.failures).toEqual([]);
  });
});
