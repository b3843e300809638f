// A small reader of a Wasm binary's type, import, function and export sections: WebAssembly.Module.imports()
// names the imports but not their signatures, and the host (and its conformance tests) checks signatures.

import type { FuncSignature, ValType } from "./abi-signatures.js";

export type ExternKind = "function" | "table" | "memory" | "global" | "tag";

export interface ModuleImport {
  module: string;
  name: string;
  kind: ExternKind;
  /** Present for function imports. */
  signature?: FuncSignature;
}

export interface ModuleExport {
  name: string;
  kind: ExternKind;
  /** Present for function exports. */
  signature?: FuncSignature;
}

export interface ModuleInterface {
  imports: ModuleImport[];
  exports: ModuleExport[];
}

const KINDS: readonly ExternKind[] = ["function", "table", "memory", "global", "tag"];
const VALTYPES: ReadonlyMap<number, ValType> = new Map([
  [0x7f, "i32"],
  [0x7e, "i64"],
  [0x7d, "f32"],
  [0x7c, "f64"],
]);

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  fail(what: string): never {
    throw new Error(`invalid wasm binary at byte ${this.pos}: ${what}`);
  }
  byte(): number {
    if (this.pos >= this.bytes.length) this.fail("unexpected end");
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) this.fail("LEB128 u32 too long");
    }
    if (result > 0xffffffff) this.fail("LEB128 u32 out of range");
    return result;
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.bytes.length) this.fail("name runs past the end");
    const s = new TextDecoder("utf-8", { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  valtype(): ValType {
    const b = this.byte();
    const t = VALTYPES.get(b);
    if (t === undefined) this.fail(`unsupported value type 0x${b.toString(16)}`);
    return t;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
  skip(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail("section runs past the end");
    this.pos += n;
  }
}

/** Reads the imports and exports of a Wasm binary with their function signatures. Throws on a malformed binary. */
export function readModuleInterface(bytes: Uint8Array): ModuleInterface {
  const r = new Reader(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  for (const m of magic) if (r.byte() !== m) r.fail("not a wasm module (bad magic)");
  if (r.byte() !== 1 || r.byte() !== 0 || r.byte() !== 0 || r.byte() !== 0) r.fail("unsupported wasm version");

  const types: FuncSignature[] = [];
  const imports: ModuleImport[] = [];
  const funcTypes: number[] = []; // the function index space: imported functions first
  const rawExports: Array<{ name: string; kind: ExternKind; index: number }> = [];

  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) r.fail(`section ${id} runs past the end`);
    switch (id) {
      case 1: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          if (r.byte() !== 0x60) r.fail("expected a function type (0x60)");
          const params: ValType[] = [];
          for (let n = r.u32(); n > 0; n--) params.push(r.valtype());
          const results: ValType[] = [];
          for (let n = r.u32(); n > 0; n--) results.push(r.valtype());
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const module = r.name();
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte] ?? r.fail(`unknown import kind ${kindByte}`);
          if (kind === "function") {
            const t = r.u32();
            const signature = types[t] ?? r.fail(`import ${module}.${name} names missing type ${t}`);
            funcTypes.push(t);
            imports.push({ module, name, kind, signature });
          } else {
            if (kind === "table") {
              r.byte();
              r.limits();
            } else if (kind === "memory") r.limits();
            else if (kind === "global") {
              r.valtype();
              r.byte();
            } else {
              r.byte();
              r.u32();
            }
            imports.push({ module, name, kind });
          }
        }
        break;
      }
      case 3: {
        for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
        break;
      }
      case 7: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte] ?? r.fail(`unknown export kind ${kindByte}`);
          rawExports.push({ name, kind, index: r.u32() });
        }
        break;
      }
      default:
        break;
    }
    r.pos = end;
  }

  const exports: ModuleExport[] = rawExports.map(({ name, kind, index }) => {
    if (kind !== "function") return { name, kind };
    const t = funcTypes[index];
    const signature = t === undefined ? undefined : types[t];
    if (signature === undefined) throw new Error(`invalid wasm binary: export ${name} names missing function ${index}`);
    return { name, kind, signature };
  });
  return { imports, exports };
}
