/**
 * `dubbo-mesh decode [FILE|-]`: a raw Dubbo byte stream in, one JSON object per frame out, decoded by
 * the compiled filter (build/dubbo_filter.wasm) through its codec exports (assembly/codec-api.ts).
 *
 * This file also holds WasmCodec, the small wrapper the codec tests and benchmark use to drive those
 * exports, and instantiateWithoutHost(), which satisfies the module's proxy-wasm and WASI imports with
 * stubs: the codec exports call none of them.
 */
import { readFileSync } from "node:fs";
import { filterWasmPath } from "../common/paths.js";

/** proxy-wasm's WasmResult Unimplemented: what every stubbed import answers. */
const UNIMPLEMENTED = 12;

/**
 * Instantiate a module outside any host: every function import (whatever its module and name, read
 * from WebAssembly.Module.imports) becomes a stub returning 12 (Unimplemented). Runs `_start` when
 * exported (AssemblyScript's WASI start: module-level initialisers).
 */
export function instantiateWithoutHost(module: WebAssembly.Module): WebAssembly.Instance {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") throw new Error(`cannot stub import ${imp.module}.${imp.name} of kind ${imp.kind}`);
    (imports[imp.module] ??= {})[imp.name] = () => UNIMPLEMENTED;
  }
  const instance = new WebAssembly.Instance(module, imports);
  const start = instance.exports["_start"];
  if (typeof start === "function") (start as () => void)();
  return instance;
}

interface CodecExports {
  memory: WebAssembly.Memory;
  codec_buffer(n: number): number;
  codec_scratch(n: number): number;
  codec_output(): number;
  codec_configure(maxBodyBytes: number, maxArgs: number): void;
  codec_decode(offset: number, len: number): number;
  codec_frame_length(): number;
  codec_error_offset(): number;
  codec_error_code(): number;
  codec_error_message(): number;
  codec_materialize(): number;
  codec_frame_json(): number;
  codec_encode_heartbeat_reply(id: bigint, serialization: number): number;
  codec_encode_error(id: bigint, status: number, messageLength: number): number;
  codec_rewrite(pairsLength: number): number;
  codec_hessian_skip(offset: number, len: number): number;
  codec_hessian_error(): number;
  codec_hessian_read(offset: number, len: number): number;
}

const EXPORT_NAMES: ReadonlyArray<keyof CodecExports> = [
  "memory", "codec_buffer", "codec_scratch", "codec_output", "codec_configure", "codec_decode", "codec_frame_length",
  "codec_error_offset", "codec_error_code", "codec_error_message", "codec_materialize", "codec_frame_json",
  "codec_encode_heartbeat_reply", "codec_encode_error", "codec_rewrite", "codec_hessian_skip", "codec_hessian_error",
  "codec_hessian_read",
];

/** Decode status values returned by codec_decode. */
export const NEED_MORE = 0;
export const DONE = 1;
export const ERROR = 2;

/** One decode() result. */
export type DecodeResult =
  | { status: "need-more" }
  | { status: "done"; length: number }
  | { status: "error"; message: string; offset: number };

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** The codec of the compiled filter, driven through its exports. */
export class WasmCodec {
  readonly exports: CodecExports;
  private inputLength = 0;

  constructor(module: WebAssembly.Module) {
    const instance = instantiateWithoutHost(module);
    for (const name of EXPORT_NAMES) {
      if (!(name in instance.exports)) throw new Error(`the filter module does not export ${name}; rebuild it with npm run build:wasm`);
    }
    this.exports = instance.exports as unknown as CodecExports;
  }

