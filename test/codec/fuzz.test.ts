// Seeded fuzzing of the .wasm codec with mutations of the real fixtures: no input may trap, hang or
// grow linear memory without bound. 100k+ cases when CI=true, fewer locally.
import { describe, expect, it } from "vitest";
import { fixtureBytes, fixtureIndex, loadCodec, prng } from "./helpers.js";

const CASES = process.env.CI === "true" ? 120_000 : 20_000;
const SEED = 0x5eed;
/** Linear memory may not grow past this, whatever the input. */
const MEMORY_BOUND = 32 * 1024 * 1024;

const small = (b: Buffer) => b.length <= 4096;
const frames = fixtureIndex.peers.map((p) => fixtureBytes(p.file)).filter(small);
const values = fixtureIndex.hessian.map((h) => fixtureBytes(h.file)).filter(small);

/** One random mutation of `input`. */
function mutate(input: Buffer, rnd: () => number): Buffer {
  const pick = (n: number) => Math.floor(rnd() * n);
  let b = Buffer.from(input);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : pick(b.length);
    switch (pick(9)) {
      case 0: // flip bits
        if (b.length) b[at] = b[at]! ^ (1 << pick(8));
        break;
      case 1: // random byte
        if (b.length) b[at] = pick(256);
        break;
      case 2: // interesting byte (Hessian lead bytes, lengths, markers)
        if (b.length) b[at] = [0x00, 0x1f, 0x30, 0x33, 0x41, 0x42, 0x43, 0x48, 0x49, 0x4d, 0x4e, 0x4f, 0x51, 0x52, 0x53, 0x55, 0x56, 0x57, 0x58, 0x5a, 0x60, 0x6f, 0x70, 0x78, 0x7f, 0x80, 0xbf, 0xd7, 0xff][pick(29)]!;
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(8))]);
        break;
      case 5: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))), b.subarray(at)]);
        break;
      case 6: // duplicate a range (repeats structure: nesting, refs, class defs)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + pick(32)), b.subarray(at)]);
        break;
      case 7: // splice another fixture in
        {
          const other = frames[pick(frames.length)]!;
          const from = pick(other.length);
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + pick(64)), b.subarray(at)]);
        }
        break;
      default: // big-endian extremes into a 4-byte field (body length or an 'I' operand)
        if (b.length >= 4) b.writeUInt32BE([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, b.length][pick(6)]!, pick(b.length - 3));
    }
  }
  // Keep the header's body length consistent half of the time so bodies get parsed.
  if (b.length >= 16 && rnd() < 0.5) b.writeInt32BE(b.length - 16, 12);
  return b;
}

describe("fuzz", () => {
  it(`decodes ${CASES} mutated frames without trapping, with bounded memory (seed ${SEED})`, () => {
    const codec = loadCodec();
    codec.configure(1 << 20, 3);
    const rnd = prng(SEED);
    const counts = { "need-more": 0, done: 0, error: 0 };
    for (let i = 0; i < CASES; i++) {
      const input = mutate(frames[Math.floor(rnd() * frames.length)]!, rnd);
      let r;
      try {
        r = codec.decode(input);
        if (r.status === "done") {
          expect(r.length).toBeLessThanOrEqual(input.length);
          if (i % 4 === 0) codec.frameJson(); // exercise every string getter on whatever was accepted
          if (i % 16 === 0) codec.exports.codec_materialize();
          if (i % 8 === 0) {
            // re-encode whatever request was accepted with one more attachment; it must decode again
            new Uint8Array(codec.exports.memory.buffer, codec.exports.codec_scratch(3), 3).set([0x6b, 0, 0x76]); // "k\0v"
            const n = codec.exports.codec_rewrite(3);
            if (n >= 0) {
              const out = new Uint8Array(codec.exports.memory.buffer, codec.exports.codec_output(), n).slice();
              expect(codec.decode(out)).toEqual({ status: "done", length: n });
            }
          }
        }
        if (r.status === "error" && i % 8 === 0) codec.frameJson();
      } catch (err) {
        throw new Error(`case ${i} (seed ${SEED}) trapped on ${input.toString("hex")}: ${(err as Error).message}`, { cause: err });
      }
      counts[r.status]++;
      if (i % 1024 === 0 && codec.memoryBytes() > MEMORY_BOUND) throw new Error(`memory grew to ${codec.memoryBytes()} bytes by case ${i}`);
    }
    expect(codec.memoryBytes()).toBeLessThanOrEqual(MEMORY_BOUND);
    // The mutations reach every outcome, so bodies really were parsed.
    expect(counts.done).toBeGreaterThan(CASES / 100);
    expect(counts.error).toBeGreaterThan(CASES / 10);
  });

  it(`skips ${CASES / 4} mutated Hessian values without trapping (seed ${SEED + 1})`, () => {
    const codec = loadCodec();
    const rnd = prng(SEED + 1);
    let ok = 0;
    for (let i = 0; i < CASES / 4; i++) {
      const input = mutate(values[Math.floor(rnd() * values.length)]!, rnd);
      try {
        const n = codec.hessianSkip(input);
        if (typeof n === "number") {
          expect(n).toBeLessThanOrEqual(input.length);
          ok++;
        }
        if (i % 4 === 0) codec.hessianRead(input);
      } catch (err) {
        throw new Error(`case ${i} trapped on ${input.toString("hex")}: ${(err as Error).message}`, { cause: err });
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(codec.memoryBytes()).toBeLessThanOrEqual(MEMORY_BOUND);
  });

  it("rejects deep nesting at the bound instead of exhausting the stack", () => {
    const codec = loadCodec();
    for (const lead of [0x57, 0x48, 0x79]) {
      const r = codec.hessianSkip(Buffer.alloc(100_000, lead));
      expect(r).toMatch(/nested deeper than 64 levels/);
    }
  });
});
