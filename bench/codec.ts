/**
 * Codec benchmark (`npm run bench:codec`): one JSON line comparing, side by side in one run, frames per
 * second of
 *  - wasm:          the ~1 KB request copied into the .wasm's memory and decoded there (header, every
 *                   body value validated and located, argument count, attachments indexed);
 *  - wasmStrings:   the same plus building every metadata string inside the .wasm (service, version,
 *                   method, parameter types, group, all attachment keys and values);
 *  - hessianJs:     what a JavaScript proxy would do: the header read with Buffer methods and the body
 *                   decoded with hessian.js DecoderV2 (five strings, the arguments, the attachments);
 *  - copyOnly:      the bytes copied into wasm memory and nothing parsed.
 * Ratios: wasmVsHessianJs = wasm fps / hessian.js fps (goal ≥ 3); wasmCostVsCopy = wasm time per frame /
 * copy-only time per frame (goal ≤ 2). Rounds alternate between the variants and the median is kept.
 */
import { createRequire } from "node:module";
import { WasmCodec } from "../cli/decode.js";

const require = createRequire(import.meta.url);
const hessian = require("hessian.js") as {
  EncoderV2: new () => { write(v: unknown): unknown; writeString(s: string): unknown; writeInt(n: number): unknown; get(): Buffer };
  DecoderV2: new (buf?: Buffer) => { read(): unknown; init(buf: Buffer): unknown; clean(): unknown };
};

/** The benchmark frame: a hessian2 request with 2 arguments and 5 attachments, about 1 KB. */
function benchmarkFrame(): Buffer {
  const enc = new hessian.EncoderV2();
  enc.writeString("2.0.2");
  enc.writeString("org.apache.dubbo.samples.basic.api.DemoService");
  enc.writeString("1.0.0");
  enc.writeString("sayHello");
  enc.writeString("Ljava/lang/String;I");
  enc.writeString("customer-" + "0123456789abcdef".repeat(34)); // argument 0: a string
  enc.writeInt(123456); // argument 1: an int
  enc.write({
    path: "org.apache.dubbo.samples.basic.api.DemoService",
    interface: "org.apache.dubbo.samples.basic.api.DemoService",
    version: "1.0.0",
    "dubbo.tag": "gray",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + "x".repeat(100),
  });
  const body = enc.get();
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0xdabb, 0);
  header[2] = 0xc2;
  header.writeBigUInt64BE(42n, 4);
  header.writeInt32BE(body.length, 12);
  return Buffer.concat([header, body]);
}

const frame = benchmarkFrame();
const codec = WasmCodec.load();
codec.configure(8 * 1024 * 1024, 0);
const ex = codec.exports;

let sink = 0;

function wasmDecode(n: number): void {
  const ptr = ex.codec_buffer(frame.length);
  const view = new Uint8Array(ex.memory.buffer, ptr, frame.length);
  for (let i = 0; i < n; i++) {
    view.set(frame);
    sink += ex.codec_decode(0, frame.length);
  }
}

function wasmDecodeStrings(n: number): void {
  const ptr = ex.codec_buffer(frame.length);
  let view = new Uint8Array(ex.memory.buffer, ptr, frame.length);
  for (let i = 0; i < n; i++) {
    if (view.byteLength === 0) view = new Uint8Array(ex.memory.buffer, ptr, frame.length); // memory grew
    view.set(frame);
    sink += ex.codec_decode(0, frame.length);
    sink += ex.codec_materialize();
  }
}

function copyOnly(n: number): void {
  const ptr = ex.codec_buffer(frame.length);
  const view = new Uint8Array(ex.memory.buffer, ptr, frame.length);
  for (let i = 0; i < n; i++) {
    view.set(frame);
    sink += view[(i & 1023) % frame.length]!;
  }
}

const decoder = new hessian.DecoderV2();
function hessianJs(n: number): void {
  for (let i = 0; i < n; i++) {
    const buf = frame;
    if (buf.readUInt16BE(0) !== 0xdabb) throw new Error("magic");
    const flags = buf[2]!;
    const id = buf.readBigUInt64BE(4);
    const len = buf.readInt32BE(12);
    decoder.clean();
    decoder.init(buf.subarray(16, 16 + len));
    const dubboVersion = decoder.read() as string;
    const service = decoder.read() as string;
    const version = decoder.read() as string;
    const method = decoder.read() as string;
    const desc = decoder.read() as string;
    const argCount = desc.match(/\[*(L[^;]*;|[VZBCDFIJS])/g)?.length ?? 0;
    for (let a = 0; a < argCount; a++) decoder.read();
    const attachments = decoder.read() as Record<string, string>;
    sink += flags + Number(id & 1n) + dubboVersion.length + service.length + version.length + method.length + Object.keys(attachments).length;
  }
}

function fps(fn: (n: number) => void, n: number): number {
  const t0 = process.hrtime.bigint();
  fn(n);
  const ns = Number(process.hrtime.bigint() - t0);
  return (n * 1e9) / ns;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const variants: Record<string, { fn: (n: number) => void; n: number }> = {
  wasm: { fn: wasmDecode, n: 100_000 },
  wasmStrings: { fn: wasmDecodeStrings, n: 50_000 },
  hessianJs: { fn: hessianJs, n: 20_000 },
  copyOnly: { fn: copyOnly, n: 400_000 },
};

// Check the frame decodes, then warm up every variant.
const check = codec.decode(frame);
if (check.status !== "done") throw new Error(`benchmark frame does not decode: ${JSON.stringify(check)}`);
const meta = codec.frameJson();
for (const v of Object.values(variants)) v.fn(Math.ceil(v.n / 4));

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const results: Record<string, number[]> = { wasm: [], wasmStrings: [], hessianJs: [], copyOnly: [] };
for (let r = 0; r < rounds; r++) {
  for (const [name, v] of Object.entries(variants)) results[name]!.push(fps(v.fn, v.n));
}
const m = Object.fromEntries(Object.entries(results).map(([k, xs]) => [k, Math.round(median(xs))])) as Record<string, number>;
const wasmVsHessianJs = m.wasm! / m.hessianJs!;
const wasmCostVsCopy = m.copyOnly! / m.wasm!;
process.stdout.write(JSON.stringify({
  bench: "codec",
  frameBytes: frame.length,
  args: meta.argCount,
  attachments: Object.keys(meta.attachments as object).length,
  rounds,
  framesPerSec: { wasm: m.wasm, wasmStrings: m.wasmStrings, hessianJs: m.hessianJs, copyOnly: m.copyOnly },
  wasmVsHessianJs: Number(wasmVsHessianJs.toFixed(2)),
  wasmStringsVsHessianJs: Number((m.wasmStrings! / m.hessianJs!).toFixed(2)),
  wasmCostVsCopy: Number(wasmCostVsCopy.toFixed(2)),
  goals: { wasmAtLeast3xHessianJs: wasmVsHessianJs >= 3, wasmAtMost2xCopy: wasmCostVsCopy <= 2 },
  sink: sink % 997,
}) + "\n");
