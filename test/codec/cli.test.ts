// `dubbo-mesh decode [FILE|-]` end to end: a child process running the CLI on captured streams.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { fixtureBytes } from "./helpers.js";

function run(args: string[], input?: Buffer): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(packageRoot, "test", "codec", "run-cli.ts"), "decode", ...args], {
    cwd: packageRoot,
    input,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (text: string) => text.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);

describe("dubbo-mesh decode", () => {
  const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-decode-"));
  const stream = Buffer.concat([
    fixtureBytes("peer-request-greet-5-attachments.bin"),
    fixtureBytes("peer-response-greet-5-attachments.bin"),
    fixtureBytes("peer-heartbeat-request.bin"),
  ]);
  const file = join(dir, "stream.bin");
  writeFileSync(file, stream);

  it("prints one JSON object per frame of a file", () => {
    const r = run([file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({
      kind: "request", requestId: "2", twoWay: true, serialization: 2, dubboVersion: "5.3.0",
      service: "org.apache.dubbo.demo.DemoService", version: "1.0.0", group: "blue", method: "greet",
      parameterTypes: "Ljava/lang/String;I", argCount: 2,
      attachments: {
        dubbo: "5.3.0", "dubbo.tag": "gray", group: "blue", path: "org.apache.dubbo.demo.DemoService",
        "remote.application": "demo-consumer", timeout: "3000", traceid: "3f2a9c1e-77b0-4f7e-9a51-0c0ffee00001",
        user: "u-1001", version: "1.0.0",
      },
      bodyLength: fixtureBytes("peer-request-greet-5-attachments.bin").length - 16,
    });
    expect(out[1]).toMatchObject({ kind: "response", requestId: "2", status: 20, responseFlag: 1 });
    expect(out[2]).toMatchObject({ kind: "heartbeat", requestId: "1234567" });
  });

  it("reads stdin for - and records arguments with --args", () => {
    const r = run(["-", "--args", "2"], stream);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)[0]).toMatchObject({ method: "greet", arguments: ["alice", "42"] });
  });

  it("prints the frames decoded so far, then fails with a clear error on invalid input", () => {
    const bad = Buffer.concat([stream, Buffer.from("GET / HTTP/1.1\r\n\r\n")]);
    const r = run(["-"], bad);
    expect(r.code).toBe(1);
    const out = lines(r.stdout);
    expect(out).toHaveLength(4);
    expect(out[3]).toEqual({ error: `frame 4 at stream offset ${stream.length}: invalid dubbo magic 0x4745 (expected 0xdabb) at offset 0`, offset: stream.length });
    expect(r.stderr).toBe(`dubbo-mesh decode: invalid input: frame 4 at stream offset ${stream.length}: invalid dubbo magic 0x4745 (expected 0xdabb) at offset 0\n`);
  });

  it("reports a truncated last frame", () => {
    const r = run(["-"], stream.subarray(0, stream.length - 1));
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toHaveLength(3);
    expect(r.stderr).toMatch(/frame 3 at stream offset \d+ is truncated: the input ends after 16 of its 17 bytes/);
  });

  it("applies --max-body", () => {
    const r = run(["-", "--max-body", "100"], stream);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/frame 1 at stream offset 0: body length \d+ exceeds the maximum at offset 12/);
  });

  it("refuses bad arguments and unreadable files", () => {
    expect(run(["--args", "x"]).code).toBe(2);
    const missing = run([join(dir, "nope.bin")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.bin/);
  });
});
