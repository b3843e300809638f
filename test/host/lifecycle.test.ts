// Context lifecycle in Envoy's order, configuration failure, filter-initiated closes, trap isolation with VM
// recreation, and reconfiguration that keeps existing connections on their VM.

import { describe, expect, it } from "vitest";
import { Action, LogLevel, PeerType, WasmResult, WasmVm, WasmVmError, type ConnectionCloseReason } from "../../proxy/host/index.js";
import { buildTestModule } from "../../dev/test-modules/build.js";
import { data, probeVm, script, type CallbackEvent } from "./probe-script.js";

const addr = { source: "10.0.0.1:40000", destination: "10.0.0.2:20880" };
const text = (s: string) => new TextEncoder().encode(s);
const trace = (events: CallbackEvent[]) => events.map((e) => `${e.cb}(${e.context},${e.a},${e.b})`);

describe("lifecycle", () => {
  it("starts the VM and runs a connection in Envoy's order", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "12345", vmConfig: "abc" });
    // First the canary (a throwaway instance, dropped with no further callback), then the serving instance.
    const start = ["contextCreate(1,0,0)", "vmStart(1,3,0)", "configure(1,5,0)"];
    expect(trace(events)).toEqual([...start, ...start]);
    events.length = 0;
    const conn = vm.newConnection(addr);
    conn.downstreamData(text("ab"));
    conn.upstreamData(text("xyz"));
    conn.closeUpstream(PeerType.Remote);
    expect(conn.closed).toBe(false);
    conn.closeDownstream(PeerType.Remote);
    expect(conn.closed).toBe(true);
    expect(trace(events)).toEqual([
      "contextCreate(2,1,0)",
      "newConnection(2,0,0)",
      "downstreamData(2,2,0)",
      "upstreamData(2,3,0)",
      "upstreamClose(2,2,0)",
      "downstreamClose(2,2,0)",
      "done(2,0,0)",
      "log(2,0,0)",
      "delete(2,0,0)",
    ]);
  });

  it("gives connections unique, increasing context ids; closing is idempotent; closed connections process nothing", async () => {
    const { vm, events } = await probeVm(() => undefined);
    const a = vm.newConnection(addr);
    const b = vm.newConnection(addr);
    expect([a.id, b.id]).toEqual([2, 3]);
    expect(a.connectionId).not.toBe(b.connectionId);
    a.closeDownstream();
    a.closeDownstream();
    a.done();
    expect(events.filter((e) => e.cb === "done")).toHaveLength(1);
    const r = a.downstreamData(text("late"));
    expect(r).toMatchObject({ closed: true, failed: false, forwarded: new Uint8Array(0) });
    expect(events.filter((e) => e.context === a.id && e.cb === "downstreamData")).toHaveLength(0);
    b.done();
    expect(trace(events).slice(-3)).toEqual(["done(3,0,0)", "log(3,0,0)", "delete(3,0,0)"]);
  });

  it("surfaces a rejected configuration as WasmVmError with the module's log lines", async () => {
    const attempt = probeVm(
      (e) => (e.cb === "configure" ? script().call("proxy_log", LogLevel.Error, data("routes[0].match: expected an object"), 35).ret(0) : undefined),
      { pluginConfig: "{}" },
    );
    await expect(attempt).rejects.toThrow(WasmVmError);
    await expect(attempt).rejects.toThrow(/proxy_on_configure returned failure.*routes\[0\]\.match: expected an object/);
    const err = (await attempt.catch((e: unknown) => e)) as WasmVmError;
    expect(err.logs.map((l) => l.message)).toContain("routes[0].match: expected an object");
  });

  it("fails creation when proxy_on_vm_start returns 0 or the module traps while starting", async () => {
    await expect(probeVm((e) => (e.cb === "vmStart" ? script().ret(0) : undefined))).rejects.toThrow(/proxy_on_vm_start returned failure/);
    await expect(probeVm((e) => (e.cb === "contextCreate" ? script().trap() : undefined))).rejects.toThrow(
      /trapped in proxy_on_context_create.*unreachable/,
    );
  });

  it("proxy_close_stream(Downstream) closes the connection after the call, with Envoy's LocalClose sequence", async () => {
    const { vm, events } = await probeVm((e) =>
      e.cb === "downstreamData" ? script().call("proxy_close_stream", 2).ret(Action.Continue) : undefined,
    );
    const conn = vm.newConnection(addr);
    events.length = 0;
    const r = conn.downstreamData(text("deny me"));
    expect(r).toMatchObject({ action: Action.Continue, closeDownstream: true, closeUpstream: false, closed: true, failed: false });
    // As in Envoy: the close is applied after the call and nothing of that read reaches the next filter.
    expect(r.forwarded.length).toBe(0);
    expect(conn.closedByFilter).toBe(true);
    expect(trace(events)).toEqual(["downstreamData(2,7,0)", "downstreamClose(2,1,0)", "done(2,0,0)", "log(2,0,0)", "delete(2,0,0)"]);
  });

  it("a read or write during which the filter closed the downstream forwards nothing, even on Continue", async () => {
    const { vm } = await probeVm((e) =>
      e.cb === "upstreamData" ? script().call("proxy_close_stream", 2).ret(Action.Continue) : undefined,
    );
    const conn = vm.newConnection(addr);
    const before = conn.downstreamData(text("request"));
    expect(new TextDecoder().decode(before.forwarded)).toBe("request");
    const r = conn.upstreamData(text("response"));
    expect(r).toMatchObject({ action: Action.Continue, closeDownstream: true, closed: true });
    expect(r.forwarded.length).toBe(0);
    expect(conn.downstreamBuffered).toBe(0);
  });

  it("proxy_close_stream(Upstream) is reported and leaves the close callbacks to the embedder", async () => {
    const { vm, events } = await probeVm((e) => (e.cb === "newConnection" ? script().call("proxy_close_stream", 3).ret(0) : undefined));
    const conn = vm.newConnection(addr);
    expect(conn.newConnectionResult).toEqual({ action: Action.Continue, closeDownstream: false, closeUpstream: true, failed: false });
    expect(conn.upstreamClosedByFilter).toBe(true);
    expect(conn.closed).toBe(false);
    expect(events.some((e) => e.cb === "upstreamClose")).toBe(false);
  });

  it("vm.close() ends the root context: proxy_on_done then proxy_on_delete", async () => {
    const { vm, events } = await probeVm(() => undefined);
    events.length = 0;
    vm.close();
    expect(trace(events)).toEqual(["done(1,0,0)", "delete(1,0,0)"]);
  });
});

