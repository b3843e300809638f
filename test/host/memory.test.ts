// Every guest pointer and length is bounds-checked, wrap-around past 2^32 included: the host answers
// InvalidMemoryAccess (WASI: EFAULT) and never throws into the VM.

import { describe, expect, it } from "vitest";
import { BufferType, WasmResult } from "../../proxy/host/index.js";
import { GuestMemory } from "../../proxy/host/guest-memory.js";
import { data, probeVm, scratch, script } from "./probe-script.js";

const IMA = WasmResult.InvalidMemoryAccess;
/** ptr + len wraps to a small number in 32-bit arithmetic: 0xfffffff0 + 0x20 = 0x1_0000_0010. */
const WRAP_PTR = 0xfffffff0;
const WRAP_LEN = 0x20;

describe("bounds checks", () => {
  it("refuse ranges that leave memory or wrap around 2^32, for every kind of guest pointer", async () => {
    const s = script()
      .call("proxy_define_metric", 0, data("ok"), 2, scratch(0)) // id 4, read back below through a bad pointer
      .call("proxy_log", 2, WRAP_PTR, WRAP_LEN)
      .call("proxy_log", 2, 16, 0xffffffff)
      .call("proxy_get_property", WRAP_PTR, WRAP_LEN, scratch(0), scratch(4))
      .call("proxy_get_property", data("plugin_root_id"), 14, WRAP_PTR, scratch(4))
      .call("proxy_get_property", data("plugin_root_id"), 14, scratch(0), 0xfffffffe)
      .call("proxy_set_property", data("k"), 1, WRAP_PTR, WRAP_LEN)
      .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 0, 10, WRAP_PTR, scratch(4))
      .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 0, 10, scratch(0), 0xfffffffd)
      .call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, 0, WRAP_PTR, WRAP_LEN)
      .call("proxy_get_buffer_status", BufferType.DownstreamData, WRAP_PTR, scratch(4))
      .call("proxy_define_metric", 0, WRAP_PTR, WRAP_LEN, scratch(0))
      .call("proxy_define_metric", 0, data("m"), 1, 0xfffffffc)
      .call("proxy_get_metric", 4, 0xfffffff9)
      .call("proxy_call_foreign_function", WRAP_PTR, WRAP_LEN, 0, 0, 0, 0)
      .call("proxy_call_foreign_function", data("compress"), 8, WRAP_PTR, WRAP_LEN, 0, 0)
      .call("proxy_call_foreign_function", data("compress"), 8, data("abc"), 3, 0xfffffffe, 0)
      .call("proxy_get_current_time_nanoseconds", 0xfffffff9)
      .call("proxy_get_log_level", 0xfffffffd)
      .call("proxy_set_shared_data", WRAP_PTR, WRAP_LEN, 0, 0, 0)
      .call("proxy_enqueue_shared_queue", 1, WRAP_PTR, WRAP_LEN)
      .call("wasi_snapshot_preview1.random_get", WRAP_PTR, WRAP_LEN)
      .call("wasi_snapshot_preview1.clock_time_get", 0, 0n, 0xfffffff9)
      .call("wasi_snapshot_preview1.fd_write", 1, WRAP_PTR, 4, scratch(0));
    const { vm, reports } = await probeVm((e) => (e.cb === "downstreamData" ? s : undefined));
    const conn = vm.newConnection({ source: "127.0.0.1:1", destination: "127.0.0.1:2" });
    conn.downstreamData(Uint8Array.of(1, 2, 3));
    expect(vm.traps).toBe(0);
    expect(reports[0]).toEqual([
      WasmResult.Ok,
      IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA, IMA,
      21, 21, 21,
    ]);
    expect(vm.metrics().map((m) => m.name)).toEqual(["ok"]); // a refused define leaves no metric behind
  });
});

describe("GuestMemory", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const m = new GuestMemory(memory);

  it("checks the end of memory exactly, and follows growth", () => {
    expect(m.inBounds(65532, 4)).toBe(true);
    expect(m.inBounds(65533, 4)).toBe(false);
    expect(m.view(65536, 0)).toHaveLength(0);
    expect(m.view(65537, 0)).toBeNull();
    expect(m.writeU32(65533, 1)).toBe(false);
    memory.grow(1);
    expect(m.writeU32(65533, 0x01020304)).toBe(true);
    expect(m.readU32(65533)).toBe(0x01020304);
    expect(m.size).toBe(131072);
  });

  it("follows growth of an initially empty memory and of a shared memory (which never detaches)", () => {
    const empty = new WebAssembly.Memory({ initial: 0 });
    const e = new GuestMemory(empty);
    expect(e.inBounds(0, 1)).toBe(false);
    expect(e.view(0, 0)).toHaveLength(0);
    empty.grow(1);
    expect(e.writeU32(65532, 9)).toBe(true);
    expect(e.readU32(65532)).toBe(9);
    const sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const s = new GuestMemory(sharedMemory);
    expect(s.writeU32(65536, 1)).toBe(false);
    sharedMemory.grow(1);
    expect(s.writeU32(65536, 0x0a0b0c0d)).toBe(true);
    expect(s.readU32(65536)).toBe(0x0a0b0c0d);
    expect(s.size).toBe(131072);
  });

  it("writes u64 from numbers and BigInts the same way", () => {
    expect(m.writeU64Number(8, 2 ** 40 + 5)).toBe(true);
    const a = m.view(8, 8)!.slice();
    expect(m.writeU64(8, 2n ** 40n + 5n)).toBe(true);
    expect(m.view(8, 8)).toEqual(a);
  });

  it("copies to the guest through its allocator, and reports a failed allocation", () => {
    m.allocate = () => 1024;
    expect(m.copyToGuest(Uint8Array.of(7, 8), 0, 4)).toBe(WasmResult.Ok);
    expect([m.readU32(0), m.readU32(4)]).toEqual([1024, 2]);
    expect([...m.view(1024, 2)!]).toEqual([7, 8]);
    m.allocate = () => 0;
    expect(m.copyToGuest(Uint8Array.of(1), 0, 4)).toBe(WasmResult.InvalidMemoryAccess);
    expect(m.copyToGuest(new Uint8Array(0), 0, 4)).toBe(WasmResult.Ok);
    expect([m.readU32(0), m.readU32(4)]).toEqual([0, 0]);
  });
});
