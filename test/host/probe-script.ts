// Scripts for the probe test module (dev/test-modules/probe-source.ts): in each callback the probe asks the host
// foreign function "probe.script" for ops, runs them, and sends results back through "probe.report".
//
// Script wire format (little-endian): op u8, then
//   1 CALL    u16 import index, u8 n, n × (u8 kind, i64 value)   kind 0 literal, 1 scratch + value, 2 script + value
//             → reports the import's result as u32
//   2 RETURN  u32 value                                           ends the script; the callback returns value
//   3 TRAP                                                        executes `unreachable`
//   4 DEREF   u32 scratch offset of a pointer, u32 scratch offset of a length → reports u32 length + the bytes
//   5 SCRATCH u32 offset, u32 length                              → reports the scratch bytes
//   6 STORE   u32 scratch offset, u8 kind, i64 value              stores the (resolved) value as u32 in scratch

import { HOST_IMPORTS, WasmVm, type ForeignFunction, type WasmVmOptions } from "../../proxy/host/index.js";
import { buildTestModule } from "../../dev/test-modules/build.js";
import { PROBE_CALLBACKS } from "../../dev/test-modules/probe-source.js";

export const CB = PROBE_CALLBACKS;
export type CallbackName = keyof typeof PROBE_CALLBACKS;
const CB_NAMES = new Map<number, CallbackName>(Object.entries(PROBE_CALLBACKS).map(([k, v]) => [v, k as CallbackName]));

type Arg = number | bigint | { scratch: number } | { data: Uint8Array | string };

export const scratch = (offset: number): Arg => ({ scratch: offset });
export const data = (bytes: Uint8Array | string): Arg => ({ data: bytes });

type ReportItem = { kind: "status"; name: string } | { kind: "deref" } | { kind: "scratch"; length: number };

export class Script {
  private readonly ops: Array<(offsetOfData: (i: number) => number) => number[]> = [];
  private readonly blobs: Uint8Array[] = [];
  readonly items: ReportItem[] = [];

  /** Calls `module.name` (module defaults to env) with the given arguments. */
  call(name: string, ...args: Arg[]): this {
    const [module, fn] = name.includes(".") ? name.split(".", 2) as [string, string] : ["env", name];
    const index = HOST_IMPORTS.findIndex((s) => s.module === module && s.name === fn);
    if (index < 0) throw new Error(`no host import ${module}.${fn}`);
    const sig = HOST_IMPORTS[index]!;
    if (sig.params.length !== args.length) throw new Error(`${name} takes ${sig.params.length} arguments, got ${args.length}`);
    const encoded = args.map((a) => this.encodeArg(a));
    this.ops.push((dataOffset) => {
      const out = [1, index & 0xff, index >> 8, encoded.length];
      for (const e of encoded) {
        const v = "blob" in e ? BigInt(dataOffset(e.blob!)) : e.value!;
        out.push(e.kind, ...i64(v));
      }
      return out;
    });
    this.items.push({ kind: "status", name });
    return this;
  }

  /** Stores an argument (a literal, or a resolved scratch/script-data address) as u32 at scratch[offset]. */
  store(offset: number, arg: Arg): this {
    const e = this.encodeArg(arg);
    this.ops.push((dataOffset) => [6, ...u32(offset), e.kind, ...i64("blob" in e ? BigInt(dataOffset(e.blob!)) : e.value!)]);
    return this;
  }

  private encodeArg(a: Arg): { kind: number; value?: bigint; blob?: number } {
    if (typeof a === "number" || typeof a === "bigint") return { kind: 0, value: BigInt(a) };
    if ("scratch" in a) return { kind: 1, value: BigInt(a.scratch) };
    const bytes = typeof a.data === "string" ? new TextEncoder().encode(a.data) : a.data;
    this.blobs.push(bytes);
    return { kind: 2, blob: this.blobs.length - 1 };
  }

  ret(value: number): this {
    this.ops.push(() => [2, ...u32(value)]);
    return this;
  }

  trap(): this {
    this.ops.push(() => [3]);
    return this;
  }

  /** Reports the bytes at the pointer stored at scratch[ptrOffset] with the length at scratch[lenOffset]. */
  deref(ptrOffset: number, lenOffset: number): this {
    this.ops.push(() => [4, ...u32(ptrOffset), ...u32(lenOffset)]);
    this.items.push({ kind: "deref" });
    return this;
  }

  /** Reports `length` scratch bytes from `offset`. */
  scratch(offset: number, length: number): this {
    this.ops.push(() => [5, ...u32(offset), ...u32(length)]);
    this.items.push({ kind: "scratch", length });
    return this;
  }

  encode(): Uint8Array {
    const sizes = this.ops.map((op) => op(() => 0).length);
    const opsLength = sizes.reduce((a, b) => a + b, 0) + 1; // + the 0 terminator
    const blobOffsets: number[] = [];
    let off = opsLength;
    for (const b of this.blobs) {
      blobOffsets.push(off);
      off += b.length;
    }
    const out: number[] = [];
    for (const op of this.ops) out.push(...op((i) => blobOffsets[i]!));
    out.push(0);
    for (const b of this.blobs) out.push(...b);
    return Uint8Array.from(out);
  }

  /** Splits a report into statuses (by call), dereferenced bytes and scratch bytes, in script order. */
  parse(report: Uint8Array): Array<number | Uint8Array> {
    const dv = new DataView(report.buffer, report.byteOffset, report.byteLength);
    const out: Array<number | Uint8Array> = [];
    let p = 0;
    for (const item of this.items) {
      if (item.kind === "status") {
        out.push(dv.getUint32(p, true));
        p += 4;
      } else if (item.kind === "deref") {
        const len = dv.getUint32(p, true);
        out.push(report.slice(p + 4, p + 4 + len));
        p += 4 + len;
      } else {
        out.push(report.slice(p, p + item.length));
        p += item.length;
      }
    }
    return out;
  }
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function i64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return [...b];
}

export const script = (): Script => new Script();

export interface CallbackEvent {
  cb: CallbackName;
  context: number;
  a: number;
  b: number;
}

/**
 * A probe VM whose callbacks are driven by `plan`: given a callback event, return a Script (or nothing for the
 * default behaviour). Every event is recorded in `events`; each script's report lands in `reports` (parsed).
 */
export async function probeVm(
  plan: (e: CallbackEvent) => Script | undefined,
  options: Partial<WasmVmOptions> = {},
): Promise<{ vm: WasmVm; events: CallbackEvent[]; reports: Array<Array<number | Uint8Array>> }> {
  const events: CallbackEvent[] = [];
  const reports: Array<Array<number | Uint8Array>> = [];
  let last: Script | undefined;
  const scriptFn: ForeignFunction = (args) => {
    const dv = new DataView(args.buffer, args.byteOffset, args.byteLength);
    const e: CallbackEvent = {
      cb: CB_NAMES.get(dv.getUint32(0, true))!,
      context: dv.getUint32(4, true),
      a: dv.getUint32(8, true),
      b: dv.getUint32(12, true),
    };
    events.push(e);
    last = plan(e);
    return last?.encode();
  };
  const reportFn: ForeignFunction = (args) => {
    reports.push(last!.parse(args.slice()));
  };
  const vm = await WasmVm.create({
    wasm: await buildTestModule("probe"),
    timers: false,
    ...options,
    foreignFunctions: { ...options.foreignFunctions, "probe.script": scriptFn, "probe.report": reportFn },
  });
  return { vm, events, reports };
}
