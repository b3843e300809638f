// VM reuse and root-context lifecycle, against what Envoy does (proxy-wasm-cpp-host src/wasm.cc:
// getOrCreateThreadLocalPlugin, WasmBase::start, WasmBase::startShutdown; include/proxy-wasm/wasm.h:
// ~PluginHandleBase; docs/host.md "VM reuse"): a new plugin configuration with the same VM key gets a new root
// context in the same instance; another VM key another instance; existing connections keep the root context they
// were created under; a root context ends (on_done, on_delete) when it is no longer in use and its last connection
// is gone; an identical plugin still held gets its root context back without any callback.

import { describe, expect, it } from "vitest";
import { LogLevel, PeerType } from "../../proxy/host/index.js";
import { buildTestModule } from "../../dev/test-modules/build.js";
import { data, probeVm, script, type CallbackEvent } from "./probe-script.js";

const addr = { source: "10.0.0.1:40000", destination: "10.0.0.2:20880" };
const trace = (events: CallbackEvent[]) => events.map((e) => `${e.cb}(${e.context},${e.a},${e.b})`);
/** What cpp-host's canary runs for a plugin in its throwaway instance before any serving instance sees it. */
const canary = (configSize: number, vmConfigSize = 0) => ["contextCreate(1,0,0)", `vmStart(1,${vmConfigSize},0)`, `configure(1,${configSize},0)`];

describe("a new plugin configuration with the same VM key", () => {
  it("gets a new root context in the same instance; old connections keep their parent; the old root ends with its last connection", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "v1", vmConfig: "vm" });
    const old = vm.newConnection(addr);
    expect(old.rootContextId).toBe(1);
    events.length = 0;

    await vm.reconfigure({ pluginConfig: "v2-longer" });
    // cpp-host: WasmBase::start → ContextBase::onStart (context_create, vm_start), then onConfigure.
    expect(trace(events)).toEqual([...canary(9, 2), "contextCreate(3,0,0)", "vmStart(3,2,0)", "configure(3,9,0)"]);
    expect(vm.generation).toBe(1);
    expect(vm.rootContextId).toBe(3);

    events.length = 0;
    const fresh = vm.newConnection(addr);
    expect([fresh.id, fresh.rootContextId, fresh.vmGeneration]).toEqual([4, 3, 1]);
    expect(old.rootContextId).toBe(1);
    expect(trace(events).slice(0, 1)).toEqual(["contextCreate(4,3,0)"]);
    expect(vm.rootContexts).toEqual([[1, 1], [1, 3]]);

    // The old root context is held by its connection; it ends right after that connection's context.
    events.length = 0;
    old.closeDownstream(PeerType.Remote);
    expect(trace(events)).toEqual([
      "downstreamClose(2,2,0)",
      "done(2,0,0)",
      "log(2,0,0)",
      "delete(2,0,0)",
      "done(1,0,0)",
      "delete(1,0,0)",
    ]);
    expect(vm.rootContexts).toEqual([[1, 3]]);

    // The connection under the new root context still runs on the same instance.
    expect(fresh.downstreamData(new TextEncoder().encode("hi")).action).toBe(0);
  });

  it("ends the old root context at once when no connection holds it", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "a" });
    events.length = 0;
    await vm.reconfigure({ pluginConfig: "b" });
    expect(trace(events)).toEqual([...canary(1), "contextCreate(2,0,0)", "vmStart(2,0,0)", "configure(2,1,0)", "done(1,0,0)", "delete(1,0,0)"]);
  });

  it("keeps the root context in use when the new configuration is rejected: only the canary sees it", async () => {
    const { vm, events } = await probeVm(
      (e) => (e.cb === "configure" && e.a === 3 ? script().call("proxy_log", LogLevel.Warn, data("bad"), 3).ret(0) : undefined),
      { pluginConfig: "ok" },
    );
    const before = vm.newConnection(addr);
    events.length = 0;
    await expect(vm.reconfigure({ pluginConfig: "bad" })).rejects.toThrow(/proxy_on_configure returned failure.*bad/);
    expect(trace(events)).toEqual(canary(3));
    expect(vm.rootContextId).toBe(1);
    expect(vm.rootContexts).toEqual([[1, 1]]);
    const after = vm.newConnection(addr);
    expect([after.rootContextId, after.vmGeneration, before.rootContextId]).toEqual([1, 1, 1]);
  });

  it("shuts down a root context the serving instance rejects after its canary passed", async () => {
    // Only the serving instance's root context (id 3) refuses: the module is not deterministic.
    const { vm, events } = await probeVm((e) => (e.cb === "configure" && e.context === 3 ? script().ret(0) : undefined), { pluginConfig: "a" });
    vm.newConnection(addr);
    events.length = 0;
    await expect(vm.reconfigure({ pluginConfig: "b" })).rejects.toThrow(/proxy_on_configure returned failure/);
    expect(trace(events)).toEqual([...canary(1), "contextCreate(3,0,0)", "vmStart(3,0,0)", "configure(3,1,0)", "done(3,0,0)", "delete(3,0,0)"]);
    expect(vm.rootContextId).toBe(1);
  });

  it("hands back a root context that is still held for an identical plugin, with no callback into the module", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "A" });
    const onA = vm.newConnection(addr);
    await vm.reconfigure({ pluginConfig: "B" });
    const rootB = vm.rootContextId;
    events.length = 0;
    // Back to A while a connection still holds A's root context: cpp-host's local_plugins cache returns its
    // plugin handle (getOrCreateThreadLocalPlugin), so proxy_on_configure is not called again.
    await vm.reconfigure({ pluginConfig: "A" });
    expect(vm.rootContextId).toBe(onA.rootContextId);
    expect(trace(events)).toEqual([`done(${rootB},0,0)`, `delete(${rootB},0,0)`]);
    // Once nothing holds A any more, the same configuration gets a fresh root context.
    await vm.reconfigure({ pluginConfig: "C" });
    onA.closeDownstream();
    events.length = 0;
    await vm.reconfigure({ pluginConfig: "A" });
    expect(events.map((e) => e.cb)).toEqual(["contextCreate", "vmStart", "configure", "contextCreate", "vmStart", "configure", "done", "delete"]);
    expect(vm.rootContextId).toBeGreaterThan(onA.id);
  });

  it("gives another root_id its own root context beside the first plugin's, with its own plugin properties", async () => {
    const seen: Array<[number, string]> = [];
    const { vm } = await probeVm(() => undefined, { rootId: "first", pluginConfig: "x" });
    const a = vm.newConnection(addr);
    await vm.reconfigure({ rootId: "second" });
    const b = vm.newConnection(addr);
    for (const c of [a, b]) seen.push([c.rootContextId, new TextDecoder().decode(c.property("plugin_root_id"))]);
    expect(seen).toEqual([[1, "first"], [3, "second"]]);
    expect(new TextDecoder().decode(a.property("plugin_name"))).toBe("first");
    expect(vm.generation).toBe(1);
  });
});