  /** Load the compiled filter (default: build/dubbo_filter.wasm). */
  static load(path: string = filterWasmPath): WasmCodec {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the filter module ${path} (build it with npm run build:wasm): ${(err as Error).message}`);
    }
    return new WasmCodec(new WebAssembly.Module(new Uint8Array(bytes)));
  }

  /** Current size of the module's linear memory in bytes. */
  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  configure(maxBodyBytes: number, maxArgs: number): void {
    this.exports.codec_configure(maxBodyBytes, maxArgs);
  }

  /** Copy bytes into the module's input buffer (decode() and friends then work on them). */
  setInput(bytes: Uint8Array): void {
    const ptr = this.exports.codec_buffer(bytes.length);
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes);
    this.inputLength = bytes.length;
  }

  /** Decode the frame at input[offset .. offset+len) (default: to the end of the input). */
  decodeAt(offset: number, len: number = this.inputLength - offset): DecodeResult {
    const st = this.exports.codec_decode(offset, len);
    if (st === NEED_MORE) return { status: "need-more" };
    if (st === DONE) return { status: "done", length: this.exports.codec_frame_length() };
    return { status: "error", message: this.output(this.exports.codec_error_message()), offset: this.exports.codec_error_offset() };
  }

  /** Copy `bytes` in and decode the frame at their start. */
  decode(bytes: Uint8Array): DecodeResult {
    this.setInput(bytes);
    return this.decodeAt(0, bytes.length);
  }

  /** The last decoded frame (or error) as the JSON object `dubbo-mesh decode` prints. */
  frameJson(): Record<string, unknown> {
    return JSON.parse(this.output(this.exports.codec_frame_json())) as Record<string, unknown>;
  }

  /** Decode every frame of a byte stream: the frames, and the error or leftover bytes that ended it. */
  decodeStream(bytes: Uint8Array): { frames: Record<string, unknown>[]; error?: string; errorOffset?: number } {
    this.setInput(bytes);
    const frames: Record<string, unknown>[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const r = this.decodeAt(offset);
      if (r.status === "error") {
        return { frames, error: `frame ${frames.length + 1} at stream offset ${offset}: ${r.message}`, errorOffset: offset + r.offset };
      }
      if (r.status === "need-more") {
        const want = this.exports.codec_frame_length();
        const have = bytes.length - offset;
        const what = want > 0 ? `${have} of its ${want} bytes` : `${have} of its 16 header bytes`;
        return { frames, error: `frame ${frames.length + 1} at stream offset ${offset} is truncated: the input ends after ${what}`, errorOffset: bytes.length };
      }
      frames.push(this.frameJson());
      offset += r.length;
    }
    return { frames };
  }

  /** Bytes of the last output (JSON, message or encoded frame) as UTF-8 text. */
  private output(len: number): string {
    return utf8.decode(new Uint8Array(this.exports.memory.buffer, this.exports.codec_output(), len));
  }

  /** A copy of the last encoded frame. */
  private outputBytes(len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, this.exports.codec_output(), len).slice();
  }

  private setScratch(bytes: Uint8Array): void {
    const ptr = this.exports.codec_scratch(bytes.length);
    new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes);
  }

  heartbeatReply(requestId: bigint, serialization = 2): Uint8Array {
    return this.outputBytes(this.exports.codec_encode_heartbeat_reply(requestId, serialization));
  }

  errorResponse(requestId: bigint, status: number, message: string): Uint8Array {
    const bytes = utf8Encoder.encode(message);
    this.setScratch(bytes);
    return this.outputBytes(this.exports.codec_encode_error(requestId, status, bytes.length));
  }

  /** Decode `frame` and re-encode it with the attachments set; throws when it is not a decodable request. */
  rewrite(frame: Uint8Array, attachments: Record<string, string>): Uint8Array {
    const r = this.decode(frame);
    if (r.status !== "done") throw new Error(`cannot rewrite: ${r.status === "error" ? r.message : "incomplete frame"}`);
    const pairs = Object.entries(attachments).flatMap(([k, v]) => [k, v]).join("\0");
    this.setScratch(utf8Encoder.encode(pairs));
    const n = this.exports.codec_rewrite(utf8Encoder.encode(pairs).length);
    if (n < 0) throw new Error("cannot rewrite: not a hessian2 request");
    return this.outputBytes(n);
  }

  /** Bytes taken by the Hessian value at the start of `bytes`, or an error message. */
  hessianSkip(bytes: Uint8Array): number | string {
    this.setInput(bytes);
    const n = this.exports.codec_hessian_skip(0, bytes.length);
    return n >= 0 ? n : this.output(this.exports.codec_hessian_error());
  }

  /** The Hessian value at the start of `bytes` read as {type, value, length}, or an error message. */
  hessianRead(bytes: Uint8Array): { type: string; value?: unknown; length: number } | string {
    this.setInput(bytes);
    const n = this.exports.codec_hessian_read(0, bytes.length);
    if (n < 0) return this.output(this.exports.codec_hessian_error());
    return JSON.parse(this.output(n)) as { type: string; value?: unknown; length: number };
  }
}

async function readInput(source: string): Promise<Uint8Array> {
  if (source !== "-") return readFileSync(source);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const USAGE = "usage: dubbo-mesh decode [FILE|-] [--max-body BYTES] [--args N]\n" +
  "  Reads a raw Dubbo byte stream (a file, or stdin for - or no argument) and prints one JSON object per frame.\n";

export async function main(argv: string[]): Promise<number> {
  let source = "-";
  let maxBody = 8 * 1024 * 1024;
  let maxArgs = 0;
  let sawSource = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      process.stdout.write(USAGE);
      return 0;
    }
    if (arg === "--max-body" || arg === "--args") {
      const value = argv[++i];
      const n = value === undefined ? NaN : Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
        process.stderr.write(`dubbo-mesh decode: ${arg} needs a non-negative integer, got ${value ?? "nothing"}\n${USAGE}`);
        return 2;
      }
      if (arg === "--max-body") maxBody = n;
      else maxArgs = n;
      continue;
    }
    if (sawSource || (arg.startsWith("-") && arg !== "-")) {
      process.stderr.write(`dubbo-mesh decode: unexpected argument '${arg}'\n${USAGE}`);
      return 2;
    }
    source = arg;
    sawSource = true;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readInput(source);
  } catch (err) {
    process.stderr.write(`dubbo-mesh decode: cannot read ${source}: ${(err as Error).message}\n`);
    return 1;
  }
  const codec = WasmCodec.load();
  codec.configure(maxBody, maxArgs);
  const result = codec.decodeStream(bytes);
  for (const frame of result.frames) process.stdout.write(JSON.stringify(frame) + "\n");
  if (result.error !== undefined) {
    process.stdout.write(JSON.stringify({ error: result.error, offset: result.errorOffset }) + "\n");
    process.stderr.write(`dubbo-mesh decode: invalid input: ${result.error}\n`);
    return 1;
  }
  return 0;
}
