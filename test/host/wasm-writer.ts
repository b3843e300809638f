// A minimal Wasm binary writer for conformance tests: a module with the given function imports and exports
// (exported functions have empty bodies returning zeros), and an exported memory.

import type { FuncSignature, ValType } from "../../proxy/host/index.js";

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };
const CONST: Record<ValType, number[]> = { i32: [0x41, 0], i64: [0x42, 0], f32: [0x43, 0, 0, 0, 0], f64: [0x44, 0, 0, 0, 0, 0, 0, 0, 0] };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export interface WasmImportSpec extends FuncSignature {
  module: string;
  name: string;
}

export interface WasmExportSpec extends FuncSignature {
  name: string;
  /** The constant an exported function returns (0 unless given; must fit in 7 bits). */
  value?: number;
}

export function writeModule(imports: WasmImportSpec[], exports: WasmExportSpec[], exportMemory = true): Uint8Array {
  const types: FuncSignature[] = [...imports, ...exports];
  const typeSec = section(
    1,
    vec(types.map((t) => [0x60, ...vec(t.params.map((p) => [VALTYPE[p]])), ...vec(t.results.map((r) => [VALTYPE[r]]))])),
  );
  const importSec = section(2, vec(imports.map((imp, i) => [...name(imp.module), ...name(imp.name), 0x00, ...uleb(i)])));
  const funcSec = section(3, vec(exports.map((_, i) => uleb(imports.length + i))));
  const memSec = section(5, vec([[0x00, 1]]));
  const exportSec = section(
    7,
    vec([
      ...exports.map((e, i) => [...name(e.name), 0x00, ...uleb(imports.length + i)]),
      ...(exportMemory ? [[...name("memory"), 0x02, 0]] : []),
    ]),
  );
  const codeSec = section(
    10,
    vec(
      exports.map((e) => {
        const body = [0x00, ...e.results.flatMap((r) => [CONST[r]![0]!, e.value ?? 0, ...CONST[r]!.slice(2)]), 0x0b];
        return [...uleb(body.length), ...body];
      }),
    ),
  );
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...typeSec, ...importSec, ...funcSec, ...memSec, ...exportSec, ...codeSec]);
}
