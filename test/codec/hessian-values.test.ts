// Hessian 2 values written by hessian.js EncoderV2 (test/fixtures/hessian-*.bin): the .wasm skips each
// one exactly, reads the scalar kinds and string maps as hessian.js does, and rejects every prefix.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { fixtureBytes, fixtureIndex, hessian, loadCodec, prng } from "./helpers.js";

const codec = loadCodec();

function reference(bytes: Buffer): unknown {
  return new hessian.DecoderV2(bytes).read();
}

describe("hessian.js values", () => {
  it("covers the grammar's value forms", () => {
    // fixture → its lead byte: the forms hessian.js writes (U/W lists, 0x20-0x2f binaries, reserved
    // bytes and the rest are covered by the hand-made table in hand-made.test.ts).
    const leads: Record<string, number> = {
      "hessian-null.bin": 0x4e, "hessian-true.bin": 0x54, "hessian-false.bin": 0x46,
      "hessian-int-compact.bin": 0x97, "hessian-int-2byte.bin": 0xcf, "hessian-int-3byte.bin": 0xd0, "hessian-int-4byte.bin": 0x49,
      "hessian-long-compact.bin": 0xe5, "hessian-long-2byte.bin": 0xf0, "hessian-long-3byte.bin": 0x3f, "hessian-long-4byte.bin": 0x59, "hessian-long-8byte.bin": 0x4c,
      "hessian-double-zero.bin": 0x5b, "hessian-double-one.bin": 0x5c, "hessian-double-byte.bin": 0x5d, "hessian-double-short.bin": 0x5e,
      "hessian-double-milli.bin": 0x5f, "hessian-double-8byte.bin": 0x44, "hessian-date-ms.bin": 0x4a, "hessian-date-minutes.bin": 0x4b,
      "hessian-string-short.bin": 0x05, "hessian-string-medium.bin": 0x32, "hessian-string-long-final.bin": 0x53, "hessian-string-chunked.bin": 0x52,
      "hessian-binary-short.bin": 0x23, "hessian-binary-medium.bin": 0x36, "hessian-binary-chunked.bin": 0x41,
      "hessian-list-untyped.bin": 0x7d, "hessian-list-long.bin": 0x58, "hessian-list-typed-int.bin": 0x73, "hessian-list-typed-fixed.bin": 0x56,
      "hessian-map-untyped.bin": 0x48, "hessian-map-typed.bin": 0x4d, "hessian-object.bin": 0x43, "hessian-objects-shared-class.bin": 0x7b,
    };
    for (const [file, lead] of Object.entries(leads)) expect([file, fixtureBytes(file)[0]]).toEqual([file, lead]);
    // a back-reference 'Q' and type references inside
    expect(fixtureBytes("hessian-object-refs.bin").at(-2)).toBe(0x51);
    expect(fixtureBytes("hessian-list-type-refs.bin").includes(Buffer.from([0x71, 0x90]))).toBe(true);
  });

  for (const fx of fixtureIndex.hessian) {
    it(`skips ${fx.file} (${fx.description}) exactly and refuses every prefix`, () => {
      const bytes = fixtureBytes(fx.file);
      expect(codec.hessianSkip(bytes)).toBe(bytes.length);
      // With trailing bytes the value still ends where it ends.
      expect(codec.hessianSkip(Buffer.concat([bytes, Buffer.from([0x4e, 0x4e])]))).toBe(bytes.length);
      const step = bytes.length > 2000 ? 97 : 1;
      for (let n = 0; n < bytes.length; n += step) {
        const r = codec.hessianSkip(bytes.subarray(0, n));
        if (typeof r !== "string") throw new Error(`prefix ${n}/${bytes.length} of ${fx.file} skipped as ${r} bytes`);
        expect(r).toMatch(/past the end|exceeds the bytes left/);
      }
    });

    it(`reads ${fx.file} as hessian.js does`, () => {
      const bytes = fixtureBytes(fx.file);
      const ref = reference(bytes);
      const got = codec.hessianRead(bytes);
      if (typeof got === "string") throw new Error(got);
      expect(got.length).toBe(bytes.length);
      switch (got.type) {
        case "null": expect(ref).toBeNull(); break;
        case "bool": expect(got.value).toBe(ref); break;
        case "int": expect(got.value).toBe(ref); break;
        case "long": expect(BigInt(got.value as string)).toBe(BigInt(ref as number)); break;
        case "double": expect(got.value).toBe(ref); break;
        case "string": expect(got.value).toBe(ref); break;
        case "map": expect(got.value).toEqual(ref); break;
        default:
          // dates, binaries, lists, objects and maps with non-string values are skipped, not read
          expect(typeof ref === "object" && ref !== null).toBe(true);
      }
    });
  }

  it("reads the chunked string with a surrogate pair at the chunk edge unit for unit", () => {
    const bytes = fixtureBytes("hessian-string-chunked.bin");
    expect(bytes[0]).toBe(0x52); // 'R': a non-final chunk
    const got = codec.hessianRead(bytes);
    if (typeof got === "string") throw new Error(got);
    expect(got.value).toBe("a".repeat(32767) + "😀" + "b".repeat(40000));
  });

  it("reads strings written by hessian.js for random text including lone surrogates (seeded)", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pools = [[0x20, 0x7e], [0x80, 0x7ff], [0x800, 0xd7ff], [0xd800, 0xdfff], [0xe000, 0xffff]] as const;
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rnd() * (i % 10 === 0 ? 3000 : 40));
      let s = "";
      for (let k = 0; k < len; k++) {
        const [lo, hi] = pools[Math.floor(rnd() * pools.length)]!;
        s += String.fromCharCode(lo + Math.floor(rnd() * (hi - lo + 1)));
      }
      const enc = new hessian.EncoderV2();
      enc.write(s);
      const bytes = enc.get();
      const got = codec.hessianRead(bytes);
      if (typeof got === "string") throw new Error(got);
      expect(got).toEqual({ type: "string", value: s, length: bytes.length });
    }
  });
});

