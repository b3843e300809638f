// Hessian 2 values written by hessian.js EncoderV2 (test/fixtures/hessian-*.bin): the .wasm skips each
// one exactly, reads the scalar kinds and string maps as hessian.js does, and rejects every prefix.
import { describe, expect, it } from "vitest";
import { fixtureBytes, fixtureIndex, hessian, loadCodec } from "./helpers.js";

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
