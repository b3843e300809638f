// Envoy's buffer model through the host: whatever the chunking, the filter passes only whole frames,
// keeps the incomplete tail itself, and never holds back a read that ends between frames.
import { describe, expect, it } from "vitest";
import { Action, LogLevel, PeerType } from "../../proxy/host/index.js";
import { decodeRequest, heartbeatFrame, header, requestFrame, splitFrames } from "../../dev/dubbo-frames.js";
import { baseConfig, connect, DEFAULT_CLUSTER, feed, logText, metric, startFilter } from "./filter-vm.js";

const ATTACHMENT = "x-dubbo-mesh-cluster";

/** A pipelined stream: requests of several sizes with heartbeats between them. */
function stream(): { bytes: Buffer; frames: Buffer[] } {
  const frames: Buffer[] = [];
  for (let i = 1; i <= 12; i++) {
    frames.push(requestFrame({ id: i, args: [`arg-${i}-${"x".repeat(i * 37)}`], attachments: { seq: String(i) } }));
    if (i % 4 === 0) frames.push(heartbeatFrame(1000 + i));
  }
  return { bytes: Buffer.concat(frames), frames };
}

/** Deterministic chunk sizes 1..max (a linear congruential sequence). */
function chunkSizes(seed: number, max: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return 1 + (s % max);
  };
}

