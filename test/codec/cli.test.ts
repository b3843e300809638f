// `dubbo-mesh decode [FILE|-]` end to end: a child process running the CLI on captured streams.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { FrameStream, WasmCodec } from "../../cli/decode.js";
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

  it("refuses bad arguments (exit 2) and unreadable files (exit 1)", () => {
    const bad = run(["--args", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^dubbo-mesh decode: --args: expected an integer 0\.\.2147483647, got 'x'\n\nusage: dubbo-mesh decode \[FILE\|-\] \[OPTIONS\]/);
    expect(run([file, file]).code).toBe(2);
    const missing = run([join(dir, "nope.bin")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^dubbo-mesh decode: cannot read .*nope\.bin: ENOENT/);
  });

  it("prints each frame as soon as its last byte arrives on a pipe that stays open", async () => {
    const request = fixtureBytes("peer-request-greet-5-attachments.bin");
    const response = fixtureBytes("peer-response-greet-5-attachments.bin");
    const child = spawn(process.execPath, ["--import", "tsx", join(packageRoot, "test", "codec", "run-cli.ts"), "decode"], {
      cwd: packageRoot,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const linesSoFar = async (n: number) => {
      const end = Date.now() + 20_000;
      while (stdout.split("\n").length - 1 < n) {
        if (Date.now() > end) throw new Error(`waited for ${n} lines, have: ${JSON.stringify(stdout)} ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return lines(stdout);
    };
    try {
      child.stdin.write(request);
      expect((await linesSoFar(1))[0]).toMatchObject({ kind: "request", method: "greet" });
      // the response in two writes: one frame, printed once whole
      child.stdin.write(response.subarray(0, 20));
      child.stdin.write(response.subarray(20));
      const out = await linesSoFar(2);
      expect(out).toHaveLength(2);
      expect(out[1]).toMatchObject({ kind: "response", requestId: "2" });
      child.stdin.end();
      expect(await exited).toBe(0);
      expect(stderr).toBe("");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("FrameStream hands over each frame exactly when its last byte arrives, fed one byte at a time", () => {
    const frames: Record<string, unknown>[] = [];
    const frameStream = new FrameStream(WasmCodec.load(), (f) => frames.push(f));
    const request = fixtureBytes("peer-request-greet-5-attachments.bin").length;
    const ends = [request, request + fixtureBytes("peer-response-greet-5-attachments.bin").length, stream.length];
    for (let i = 0; i < stream.length; i++) {
      expect(frameStream.push(stream.subarray(i, i + 1))).toBeUndefined();
      expect(frames.length, `after byte ${i}`).toBe(ends.filter((e) => e <= i + 1).length);
    }
    expect(frameStream.end()).toBeUndefined();
    expect(frames.map((f) => f["kind"])).toEqual(["request", "response", "heartbeat"]);
    const cut = new FrameStream(WasmCodec.load(), () => undefined);
    expect(cut.push(stream.subarray(0, 10))).toBeUndefined();
    expect(cut.end()).toEqual({ error: "frame 1 at stream offset 0 is truncated: the input ends after 10 of its 16 header bytes", offset: 10 });
  });
});
