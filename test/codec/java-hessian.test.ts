// Frames checked with Caucho's reference Hessian 2 (Debian libhessian-java, what Java Dubbo builds on):
// the captured requests read the same in Java as in the .wasm, and the frames the .wasm's encoder
// writes (requests with added or replaced attachments, error responses) read as intended in Java.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { fixtureBytes, fixtureIndex, loadCodec } from "./helpers.js";

const HESSIAN_JAR = "/usr/share/java/hessian.jar";
const codec = loadCodec();
codec.configure(8 * 1024 * 1024, 0);
const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-java-"));

/** Read frames with the Java reader: one JSON object per file. */
function javaRead(frames: Uint8Array[]): Record<string, unknown>[] {
  const files = frames.map((bytes, i) => {
    const file = join(dir, `frame-${i}.bin`);
    writeFileSync(file, bytes);
    return file;
  });
  const out = execFileSync("java", [
    "--add-opens", "java.base/java.lang=ALL-UNNAMED", "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "-cp", `${HESSIAN_JAR}:${dir}`, "DubboBodyReader", ...files,
  ], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
  return out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

const requests = fixtureIndex.peers.filter((p) => p.file.startsWith("peer-request-")).map((p) => fixtureBytes(p.file));

beforeAll(() => {
  if (!existsSync(HESSIAN_JAR)) throw new Error(`${HESSIAN_JAR} is missing: install the Debian package libhessian-java (and a JDK for javac)`);
  execFileSync("javac", ["-cp", HESSIAN_JAR, "-d", dir, join(packageRoot, "test", "codec", "java", "DubboBodyReader.java")], { timeout: 60_000 });
});

describe("Caucho Hessian (Java)", () => {
  it("reads every captured request as the .wasm does", () => {
    const java = javaRead(requests);
    requests.forEach((bytes, i) => {
      codec.decode(bytes);
      const f = codec.frameJson();
      expect(java[i]).toEqual({
        dubboVersion: f.dubboVersion, service: f.service, version: f.version,
        method: f.rawMethod ?? f.method, parameterTypes: f.parameterTypes, argCount: f.argCount,
        attachments: f.attachments, bytesLeft: 0,
      });
    });
  });

  it("sees each request rewritten by the .wasm as the original plus the attachments", () => {
    const changes = { "x-dubbo-mesh-cluster": "outbound|20880|v2|demoservice.1-0-0.dubbo", "dubbo.tag": "blue 😀" };
    const rewritten = requests.map((bytes) => codec.rewrite(bytes, changes));
    const before = javaRead(requests);
    const after = javaRead(rewritten);
    after.forEach((a, i) => {
      const b = before[i]!;
      expect(a).toEqual({ ...b, attachments: { ...(b.attachments as object), ...changes } });
    });
  });

  it("reads error responses written by the .wasm", () => {
    const messages = ["no destination for org.apache.dubbo.demo.DemoService", "ünïcödé 世界 😀", "y".repeat(70000) + "😀"];
    const frames = messages.map((m, i) => codec.errorResponse(BigInt(i), 60, m));
    expect(javaRead(frames)).toEqual(messages.map((message) => ({ status: 60, message, bytesLeft: 0 })));
  });
});
