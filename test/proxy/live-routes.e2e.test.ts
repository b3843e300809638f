/**
 * Rules edits reach established connections: real sofa-rpc-node consumers keep one connection each to the proxy
 * while calling it without pause; the rules file is edited (gray rule v2 → v1, the split shifted, back again);
 * every call on those same connections follows the new rules within 1 s of the edit, and no call fails.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_RULES, type Mesh, settled, startMesh, traffic } from "./harness.js";

const GRAY_V1 = DEMO_RULES.replace("match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v2}]", "match: {attachments: {dubbo.tag: {exact: gray}}}\n      route: [{subset: v1}]");
const SPLIT_TO_V2 = DEMO_RULES.replace("route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]", "route: [{subset: v2, weight: 100}]");

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