describe("framing", () => {
  it("passes many frames of one chunk in one Continue, each request rewritten and heartbeats untouched", async () => {
    const vm = await startFilter(baseConfig());
    const { bytes, frames } = stream();
    const r = connect(vm).downstreamData(bytes);
    expect(r.action).toBe(Action.Continue);
    const out = splitFrames(r.forwarded);
    expect(out).toHaveLength(frames.length);
    out.forEach((f, i) => {
      if (frames[i][2] === 0xe2) {
        expect(f.equals(frames[i])).toBe(true);
        return;
      }
      const original = decodeRequest(frames[i]);
      const rewritten = decodeRequest(f);
      expect(rewritten).toEqual({ ...original, attachments: { ...original.attachments, [ATTACHMENT]: DEFAULT_CLUSTER } });
    });
    expect(metric(vm, "dubbo_mesh.heartbeats")).toBe(3);
    expect(metric(vm, "dubbo_mesh.requests.service.org_apache_dubbo_demo_DemoService.method.sayHello.route.default")).toBe(12);
  });

  it("in 1-byte chunks forwards only whole frames and the same bytes as in one chunk", async () => {
    const { bytes } = stream();
    const whole = connect(await startFilter(baseConfig())).downstreamData(bytes).forwarded;
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    let total = Buffer.alloc(0);
    let continues = 0;
    for (let i = 0; i < bytes.length; i++) {
      const r = conn.downstreamData(bytes.subarray(i, i + 1));
      if (r.action === Action.Pause) {
        expect(r.forwarded.length).toBe(0);
      } else {
        continues++;
        total = Buffer.concat([total, r.forwarded]);
        // Everything forwarded so far is whole frames.
        expect(() => splitFrames(total)).not.toThrow();
      }
    }
    expect(continues).toBe(splitFrames(whole).length);
    expect(total.equals(Buffer.from(whole))).toBe(true);
  });

  it("in chunks of random sizes forwards the same bytes as in one chunk", async () => {
    const { bytes } = stream();
    const whole = Buffer.from(connect(await startFilter(baseConfig())).downstreamData(bytes).forwarded);
    for (const seed of [1, 7, 99]) {
      const next = chunkSizes(seed, 700);
      const conn = connect(await startFilter(baseConfig()));
      const parts: Buffer[] = [];
      for (let pos = 0; pos < bytes.length; ) {
        const n = next();
        const r = conn.downstreamData(bytes.subarray(pos, pos + n));
        parts.push(Buffer.from(r.forwarded));
        pos += n;
      }
      expect(Buffer.concat(parts).equals(whole)).toBe(true);
    }
  });

  it("holds a partial frame with Pause and an empty buffer, then passes it whole", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    const frame = requestFrame({ id: 5 });
    const first = conn.downstreamData(frame.subarray(0, 16));
    expect(first.action).toBe(Action.Pause);
    expect(first.forwarded.length).toBe(0);
    const second = conn.downstreamData(frame.subarray(16, 40));
    expect(second.action).toBe(Action.Pause);
    const third = conn.downstreamData(frame.subarray(40));
    expect(third.action).toBe(Action.Continue);
    expect(decodeRequest(third.forwarded).attachments[ATTACHMENT]).toBe(DEFAULT_CLUSTER);
  });

  it("passes whole frames at once and keeps only the partial tail (a read that ends mid-frame)", async () => {
    const conn = connect(await startFilter(baseConfig()));
    const a = requestFrame({ id: 1 });
    const b = requestFrame({ id: 2 });
    const r1 = conn.downstreamData(Buffer.concat([a, b.subarray(0, 30)]));
    expect(r1.action).toBe(Action.Continue);
    expect(splitFrames(r1.forwarded).map((f) => decodeRequest(f).id)).toEqual([1n]);
    const r2 = conn.downstreamData(b.subarray(30));
    expect(r2.action).toBe(Action.Continue);
    expect(splitFrames(r2.forwarded).map((f) => decodeRequest(f).id)).toEqual([2n]);
  });

  it("leaves a partial frame in the host's buffer and reads nothing more of it until it is whole", async () => {
    const config = baseConfig();
    config.maxBodyBytes = 1 << 20;
    const frame = requestFrame({ id: 9, args: ["z".repeat(200_000)] });
    const conn = connect(await startFilter(config));
    const first = conn.downstreamData(frame.subarray(0, 4096));
    expect(first.action).toBe(Action.Pause);
    expect(conn.downstreamBuffered).toBe(4096); // held by the host, not copied into the module
    for (let pos = 4096; pos < frame.length - 1000; pos += 50_000) {
      expect(conn.downstreamData(frame.subarray(pos, Math.min(pos + 50_000, frame.length - 1000))).action).toBe(Action.Pause);
    }
    expect(conn.downstreamBuffered).toBe(frame.length - 1000);
    const last = conn.downstreamData(frame.subarray(frame.length - 1000));
    expect(last.action).toBe(Action.Continue);
    expect(decodeRequest(last.forwarded).id).toBe(9n);
    expect(conn.downstreamBuffered).toBe(0);
  });

  it("holds whole frames with a large partial one behind them, passing them all once it is whole", async () => {
    const config = baseConfig();
    config.maxBodyBytes = 1 << 20;
    const big = requestFrame({ id: 2, args: ["q".repeat(100_000)] });
    const conn = connect(await startFilter(config));
    const r1 = conn.downstreamData(Buffer.concat([requestFrame({ id: 1 }), big.subarray(0, 40_000)]));
    expect(r1.action).toBe(Action.Pause);
    const r2 = conn.downstreamData(Buffer.concat([big.subarray(40_000), requestFrame({ id: 3 })]));
    expect(r2.action).toBe(Action.Continue);
    expect(splitFrames(r2.forwarded).map((f) => decodeRequest(f).id)).toEqual([1n, 2n, 3n]);
  });

  it("keeps the Wasm memory bounded: 40 connections each holding a partial 7 MiB frame, then closed", async () => {
    const config = baseConfig();
    config.maxBodyBytes = 8 << 20;
    const vm = await startFilter(config);
    // Warm up: one small request through a connection.
    connect(vm).downstreamData(requestFrame({ id: 1 }));
    const before = vm.memoryBytes;
    const body = 7 << 20;
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const conns = Array.from({ length: 40 }, () => connect(vm));
    for (const conn of conns) {
      expect(conn.downstreamData(header(0xc2, 0, 7, body)).action).toBe(Action.Pause);
      for (let i = 0; i < 6; i++) expect(conn.downstreamData(chunk).action).toBe(Action.Pause);
      expect(conn.downstreamBuffered).toBe(16 + 6 * chunk.length);
    }
    const held = vm.memoryBytes;
    // Each connection's first read (the header) was read into the module; no partial body was.
    expect(held - before).toBeLessThan(1 << 20);
    for (const conn of conns) conn.closeDownstream(PeerType.Remote);
    expect(vm.memoryBytes - before).toBeLessThan(1 << 20);
    // Each unfinished frame is counted and logged as truncated when its connection closes.
    expect(metric(vm, "dubbo_mesh.truncated_frames")).toBe(40);
    expect(logText(vm)).toContain(`ended inside a frame at stream offset 0: ${16 + 6 * chunk.length} bytes of it received, dropped`);
  });

  it("with rewrite off forwards the very bytes it got, whatever the chunking", async () => {
    const config = baseConfig();
    config.rewrite = false;
    const { bytes } = stream();
    for (const chunk of [1, 13, 500, bytes.length]) {
      const r = feed(connect(await startFilter(config)), bytes, chunk);
      expect(r.forwarded.equals(bytes)).toBe(true);
    }
  });

  it("passes a large request split into 1 KiB reads", async () => {
    const config = baseConfig();
    config.maxBodyBytes = 1 << 20;
    const frame = requestFrame({ id: 9, args: ["y".repeat(300_000)] });
    const r = feed(connect(await startFilter(config)), frame, 1024);
    expect(r.calls.filter((c) => c.action === Action.Continue)).toHaveLength(1);
    const decoded = decodeRequest(r.forwarded);
    expect((decoded.args[0] as string).length).toBe(300_000);
    expect(decoded.attachments[ATTACHMENT]).toBe(DEFAULT_CLUSTER);
  });

  it("at end of stream inside a frame passes nothing partial and lets the end through", async () => {
    const vm = await startFilter(baseConfig(), { logLevel: "debug" });
    const conn = connect(vm);
    const frame = requestFrame({ id: 3 });
    const r = conn.downstreamData(frame.subarray(0, frame.length - 5), true);
    expect(r.action).toBe(Action.Continue);
    expect(r.forwarded.length).toBe(0);
    expect(logText(vm)).toContain(
      `connection ${conn.connectionId} from ${conn.source} ended inside a frame at stream offset 0: ${frame.length - 5} bytes of it received, dropped`,
    );
    expect(metric(vm, "dubbo_mesh.truncated_frames")).toBe(1);
  });

  it("closes the connection when a header announces a body over maxBodyBytes, before the body arrives", async () => {
    const vm = await startFilter(baseConfig()); // maxBodyBytes 65536
    const conn = connect(vm);
    const ok = requestFrame({ id: 1 });
    const r = conn.downstreamData(Buffer.concat([ok, header(0xc2, 0, 2, 65537)]));
    expect(r.closeDownstream).toBe(true);
    // Closed during this read: nothing of it goes on (Envoy's filter manager stops on a closed connection).
    expect(r.forwarded.length).toBe(0);
    expect(metric(vm, "dubbo_mesh.decode_errors")).toBe(1);
    expect(vm.logs(LogLevel.Warn).map((e) => e.message).join("\n")).toMatch(
      new RegExp(`malformed Dubbo frame: body length 65537 exceeds the maximum at stream offset ${ok.length + 12} \\(maxBodyBytes 65536\\); closing the connection`),
    );
    expect(conn.closed).toBe(true);
  });
});
