/**
 * `dubbo-mesh decode [FILE|-]`: a raw Dubbo byte stream in, one JSON object per frame out as soon as the
 * frame's last byte has arrived, decoded by the compiled filter (build/dubbo_filter.wasm) through its codec
 * exports (assembly/codec-api.ts).
 *
 * This file also holds WasmCodec, the small wrapper the codec tests and benchmark use to drive those
 * exports, and instantiateWithoutHost(), which satisfies the module's proxy-wasm and WASI imports with
 * stubs: the codec exports call none of them.
 */
import { createReadStream, readFileSync } from "node:fs";
import type { Args } from "./args.js";
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
      throw new Error(`cannot read the filter module ${path} (build it with npm run build:wasm): ${(err as Error).message}`, { cause: err });
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
    const frames: Record<string, unknown>[] = [];
    const stream = new FrameStream(this, (f) => frames.push(f));
    const problem = stream.push(bytes) ?? stream.end();
    return problem ? { frames, error: problem.error, errorOffset: problem.offset } : { frames };
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

/** Why a stream stopped decoding: the message, and the stream offset of the bad or missing bytes. */
export interface StreamProblem {
  error: string;
  offset: number;
}

/**
 * A Dubbo byte stream fed in pieces (as a pipe delivers them): each frame goes to `onFrame` as soon as its
 * last byte arrives. Bytes of an unfinished frame are kept until the frame's length (known from its header)
 * has arrived, so a large frame is decoded once, not once per piece.
 */
export class FrameStream {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Stream offset of the first buffered byte. */
  private offset = 0;
  private frames = 0;
  /** Bytes the next decode needs: the whole frame once its header has given its length, else 0. */
  private needed = 0;
  private failed: StreamProblem | undefined;

  constructor(
    private readonly codec: WasmCodec,
    private readonly onFrame: (frame: Record<string, unknown>) => void,
  ) {}

  /** Adds bytes and decodes the frames they complete; the problem that ends the stream, if any. */
  push(chunk: Uint8Array): StreamProblem | undefined {
    if (this.failed) return this.failed;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return undefined;
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.codec.setInput(bytes);
    let at = 0;
    while (at < bytes.length) {
      const r = this.codec.decodeAt(at);
      if (r.status === "error") {
        this.failed = { error: `frame ${this.frames + 1} at stream offset ${this.offset + at}: ${r.message}`, offset: this.offset + at + r.offset };
        return this.failed;
      }
      if (r.status === "need-more") {
        this.needed = this.codec.exports.codec_frame_length();
        break;
      }
      this.frames++;
      this.onFrame(this.codec.frameJson());
      at += r.length;
      this.needed = 0;
    }
    const rest = bytes.subarray(at);
    this.chunks = rest.length > 0 ? [rest.slice()] : [];
    this.buffered = rest.length;
    this.offset += at;
    return undefined;
  }

  /** The end of the stream: a problem when it stopped inside a frame. */
  end(): StreamProblem | undefined {
    if (this.failed || this.buffered === 0) return this.failed;
    const want = this.needed > 0 ? `${this.buffered} of its ${this.needed} bytes` : `${this.buffered} of its 16 header bytes`;
    return {
      error: `frame ${this.frames + 1} at stream offset ${this.offset} is truncated: the input ends after ${want}`,
      offset: this.offset + this.buffered,
    };
  }
}

/** Writes each frame of `input` as one JSON line as soon as it completes; the problem that ended the input, if any. */
export async function decodeToLines(
  codec: WasmCodec,
  input: AsyncIterable<Uint8Array>,
  out: (line: string) => void,
): Promise<StreamProblem | undefined> {
  const stream = new FrameStream(codec, (frame) => out(JSON.stringify(frame) + "\n"));
  for await (const chunk of input) {
    const problem = stream.push(chunk);
    if (problem) return problem;
  }
  return stream.end();
}

export async function run(args: Args): Promise<number> {
  const source = args.positionals[0] ?? "-";
  const maxBody = args.integer("max-body", 0, 0x7fffffff, 8 * 1024 * 1024);
  const maxArgs = args.integer("args", 0, 0x7fffffff, 0);
  const codec = WasmCodec.load();
  codec.configure(maxBody, maxArgs);
  let input: AsyncIterable<Uint8Array> = process.stdin;
  if (source !== "-") {
    const file = createReadStream(source);
    // Open errors (a missing file) come before the first chunk; report them as unreadable input.
    await new Promise<void>((resolve, reject) => file.once("open", () => resolve()).once("error", reject)).catch((err: Error) => {
      throw new Error(`cannot read ${source}: ${err.message}`);
    });
    input = file;
  }
  const problem = await decodeToLines(codec, input, (line) => process.stdout.write(line));
  if (problem) {
    process.stdout.write(JSON.stringify({ error: problem.error, offset: problem.offset }) + "\n");
    process.stderr.write(`dubbo-mesh decode: invalid input: ${problem.error}\n`);
    return 1;
  }
  return 0;
}