describe("a new VM key", () => {
  it("starts another instance for new module bytes or another VM configuration; old connections stay on theirs", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "p", vmConfig: "one" });
    const onFirst = vm.newConnection(addr);
    events.length = 0;
    await vm.reconfigure({ vmConfig: "two" });
    expect(vm.generation).toBe(2);
    // A fresh instance: its root context is id 1 again; the first instance is untouched.
    expect(trace(events)).toEqual([...canary(1, 3), "contextCreate(1,0,0)", "vmStart(1,3,0)", "configure(1,1,0)"]);
    const onSecond = vm.newConnection(addr);
    expect([onFirst.vmGeneration, onSecond.vmGeneration]).toEqual([1, 2]);
    expect(vm.rootContexts).toEqual([[1, 1], [2, 1]]);

    await vm.reconfigure({ wasm: await buildTestModule("noop") });
    expect(vm.generation).toBe(3);
    expect(vm.newConnection(addr).vmGeneration).toBe(3);
  });

  it("reuses an instance that is still held when its VM key comes back", async () => {
    const { vm } = await probeVm(() => undefined, { pluginConfig: "p", vmConfig: "one" });
    const onFirst = vm.newConnection(addr);
    await vm.reconfigure({ vmConfig: "two" });
    await vm.reconfigure({ vmConfig: "one", pluginConfig: "p2" });
    // cpp-host's local_wasms: the instance of VM key "one" is held by onFirst's plugin handle.
    expect(vm.generation).toBe(1);
    expect(vm.newConnection(addr).rootContextId).toBeGreaterThan(onFirst.id);
  });
});

describe("per root context", () => {
  it("ticks the current root context, not the one an older connection holds (Envoy: one timer per root context)", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "a" });
    const held = vm.newConnection(addr);
    await vm.reconfigure({ pluginConfig: "bb" });
    events.length = 0;
    vm.tick();
    expect(trace(events)).toEqual(["tick(3,0,0)"]);
    expect(held.rootContextId).toBe(1);
  });
});

describe("vm.close()", () => {
  it("ends every root context still alive, in use or held by connections", async () => {
    const { vm, events } = await probeVm(() => undefined, { pluginConfig: "a" });
    vm.newConnection(addr);
    await vm.reconfigure({ pluginConfig: "b" });
    events.length = 0;
    vm.close();
    expect(trace(events)).toEqual(["done(1,0,0)", "delete(1,0,0)", "done(3,0,0)", "delete(3,0,0)"]);
  });
});
