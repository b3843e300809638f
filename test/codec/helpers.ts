// Shared helpers of the codec tests: the compiled filter's codec (through its wasm exports), the
// fixtures and their index, and independent decoders (hessian.js DecoderV2) to compare against.
import { createRequire } from "node:module";
import { WasmCodec } from "../../cli/decode.js";
import { readFixtureIndex } from "../../dev/fixtures.js";

const require = createRequire(import.meta.url);

export interface HessianDecoder {
  read(): unknown;
  readString(): string;
  byteBuffer: { position(): number };
}
export const hessian = require("hessian.js") as {
  DecoderV2: new (buf: Buffer) => HessianDecoder;
  EncoderV2: new () => { write(v: unknown): unknown; get(): Buffer };
};

// The fixture files and their index (dev/fixtures.ts, shared with the filter tests and
// scripts/capture-fixtures.ts, which writes them).
export { fixtureBytes, fixturesDir, type HessianFixture, type PeerFixture } from "../../dev/fixtures.js";

export const fixtureIndex = readFixtureIndex();

/** A fresh instance of the compiled filter's codec (build/dubbo_filter.wasm). */
export function loadCodec(): WasmCodec {
  return WasmCodec.load();
}

/** A small deterministic PRNG (mulberry32) for seeded tests (test/support/prng.ts). */
export { prng } from "../support/prng.js";

/** Count JVM descriptor entries independently of the codec (as dubbo-remoting's desc2classArray does). */
export function descriptorCount(desc: string): number {
  return desc.match(/\[*(L[^;]*;|[VZBCDFIJS])/g)?.length ?? 0;
}

/** Decode a request body with hessian.js: the five strings, the arguments, the attachments map. */
export function decodeRequestBody(frame: Buffer): { dubboVersion: string; service: string; version: string; method: string; parameterTypes: string; args: unknown[]; attachments: Record<string, unknown> } {
  const d = new hessian.DecoderV2(frame.subarray(16));
  const dubboVersion = d.read() as string;
  const service = d.read() as string;
  const version = d.read() as string;
  const method = d.read() as string;
  const parameterTypes = d.read() as string;
  const args: unknown[] = [];
  for (let i = 0; i < descriptorCount(parameterTypes); i++) args.push(d.read());
  const attachments = d.read() as Record<string, unknown>;
  return { dubboVersion, service, version, method, parameterTypes, args, attachments };
}