describe("a trap", () => {
  it("closes the connection in progress and every other one on that VM, is counted and logged, and a fresh VM serves later connections", async () => {
    const { vm, events } = await probeVm((e) =>
      e.cb === "downstreamData" && e.a === 4 ? script().trap() : undefined,
    );
    const closes: Array<[number, ConnectionCloseReason]> = [];
    const a = vm.newConnection({ ...addr, onClose: (r) => closes.push([a.id, r]) });
    const b = vm.newConnection({ ...addr, onClose: (r) => closes.push([b.id, r]) });
    expect(b.downstreamData(text("ok")).action).toBe(Action.Continue);

    const r = a.downstreamData(text("boom"));
    expect(r).toMatchObject({ failed: true, closed: true, closeDownstream: true, closeUpstream: true, forwarded: new Uint8Array(0) });
    expect(a.failed && b.failed).toBe(true);
    expect(closes).toEqual([[b.id, "vm-failed"]]); // the trapping call reports itself; the others get a callback
    expect(b.downstreamData(text("more"))).toMatchObject({ failed: true, closed: true });
    expect(vm.traps).toBe(1);
    const critical = vm.logs(LogLevel.Critical);
    expect(critical).toHaveLength(1);
    expect(critical[0]!.message).toMatch(/trapped in proxy_on_downstream_data \(context 2\).*unreachable/);
    // No callback reaches the dead VM for the dead connections.
    expect(events.some((e) => e.cb === "done")).toBe(false);

    events.length = 0;
    expect(vm.generation).toBe(1);
    const c = vm.newConnection(addr);
    expect(vm.generation).toBe(2);
    expect(vm.recreatedCount).toBe(1);
    expect(c.vmGeneration).toBe(2);
    expect(trace(events).slice(0, 5)).toEqual(["contextCreate(1,0,0)", "vmStart(1,0,0)", "configure(1,0,0)", "contextCreate(2,1,0)", "newConnection(2,0,0)"]);
    expect(new TextDecoder().decode(c.downstreamData(text("fine!")).forwarded)).toBe("fine!");
    expect(vm.traps).toBe(1);
  });

  it("in a close callback ends only what is left: the connection is marked failed and closed", async () => {
    const { vm } = await probeVm((e) => (e.cb === "done" ? script().trap() : undefined));
    const conn = vm.newConnection(addr);
    conn.closeDownstream(PeerType.Local);
    expect(conn.failed).toBe(true);
    expect(conn.closed).toBe(true);
    expect(vm.traps).toBe(1);
  });
});

describe("reconfiguration", () => {
  it("accepts new module bytes", async () => {
    const { vm } = await probeVm(() => undefined);
    await vm.reconfigure({ wasm: await buildTestModule("noop") });
    const conn = vm.newConnection(addr);
    expect(conn.vmGeneration).toBe(2);
    expect(conn.downstreamData(text("a")).action).toBe(Action.Continue);
  });
});

describe("the no-op module", () => {
  it("continues everything without reading and forwards the caller's bytes unchanged", async () => {
    const vm = await WasmVm.create({ wasm: await buildTestModule("noop") });
    const conn = vm.newConnection(addr);
    const chunk = text("a request");
    const r = conn.downstreamData(chunk);
    expect(r.action).toBe(Action.Continue);
    expect(r.forwarded).toBe(chunk);
    expect(conn.upstreamData(text("reply")).action).toBe(Action.Continue);
    conn.closeDownstream();
    expect(conn.closed).toBe(true);
    expect(vm.metrics()).toEqual([]);
    expect(WasmResult.Ok).toBe(0);
  });
});
