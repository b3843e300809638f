// The rewritten requests in Java's eyes: Caucho's reference Hessian 2 (Debian libhessian-java, what Java
// Dubbo's decoding is derived from) decodes each request the filter rewrote to exactly the original request
// plus the route attachment. Needs Java 17+ (java on PATH) and /usr/share/java/hessian.jar.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { fixtureBytes, readFixtureIndex } from "../../dev/fixtures.js";
import { requestFrame, splitFrames } from "../../dev/dubbo-frames.js";
import { connect, startFilter } from "./filter-vm.js";

const HESSIAN_JAR = "/usr/share/java/hessian.jar";
const CHECKER = join(packageRoot, "test", "filter", "RewriteCheck.java");
const ATTACHMENT = "x-dubbo-mesh-cluster";

interface JavaView {
  event?: boolean;
  dubboVersion?: string;
  service?: string;
  version?: string;
  method?: string;
  types?: string;
  args?: unknown[];
  attachments?: Record<string, unknown>;
  rest?: number;
}

/** Decodes a stream of frames with Caucho Hessian (RewriteCheck.java), one object per frame. */
function decodeWithJava(stream: Buffer): JavaView[] {
  if (!existsSync(HESSIAN_JAR)) throw new Error(`${HESSIAN_JAR} is missing: install Debian's libhessian-java (apt-get install libhessian-java)`);
  const r = spawnSync("java", ["--add-opens", "java.base/java.lang=ALL-UNNAMED", "-cp", HESSIAN_JAR, CHECKER], {
    input: stream,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`cannot run java: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`RewriteCheck failed (${r.status}): ${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as JavaView);
}

describe("rewritten requests decoded by Java (Caucho Hessian 2)", () => {
  it("equal the original requests plus the route attachment", async () => {
    const originals = [
      ...readFixtureIndex()
        .peers.filter((p) => p.direction === "consumer-to-provider")
        .map((p) => fixtureBytes(p.file)),
      requestFrame({ id: 70, attachments: { [ATTACHMENT]: "client-choice", a: "1" } }),
      requestFrame({ id: 71, args: ["\u00e9\u4e16\ud83d\ude00".repeat(400)], attachments: { "k\u00e9y": "v\u00e4lue" } }),
      requestFrame({ id: 72, args: [1, true, 2.5, ["x", "y"]], types: "IZDLjava/util/List;" }),
    ];
    const vm = await startFilter({ version: 1, maxBodyBytes: 1 << 20, services: [{ interface: "*", defaultCluster: "outbound|20880|v2|java.check" }] });
    const r = connect(vm).downstreamData(Buffer.concat(originals));
    const rewritten = splitFrames(r.forwarded);
    expect(rewritten).toHaveLength(originals.length);

    const java = decodeWithJava(Buffer.concat([...originals, ...rewritten]));
    expect(java).toHaveLength(2 * originals.length);
    const before = java.slice(0, originals.length);
    const after = java.slice(originals.length);
    let requests = 0;
    before.forEach((b, i) => {
      if (b.event) {
        expect(after[i]).toEqual(b);
        return;
      }
      requests++;
      expect(b.rest).toBe(0);
      expect(after[i]).toEqual({ ...b, attachments: { ...b.attachments, [ATTACHMENT]: "outbound|20880|v2|java.check" } });
    });
    expect(requests).toBeGreaterThanOrEqual(10);
  });
});