describe("random values written by hessian.js (seeded)", () => {
  const require = createRequire(import.meta.url);
  const java = require("js-to-java") as ((cls: string, v: unknown) => unknown) & {
    Long(v: number | string): unknown;
    double(v: number): unknown;
    array: ((cls: string, v: unknown[]) => unknown) & { int(v: number[]): unknown };
  };

  function randomValue(rnd: () => number, depth: number, shared: unknown[]): unknown {
    const pick = (n: number) => Math.floor(rnd() * n);
    const leaf = depth >= 4 || rnd() < 0.45;
    const kind = leaf ? pick(9) : 9 + pick(6);
    switch (kind) {
      case 0: return null;
      case 1: return rnd() < 0.5;
      case 2: return pick(2 ** 31) - 2 ** 30; // ints of every size
      case 3: return [0, 7, -16, 47, 48, -2048, 2047, 2048, -262144, 262143, 262144][pick(11)];
      case 4: return java.Long([0, -8, 15, 16, -2048, 2047, 2048, -262144, 262143, 2 ** 31 - 1, -(2 ** 31), 2 ** 40][pick(12)]!);
      case 5: return java.double([0, 1, -128, 127, -32768, 32767, 1.5, 12.25, 3.141592653589793, 1e300][pick(10)]!);
      case 6: {
        const len = [0, 1, 5, 31, 32, 100, 1023, 1024, 3000][pick(9)]!;
        let s = "";
        for (let i = 0; i < len; i++) s += rnd() < 0.8 ? String.fromCharCode(0x20 + pick(95)) : ["é", "世", "😀", "\u0000", "\ud800"][pick(5)]!;
        return s;
      }
      case 7: return Buffer.alloc([0, 3, 15, 16, 1023, 1024, 5000][pick(7)]!, pick(256));
      case 8: return new Date(1_700_000_000_000 + pick(2 ** 30) * (rnd() < 0.5 ? 60_000 : 1));
      case 9: return Array.from({ length: pick(10) }, () => randomValue(rnd, depth + 1, shared));
      case 10: {
        const o: Record<string, unknown> = {};
        for (let i = pick(6); i > 0; i--) o[`k${pick(20)}`] = randomValue(rnd, depth + 1, shared);
        return o;
      }
      case 11: {
        // class instances: few class names and field sets, so definitions are reused
        const cls = `com.example.C${pick(3)}`;
        const fields: Record<string, unknown> = {};
        for (const f of ["a", "b", "c"].slice(0, 1 + (Number(cls.at(-1)) % 3))) fields[f] = randomValue(rnd, depth + 1, shared);
        const obj = java(cls, fields);
        shared.push(obj);
        return obj;
      }
      case 12: return shared.length > 0 ? shared[pick(shared.length)] : null; // same object again: a back-reference
      case 13: return java.array.int(Array.from({ length: pick(12) }, () => pick(1000)));
      default: return java.array("java.lang.String", Array.from({ length: pick(12) }, () => `s${pick(100)}`));
    }
  }

  it("skips 2000 random nested values exactly as hessian.js wrote them", () => {
    const rnd = prng(2024);
    for (let i = 0; i < 2000; i++) {
      const shared: unknown[] = [];
      const value = [randomValue(rnd, 0, shared), randomValue(rnd, 0, shared)]; // a list of two: refs may cross
      const enc = new hessian.EncoderV2();
      enc.write(value);
      const bytes = enc.get();
      const n = codec.hessianSkip(bytes);
      if (n !== bytes.length) throw new Error(`value ${i}: skipped ${String(n)} of ${bytes.length} bytes: ${bytes.toString("hex").slice(0, 400)}`);
    }
  });
});
