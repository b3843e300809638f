// Conformance of build/dubbo_filter.wasm and of the host with proxy-wasm ABI 0.2.1 as Envoy implements it:
// the module imports only what Envoy provides, with Envoy's exact signatures (read from the module's type and
// import sections), exports what a network filter must, and the host links a module that imports everything.

import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { filterWasmPath } from "../../common/paths.js";
import {
  HOST_IMPORTS,
  MODULE_EXPORTS,
  WasmResult,
  WasmVm,
  WasmVmError,
  checkModuleImports,
  formatSignature,
  hostImportSignature,
  readModuleInterface,
  sameSignature,
  type ModuleInterface,
} from "../../proxy/host/index.js";
import { buildTestModule } from "../../dev/test-modules/build.js";
import { probeVm, script } from "./probe-script.js";
import { writeModule, type WasmExportSpec } from "./wasm-writer.js";

const sig = (params: string, results: string) => ({
  params: [...params].map((c) => (c === "I" ? ("i64" as const) : ("i32" as const))),
  results: [...results].map((c) => (c === "I" ? ("i64" as const) : ("i32" as const))),
});

/** The exports a minimal network filter needs, for hand-assembled modules. */
const minimalExports: WasmExportSpec[] = MODULE_EXPORTS.filter((e) => e.required || e.name === "malloc").map((e) => ({
  name: e.name,
  params: e.params,
  results: e.results,
  value: ["proxy_on_vm_start", "proxy_on_configure", "proxy_on_done"].includes(e.name) ? 1 : 0,
}));

describe("the ABI table", () => {
  it("lists 39 proxy functions, the 2 Emscripten helpers and 45 WASI functions under both WASI module names", () => {
    const env = HOST_IMPORTS.filter((s) => s.module === "env");
    expect(env.filter((s) => s.name.startsWith("proxy_"))).toHaveLength(39);
    expect(env.filter((s) => !s.name.startsWith("proxy_")).map((s) => s.name)).toEqual(["pthread_equal", "emscripten_notify_memory_growth"]);
    const preview1 = HOST_IMPORTS.filter((s) => s.module === "wasi_snapshot_preview1");
    const unstable = HOST_IMPORTS.filter((s) => s.module === "wasi_unstable");
    expect(preview1).toHaveLength(45);
    expect(unstable.map((s) => [s.name, formatSignature(s)])).toEqual(preview1.map((s) => [s.name, formatSignature(s)]));
    expect(new Set(HOST_IMPORTS.map((s) => `${s.module}.${s.name}`)).size).toBe(HOST_IMPORTS.length);
  });

  it("has cpp-host's signatures for the calls whose shapes are easy to get wrong", () => {
    const expectSig = (module: string, name: string, s: ReturnType<typeof sig>) =>
      expect(formatSignature(hostImportSignature(module, name)!), `${module}.${name}`).toBe(formatSignature(s));
    expectSig("env", "proxy_grpc_call", sig("iiiiiiiiiiii", "i"));
    expectSig("env", "proxy_grpc_stream", sig("iiiiiiiii", "i"));
    expectSig("env", "proxy_http_call", sig("iiiiiiiiii", "i"));
    expectSig("env", "proxy_send_local_response", sig("iiiiiiii", "i"));
    expectSig("env", "proxy_increment_metric", sig("iI", "i"));
    expectSig("env", "proxy_record_metric", sig("iI", "i"));
    expectSig("env", "proxy_done", sig("", "i"));
    expectSig("env", "proxy_get_log_level", sig("i", "i"));
    expectSig("env", "proxy_call_foreign_function", sig("iiiiii", "i"));
    expectSig("wasi_snapshot_preview1", "fd_seek", sig("iIii", "i"));
    expectSig("wasi_snapshot_preview1", "clock_time_get", sig("iIi", "i"));
    expectSig("wasi_snapshot_preview1", "path_open", sig("iiiiiIIii", "i"));
    expectSig("wasi_snapshot_preview1", "proc_exit", sig("i", ""));
    expectSig("wasi_unstable", "path_symlink", sig("iiii", "i"));
    expect(hostImportSignature("env", "abort")).toBeUndefined();
    expect(hostImportSignature("env", "proxy_get_configuration")).toBeUndefined(); // ABI 0.1.0 only
  });
});

