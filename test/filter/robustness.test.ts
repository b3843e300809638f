// The filter never traps, whatever the bytes: mutated frames (seeded, reproducible) go through the host,
// and the filter either passes whole frames or closes the connection. Mutated configurations are either
// accepted or rejected with a message, never a trap.
import { describe, expect, it } from "vitest";
import { WasmVmError } from "../../proxy/host/index.js";
import { fixtureBytes, readFixtureIndex } from "../../dev/fixtures.js";
import { prng } from "../support/prng.js";
import { heartbeatFrame, requestFrame, splitFrames } from "../../dev/dubbo-frames.js";
import { baseConfig, connect, startFilter } from "./filter-vm.js";

const captured = readFixtureIndex()
  .peers.filter((p) => p.direction === "consumer-to-provider" && !p.file.includes("long-string"))
  .map((p) => fixtureBytes(p.file));
const seeds: Buffer[] = [
  ...captured,
  requestFrame({ id: 1, method: "$invoke", types: "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;", args: ["sayHello", ["java.lang.String"], ["x"]] }),
  requestFrame({ id: 2, args: [1, 2.5, true, null, [1, 2], { a: 1 }], types: "IDZLjava/lang/Object;Ljava/util/List;Ljava/util/Map;" }),
  heartbeatFrame(3),
];

function mutate(frame: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(frame);
  switch (Math.floor(rnd() * 5)) {
    case 0: {
      // Flip a few body bytes.
      const n = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < n && b.length > 16; i++) b[16 + Math.floor(rnd() * (b.length - 16))] = Math.floor(rnd() * 256);
      return b;
    }
    case 1: {
      // Truncate the body and fix the header's length so the frame is "complete".
      const cut = 16 + Math.floor(rnd() * (b.length - 16));
      const t = b.subarray(0, cut);
      t.writeInt32BE(cut - 16, 12);
      return Buffer.from(t);
    }
    case 2: {
      // A wrong body length (the stream goes out of step).
      b.writeInt32BE(Math.floor(rnd() * 2 ** 31) - (rnd() < 0.3 ? 2 ** 31 : 0), 12);
      return b;
    }
    case 3: {
      // Flags and status bytes at random.
      b[2] = Math.floor(rnd() * 256);
      b[3] = Math.floor(rnd() * 256);
      return b;
    }
    default:
      // Valid frame followed by garbage.
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)))]);
  }
}

describe("robustness", () => {
  it("never traps on mutated frames, and forwards only whole frames", async () => {
    const vm = await startFilter({ ...baseConfig(), maxBodyBytes: 1 << 20 });
    const rnd = prng(20261122);
    let closedCount = 0;
    for (let round = 0; round < 300; round++) {
      const conn = connect(vm);
      const parts: Buffer[] = [];
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) {
        const seed = seeds[Math.floor(rnd() * seeds.length)];
        parts.push(rnd() < 0.6 ? mutate(seed, rnd) : seed);
      }
      const bytes = Buffer.concat(parts);
      const forwarded: Buffer[] = [];
      let closed = false;
      for (let pos = 0; pos < bytes.length && !closed; ) {
        const n = 1 + Math.floor(rnd() * 300);
        const r = conn.downstreamData(bytes.subarray(pos, pos + n));
        expect(r.failed, `round ${round}`).toBe(false);
        forwarded.push(Buffer.from(r.forwarded));
        closed = r.closed;
        pos += n;
      }
      if (closed) closedCount++;
      expect(() => splitFrames(Buffer.concat(forwarded)), `round ${round}`).not.toThrow();
      conn.done();
    }
    expect(vm.traps).toBe(0);
    // The mutations do hit the error paths.
    expect(closedCount).toBeGreaterThan(30);
  });

  it("never traps on mutated configurations: each is accepted or rejected with a message", async () => {
    const text = JSON.stringify(baseConfig());
    const rnd = prng(7);
    const alphabet = '{}[]":,0123456789-.eE tfnrua\\*';
    let rejected = 0;
    for (let i = 0; i < 60; i++) {
      const chars = [...text];
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(rnd() * chars.length);
        const op = rnd();
        if (op < 0.4) chars[at] = alphabet[Math.floor(rnd() * alphabet.length)];
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[Math.floor(rnd() * alphabet.length)]);
      }
      try {
        await startFilter(chars.join(""));
      } catch (e) {
        expect(e).toBeInstanceOf(WasmVmError);
        expect((e as Error).message).toMatch(/dubbo-mesh: invalid plugin configuration: \S/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(30);
  });
});