const builds = [
  ["build/dubbo_filter.wasm (release, what Envoy loads)", filterWasmPath],
  ["build/dubbo_filter.debug.wasm", filterWasmPath.replace(/\.wasm$/, ".debug.wasm")],
] as const;

describe.each(builds)("%s", (_name, path) => {
  let iface: ModuleInterface;
  beforeAll(() => {
    if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build:wasm`);
    iface = readModuleInterface(readFileSync(path));
  });

  it("imports only functions Envoy provides for ABI 0.2.1, each with Envoy's exact signature", () => {
    expect(iface.imports.length).toBeGreaterThan(0);
    for (const imp of iface.imports) {
      expect(imp.kind, `${imp.module}.${imp.name}`).toBe("function");
      const host = hostImportSignature(imp.module, imp.name);
      expect(host, `${imp.module}.${imp.name} is not provided by Envoy`).toBeDefined();
      expect(formatSignature(imp.signature!), `${imp.module}.${imp.name}`).toBe(formatSignature(host!));
    }
  });

  it("exports every callback a network filter needs, with the signatures cpp-host calls", () => {
    const exported = new Map(iface.exports.map((e) => [e.name, e]));
    for (const e of MODULE_EXPORTS) {
      const got = exported.get(e.name);
      if (e.required) expect(got, `missing export ${e.name}`).toBeDefined();
      if (got !== undefined) {
        expect(got.kind, e.name).toBe("function");
        expect(formatSignature(got.signature!), e.name).toBe(formatSignature(e));
      }
    }
    expect(exported.has("malloc") || exported.has("proxy_on_memory_allocate")).toBe(true);
    expect(exported.get("memory")?.kind).toBe("memory");
  });

  it("is read by the binary reader as WebAssembly itself reads it (names and kinds)", async () => {
    const mod = await WebAssembly.compile(readFileSync(path));
    expect(iface.imports.map((i) => [i.module, i.name, i.kind])).toEqual(WebAssembly.Module.imports(mod).map((i) => [i.module, i.name, i.kind]));
    expect(iface.exports.map((e) => [e.name, e.kind])).toEqual(WebAssembly.Module.exports(mod).map((e) => [e.name, e.kind]));
  });

  it("passes the host's own import check and is not rejected by WebAssembly", async () => {
    const bytes = readFileSync(path);
    expect(() => checkModuleImports(bytes)).not.toThrow();
    expect(WebAssembly.validate(bytes)).toBe(true);
  });
});

describe("the host's imports", () => {
  it("link a module that imports the whole ABI 0.2.1 + WASI list, with exactly the host's signatures", async () => {
    const probe = await buildTestModule("probe");
    const iface = readModuleInterface(probe);
    expect(iface.imports.map((i) => `${i.module}.${i.name} ${formatSignature(i.signature!)}`).sort()).toEqual(
      HOST_IMPORTS.map((s) => `${s.module}.${s.name} ${formatSignature(s)}`).sort(),
    );
    const vm = await WasmVm.create({ wasm: probe, timers: false });
    const conn = vm.newConnection({ source: "127.0.0.1:1", destination: "127.0.0.1:2" });
    expect(conn.newConnectionResult.failed).toBe(false);
    expect(vm.traps).toBe(0);
  });

  it("answer every import called with hostile arguments with a status, never a trap", async () => {
    const hostile = 0xfffffff0;
    const s = script();
    for (const imp of HOST_IMPORTS) {
      s.call(`${imp.module}.${imp.name}`, ...imp.params.map((p) => (p === "i64" ? -1n : hostile)));
    }
    const { vm, reports } = await probeVm((e) => (e.cb === "newConnection" ? s : undefined), { logLevel: "critical" });
    const conn = vm.newConnection({ source: "127.0.0.1:1", destination: "127.0.0.1:2" });
    expect(vm.traps).toBe(0);
    expect(conn.newConnectionResult.failed).toBe(false);
    const statuses = reports[0]!;
    expect(statuses).toHaveLength(HOST_IMPORTS.length);
    const status = (name: string) => statuses[HOST_IMPORTS.findIndex((i) => `${i.module}.${i.name}` === name)];
    expect(status("env.proxy_log")).toBe(WasmResult.BadArgument); // level checked first
    expect(status("env.proxy_get_property")).toBe(WasmResult.InvalidMemoryAccess);
    expect(status("env.proxy_set_buffer_bytes")).toBe(WasmResult.BadArgument); // buffer type checked first
    expect(status("env.proxy_send_local_response")).toBe(WasmResult.Unimplemented);
    expect(status("env.proxy_http_call")).toBe(WasmResult.Unimplemented);
    expect(status("env.proxy_grpc_call")).toBe(WasmResult.Unimplemented);
    expect(status("env.proxy_get_header_map_pairs")).toBe(WasmResult.Unimplemented);
    expect(status("env.proxy_set_effective_context")).toBe(WasmResult.BadArgument);
    expect(status("env.proxy_done")).toBe(WasmResult.NotFound);
    expect(status("wasi_snapshot_preview1.fd_write")).toBe(8); // EBADF: fd 0xfffffff0
    expect(status("wasi_unstable.random_get")).toBe(28); // EINVAL: longer than 64 KiB
    expect(status("wasi_snapshot_preview1.environ_sizes_get")).toBe(21); // EFAULT
    expect(status("wasi_snapshot_preview1.path_open")).toBe(44); // ENOENT
  });
});

describe("checkModuleImports", () => {
  it("rejects an import Envoy does not provide, naming it", () => {
    const wasm = writeModule([{ module: "env", name: "abort", ...sig("iiii", "") }], minimalExports);
    expect(() => checkModuleImports(wasm)).toThrow(/env\.abort, which Envoy does not provide/);
  });

  it("rejects a known import with another signature, showing both", () => {
    const wasm = writeModule([{ module: "env", name: "proxy_grpc_call", ...sig("iiiiiiiiii", "i") }], minimalExports);
    expect(() => checkModuleImports(wasm)).toThrow(/proxy_grpc_call as \(i32(, i32){9}\) -> \(i32\); Envoy's is \(i32(, i32){11}\) -> \(i32\)/);
  });

  it("rejects a module without the ABI version export, and a binary that is not wasm", async () => {
    const noAbi = writeModule([], minimalExports.filter((e) => e.name !== "proxy_abi_version_0_2_1"));
    expect(() => checkModuleImports(noAbi)).toThrow(/proxy_abi_version_0_2_1/);
    await expect(WasmVm.create({ wasm: Uint8Array.of(1, 2, 3, 4) })).rejects.toThrow(WasmVmError);
  });

  it("accepts a minimal hand-assembled filter, which the host then runs", async () => {
    const wasm = writeModule([{ module: "env", name: "proxy_log", ...sig("iii", "i") }], minimalExports);
    expect(() => checkModuleImports(wasm)).not.toThrow();
    expect(sameSignature(readModuleInterface(wasm).imports[0]!.signature!, hostImportSignature("env", "proxy_log")!)).toBe(true);
    const vm = await WasmVm.create({ wasm });
    const conn = vm.newConnection({ source: "127.0.0.1:1", destination: "127.0.0.1:2" });
    const r = conn.downstreamData(Uint8Array.of(1, 2, 3));
    expect([...r.forwarded]).toEqual([1, 2, 3]);
  });
});
