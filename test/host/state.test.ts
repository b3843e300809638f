// Properties, metrics, foreign functions (set_envoy_filter_state and host-registered ones), shared data and
// queues, logging, ticks and time, as Envoy answers them.

import { describe, expect, it } from "vitest";
import {
  LifeSpan,
  LogLevel,
  SharedState,
  WasmResult,
  decodeSetEnvoyFilterStateArguments,
  encodeSetEnvoyFilterStateArguments,
  type ForeignCallInfo,
  type LogEntry,
} from "../../proxy/host/index.js";
import { data, probeVm, scratch, script, type CallbackEvent, type Script } from "./probe-script.js";

const addr = { source: "10.0.0.1:40000", destination: "10.0.0.2:20880" };
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: unknown) => new TextDecoder().decode(b as Uint8Array);
const u64 = (b: unknown) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getBigUint64(0, true);
const u32 = (b: unknown) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getUint32(0, true);
const f64 = (b: unknown) => new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset).getFloat64(0, true);

/** Script: get_property(path) → [status, bytes]. */
function getProps(paths: string[], s: Script = script()): Script {
  for (const p of paths) s.call("proxy_get_property", data(p), p.length, scratch(0), scratch(4)).deref(0, 4);
  return s;
}

async function runIn(cb: CallbackEvent["cb"], s: Script, options = {}) {
  const probe = await probeVm((e) => (e.cb === cb ? s : undefined), options);
  const conn = probe.vm.newConnection({ ...addr, tag: "the-tag" });
  if (cb === "downstreamData") conn.downstreamData(text("x"));
  return { ...probe, conn, report: probe.reports[0]! };
}

describe("properties", () => {
  it("answers connection and plugin properties with Envoy's encodings", async () => {
    const paths = [
      "source\0address",
      "source\0port",
      "destination\0address",
      "destination\0port",
      "connection_id",
      "plugin_name",
      "plugin_root_id",
      "plugin_vm_id",
      "xds\0node\0metadata\0NAMESPACE",
      "node\0metadata\0REPLICAS",
      "xds\0node\0metadata\0MESH\0enabled",
      "node\0id",
      "listener_direction",
      "no_such_property",
      "source\0nope",
    ];
    const { report, conn } = await runIn("newConnection", getProps(paths), {
      rootId: "dubbo_mesh",
      vmId: "vm-1",
      pluginName: "dubbo-filter",
      nodeId: "sidecar~10.0.0.1~app.ns~ns.svc.cluster.local",
      nodeMetadata: { NAMESPACE: "demo", REPLICAS: 3, MESH: { enabled: true } },
      listenerDirection: 2,
    });
    const value = (i: number) => report[2 * i + 1];
    const status = (i: number) => report[2 * i];
    expect(str(value(0))).toBe("10.0.0.1:40000");
    expect(u64(value(1))).toBe(40000n);
    expect(str(value(2))).toBe("10.0.0.2:20880");
    expect(u64(value(3))).toBe(20880n);
    expect(u64(value(4))).toBe(BigInt(conn.connectionId));
    expect(str(value(5))).toBe("dubbo-filter");
    expect(str(value(6))).toBe("dubbo_mesh");
    expect(str(value(7))).toBe("vm-1");
    expect(str(value(8))).toBe("demo");
    expect(f64(value(9))).toBe(3);
    expect([...(value(10) as Uint8Array)]).toEqual([1]);
    expect(str(value(11))).toBe("sidecar~10.0.0.1~app.ns~ns.svc.cluster.local");
    expect(u64(value(12))).toBe(2n);
    expect(status(13)).toBe(WasmResult.NotFound);
    expect(status(14)).toBe(WasmResult.NotFound);
    expect(conn.property(["source", "address"])).toEqual(text("10.0.0.1:40000"));
  });

  it("stores proxy_set_property under wasm.PATH in the connection's filter state and reads it back", async () => {
    const s = script()
      .call("proxy_set_property", data("dubbo.service"), 13, data("org.demo.Greeter"), 16)
      .call("proxy_get_property", data("dubbo.service"), 13, scratch(0), scratch(4))
      .deref(0, 4);
    const { report, conn } = await runIn("downstreamData", s);
    expect(report.slice(0, 2)).toEqual([WasmResult.Ok, WasmResult.Ok]);
    expect(str(report[2])).toBe("org.demo.Greeter");
    expect(conn.filterState.get("wasm.dubbo.service")).toBe("org.demo.Greeter");
    expect(conn.wasmState.get("wasm.dubbo.service")).toEqual(text("org.demo.Greeter"));
  });

  it("serializes a map-valued property as proxy-wasm pairs", async () => {
    const { report } = await runIn("newConnection", getProps(["source"]));
    const b = report[1] as Uint8Array;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    expect(dv.getUint32(0, true)).toBe(2);
    expect([dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true), dv.getUint32(16, true)]).toEqual([7, 14, 4, 8]);
    expect(str(b.subarray(20, 27))).toBe("address");
    expect(b[27]).toBe(0);
    expect(str(b.subarray(28, 42))).toBe("10.0.0.1:40000");
    expect(str(b.subarray(43, 47))).toBe("port");
    expect(new DataView(b.buffer, b.byteOffset + 48, 8).getBigUint64(0, true)).toBe(40000n);
    expect(b.length).toBe(57);
  });

  it("has no connection properties in the root context, and upstream.address only once set", async () => {
    const s = getProps(["source\0address", "plugin_root_id"]).call("proxy_set_property", data("k"), 1, data("v"), 1);
    const { report, vm } = await runIn("configure", s.ret(1), { rootId: "r" });
    expect(report[0]).toBe(WasmResult.NotFound);
    expect(str(report[3])).toBe("r");
    expect(report[4]).toBe(WasmResult.NotFound);
    const conn = vm.newConnection(addr);
    expect(conn.property("upstream\0address")).toBeUndefined();
    conn.setUpstreamAddress("10.1.1.1:20881");
    expect(str(conn.property("upstream\0address"))).toBe("10.1.1.1:20881");
  });
});

describe("metrics", () => {
  it("hands out cpp-host's ids (type in the low 2 bits) and keeps values by name as Envoy's stats", async () => {
    const s = script()
      .call("proxy_define_metric", 0, data("dubbo.requests"), 14, scratch(0))
      .call("proxy_define_metric", 0, data("dubbo.denied"), 12, scratch(4))
      .call("proxy_define_metric", 1, data("dubbo.active"), 12, scratch(8))
      .call("proxy_define_metric", 2, data("dubbo.size"), 10, scratch(12))
      .scratch(0, 16)
      .call("proxy_define_metric", 3, data("bad.type"), 8, scratch(16))
      .call("proxy_define_metric", 1, data("dubbo.requests"), 14, scratch(16))
      .call("proxy_define_metric", 0, data("dubbo.requests"), 14, scratch(20))
      .scratch(20, 4);
    const { report, vm } = await runIn("configure", s.ret(1));
    const ids = report[4] as Uint8Array;
    const id = (i: number) => new DataView(ids.buffer, ids.byteOffset).getUint32(i * 4, true);
    expect([id(0), id(1), id(2), id(3)]).toEqual([4, 8, 5, 6]);
    expect(report.slice(5, 8)).toEqual([WasmResult.BadArgument, WasmResult.BadArgument, WasmResult.Ok]);
    expect(u32(report[8])).toBe(12); // a second id for the same counter
    expect(vm.metrics().map((m) => [m.name, m.kind, m.value])).toEqual([
      ["dubbo.requests", "counter", 0],
      ["dubbo.denied", "counter", 0],
      ["dubbo.active", "gauge", 0],
      ["dubbo.size", "histogram", 0],
    ]);
  });

  it("increments, records and reads as Envoy does", async () => {
    const s = script()
      .call("proxy_define_metric", 0, data("c"), 1, scratch(0))
      .call("proxy_define_metric", 1, data("g"), 1, scratch(0))
      .call("proxy_define_metric", 2, data("h"), 1, scratch(0))
      .call("proxy_increment_metric", 4, 3n)
      .call("proxy_increment_metric", 4, 0n)
      .call("proxy_increment_metric", 4, -1n)
      .call("proxy_record_metric", 4, 2n)
      .call("proxy_increment_metric", 5, 10n)
      .call("proxy_increment_metric", 5, -4n)
      .call("proxy_record_metric", 6, 7n)
      .call("proxy_record_metric", 6, 9n)
      .call("proxy_increment_metric", 6, 1n)
      .call("proxy_get_metric", 4, scratch(8))
      .scratch(8, 8)
      .call("proxy_get_metric", 5, scratch(8))
      .scratch(8, 8)
      .call("proxy_get_metric", 6, scratch(8))
      .call("proxy_get_metric", 40, scratch(8))
      .call("proxy_record_metric", 44, 1n);
    const { report, vm } = await runIn("downstreamData", s);
    expect(report.slice(3, 12)).toEqual([
      WasmResult.Ok,
      WasmResult.BadArgument,
      WasmResult.BadArgument,
      WasmResult.Ok,
      WasmResult.Ok,
      WasmResult.Ok,
      WasmResult.Ok,
      WasmResult.Ok,
      WasmResult.BadArgument,
    ]);
    expect(u64(report[13])).toBe(5n);
    expect(u64(report[15])).toBe(6n);
    expect(report.slice(16)).toEqual([WasmResult.BadArgument, WasmResult.NotFound, WasmResult.NotFound]);
    expect(vm.metric("c")).toBe(5);
    expect(vm.metric("g")).toBe(6);
    expect(vm.metrics().find((m) => m.name === "h")?.histogram).toEqual({ count: 2, sum: 16, min: 7, max: 9 });
    expect(vm.metric("nope")).toBeUndefined();
  });

  it("keeps values across a VM recreated after a trap", async () => {
    const { vm } = await probeVm((e) => {
      if (e.cb === "configure") return script().call("proxy_define_metric", 0, data("c"), 1, scratch(0)).ret(1);
      if (e.cb === "downstreamData") return e.a === 4 ? script().trap() : script().call("proxy_increment_metric", 4, 1n);
      return undefined;
    });
    vm.newConnection(addr).downstreamData(text("a"));
    vm.newConnection(addr).downstreamData(text("trap"));
    vm.newConnection(addr).downstreamData(text("b"));
    expect(vm.generation).toBe(2);
    expect(vm.metric("c")).toBe(2);
  });
});

describe("foreign functions", () => {
  const clusterArgs = encodeSetEnvoyFilterStateArguments({ path: "envoy.tcp_proxy.cluster", value: "outbound|20880|v2|demo" });

  it("set_envoy_filter_state stores known keys per connection and refuses unknown keys and bad values", async () => {
    const bad = (path: string, value: string) => encodeSetEnvoyFilterStateArguments({ path, value, span: LifeSpan.DownstreamConnection });
    const calls: Array<Uint8Array> = [
      clusterArgs,
      bad("envoy.no.such.key", "x"),
      bad("envoy.upstream.dynamic_port", "not-a-port"),
      bad("envoy.network.transport_socket.original_dst_address", "10.0.0.9:20880"),
      clusterArgs.subarray(0, 5), // truncated protobuf
      Uint8Array.of(0x0a, 0x02, 0xff, 0xfe), // path that is not UTF-8
    ];
    const s = script();
    for (const c of calls) s.call("proxy_call_foreign_function", data("set_envoy_filter_state"), 22, data(c), c.length, scratch(0), scratch(4));
    const { report, conn } = await runIn("downstreamData", s);
    expect(report).toEqual([WasmResult.Ok, WasmResult.NotFound, WasmResult.BadArgument, WasmResult.Ok, WasmResult.BadArgument, WasmResult.BadArgument]);
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toBe("outbound|20880|v2|demo");
    expect(conn.filterState.get("envoy.network.transport_socket.original_dst_address")).toBe("10.0.0.9:20880");
  });

  it("set_envoy_filter_state has no stream to write to in the root context", async () => {
    const s = script().call("proxy_call_foreign_function", data("set_envoy_filter_state"), 22, data(clusterArgs), clusterArgs.length, 0, 0);
    const { report } = await runIn("configure", s.ret(1));
    expect(report).toEqual([WasmResult.NotFound]);
  });

  it("calls host-registered functions with the arguments and the connection, and hands back results in guest memory", async () => {
    const seen: Array<[string, ForeignCallInfo]> = [];
    const s = script()
      .call("proxy_call_foreign_function", data("dubbo_mesh.route_request"), 24, data("req-1"), 5, scratch(0), scratch(4))
      .deref(0, 4)
      .call("proxy_call_foreign_function", data("dubbo_mesh.route_request"), 24, data("req-2"), 5, 0, 0)
      .call("proxy_call_foreign_function", data("test.status"), 11, data(""), 0, 0, 0)
      .call("proxy_call_foreign_function", data("test.throws"), 11, data(""), 0, 0, 0)
      .call("proxy_call_foreign_function", data("not.registered"), 14, data(""), 0, 0, 0)
      .call("proxy_call_foreign_function", data("compress"), 8, data("hello hello hello"), 17, scratch(8), scratch(12))
      .scratch(12, 4);
    const { report, conn, vm } = await runIn("downstreamData", s, {
      foreignFunctions: {
        "dubbo_mesh.route_request": (args: Uint8Array, call: ForeignCallInfo) => {
          seen.push([str(args), call]);
          return text(`routed ${str(args)}`);
        },
        "test.status": () => WasmResult.ResultMismatch,
        "test.throws": () => {
          throw new Error("host bug");
        },
      },
    });
    expect(report[0]).toBe(WasmResult.Ok);
    expect(str(report[1])).toBe("routed req-1");
    expect(report.slice(2, 6)).toEqual([WasmResult.Ok, WasmResult.ResultMismatch, WasmResult.InternalFailure, WasmResult.NotFound]);
    expect(report[6]).toBe(WasmResult.Ok);
    expect(u32(report[7])).toBeGreaterThan(0);
    expect(seen.map(([a, c]) => [a, c.contextId, c.connection?.tag])).toEqual([
      ["req-1", conn.id, "the-tag"],
      ["req-2", conn.id, "the-tag"],
    ]);
    expect(vm.logs(LogLevel.Error).map((l) => l.message)).toContain("foreign function test.throws threw: Error: host bug");
  });

  it("refuses to register over a built-in name", async () => {
    await expect(probeVm(() => undefined, { foreignFunctions: { set_envoy_filter_state: () => undefined } })).rejects.toThrow(/built into the host/);
  });

  it("decodes SetEnvoyFilterStateArguments as protobuf does (unknown fields skipped, span kept)", () => {
    const base = encodeSetEnvoyFilterStateArguments({ path: "p", value: "v", span: LifeSpan.DownstreamRequest });
    const withUnknown = Uint8Array.of(...base, 0x20, 0x05, 0x2a, 0x01, 0x41, 0x0d, 1, 2, 3, 4); // fields 4 (varint), 5 (bytes), 1 as fixed32
    expect(decodeSetEnvoyFilterStateArguments(withUnknown)).toEqual({ path: "p", value: "v", span: LifeSpan.DownstreamRequest });
    expect(decodeSetEnvoyFilterStateArguments(new Uint8Array(0))).toEqual({ path: "", value: "", span: LifeSpan.FilterChain });
    expect(decodeSetEnvoyFilterStateArguments(Uint8Array.of(0x0a, 0x05, 0x61))).toBeNull();
    expect(decodeSetEnvoyFilterStateArguments(Uint8Array.of(0x0b))).toBeNull(); // group start
  });
});

describe("shared data and queues", () => {
  it("sets and gets with compare-and-swap, scoped by vm id", async () => {
    const shared = new SharedState();
    const s = script()
      .call("proxy_get_shared_data", data("k"), 1, scratch(0), scratch(4), scratch(8))
      .call("proxy_set_shared_data", data("k"), 1, data("v1"), 2, 0)
      .call("proxy_get_shared_data", data("k"), 1, scratch(0), scratch(4), scratch(8))
      .deref(0, 4)
      .scratch(8, 4)
      .call("proxy_set_shared_data", data("k"), 1, data("v2"), 2, 999)
      .call("proxy_set_shared_data", data("k"), 1, data("v3"), 2, 1)
      .call("proxy_get_shared_data", data("k"), 1, scratch(0), scratch(4), scratch(8))
      .deref(0, 4);
    const { report } = await runIn("downstreamData", s, { sharedState: shared, vmId: "a" });
    expect(report[0]).toBe(WasmResult.NotFound);
    expect(report.slice(1, 3)).toEqual([WasmResult.Ok, WasmResult.Ok]);
    expect(str(report[3])).toBe("v1");
    expect(u32(report[4])).toBe(1);
    expect(report.slice(5, 8)).toEqual([WasmResult.CasMismatch, WasmResult.Ok, WasmResult.Ok]);
    expect(str(report[8])).toBe("v3");
    expect(shared.getData("b", "k").result).toBe(WasmResult.NotFound);
  });

  it("registers, resolves, enqueues and dequeues, and calls proxy_on_queue_ready on the registering root", async () => {
    const shared = new SharedState();
    const queueReady: number[] = [];
    const { vm, reports } = await probeVm(
      (e) => {
        if (e.cb === "configure") return script().call("proxy_register_shared_queue", data("q"), 1, scratch(0)).scratch(0, 4).ret(1);
        if (e.cb === "newConnection") {
          return script()
            .call("proxy_resolve_shared_queue", data(""), 0, data("q"), 1, scratch(0))
            .call("proxy_resolve_shared_queue", data("other-vm"), 8, data("q"), 1, scratch(0))
            .call("proxy_enqueue_shared_queue", 1, data("item"), 4)
            .call("proxy_enqueue_shared_queue", 77, data("item"), 4);
        }
        if (e.cb === "queueReady") {
          queueReady.push(e.a);
          return script()
            .call("proxy_dequeue_shared_queue", e.a, scratch(0), scratch(4))
            .deref(0, 4)
            .call("proxy_dequeue_shared_queue", e.a, scratch(0), scratch(4));
        }
        return undefined;
      },
      { sharedState: shared, vmId: "vm" },
    );
    // reports[0] is the canary's configure (docs/host.md): the serving root context registers the queue again.
    expect(u32(reports[0]![1])).toBe(1);
    expect(u32(reports[1]![1])).toBe(1);
    vm.newConnection(addr);
    expect(reports[2]).toEqual([WasmResult.Ok, WasmResult.NotFound, WasmResult.Ok, WasmResult.NotFound]);
    await new Promise((r) => setImmediate(r));
    expect(queueReady).toEqual([1]);
    expect(reports[3]![0]).toBe(WasmResult.Ok);
    expect(str(reports[3]![1])).toBe("item");
    expect(reports[3]![2]).toBe(WasmResult.Empty);
  });
});

describe("logging", () => {
  it("keeps lines at or above the level, streams them, answers proxy_get_log_level and maps fd_write to info/error", async () => {
    const streamed: LogEntry[] = [];
    const s = script()
      .call("proxy_log", LogLevel.Debug, data("debug line"), 10)
      .call("proxy_log", LogLevel.Warn, data("warn line"), 9)
      .call("proxy_log", 6, data("x"), 1)
      .call("proxy_get_log_level", scratch(0))
      .scratch(0, 4);
    const { vm, report } = await runIn("downstreamData", s, { logLevel: "info", logger: (e: LogEntry) => streamed.push(e) });
    expect(report.slice(0, 4)).toEqual([WasmResult.Ok, WasmResult.Ok, WasmResult.BadArgument, WasmResult.Ok]);
    expect(u32(report[4])).toBe(LogLevel.Info);
    expect(vm.logs().map((l) => [l.level, l.message])).toEqual([[LogLevel.Warn, "warn line"]]);
    expect(streamed.map((l) => l.message)).toEqual(["warn line"]);
  });

  it("turns WASI fd_write to stdout (info) and stderr (error) into log lines without the trailing newline", async () => {
    const { vm, reports } = await probeVm((e) => {
      if (e.cb !== "newConnection") return undefined;
      // iovecs at scratch[64..]: {"hello ", 6}, {"world\n", 6}; then one pointing past the end of memory.
      return script()
        .store(64, data("hello "))
        .store(68, 6)
        .store(72, data("world\n"))
        .store(76, 6)
        .store(80, 0xfffffff0)
        .store(84, 32)
        .call("wasi_snapshot_preview1.fd_write", 1, scratch(64), 2, scratch(0))
        .scratch(0, 4)
        .call("wasi_unstable.fd_write", 2, scratch(72), 1, scratch(0))
        .call("wasi_snapshot_preview1.fd_write", 3, scratch(64), 1, scratch(0))
        .call("wasi_snapshot_preview1.fd_write", 1, scratch(80), 1, scratch(0))
        .call("wasi_snapshot_preview1.fd_write", 1, scratch(64), 1, 0xfffffffe);
    });
    vm.newConnection(addr);
    const r = reports[0]!;
    expect(r[0]).toBe(0);
    expect(u32(r[1])).toBe(12);
    expect(r.slice(2)).toEqual([0, 8, 21, 21]); // ok, EBADF, EFAULT (iovec data), EFAULT (nwritten)
    expect(vm.logs().map((l) => [l.level, l.message])).toEqual([
      [LogLevel.Info, "hello world"],
      [LogLevel.Error, "world"],
      [LogLevel.Info, "hello "],
    ]);
  });
});

describe("time and ticks", () => {
  it("answers the current time in nanoseconds and runs proxy_on_tick after a tick period is set", async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const { vm, events, reports } = await probeVm((e) =>
      e.cb === "configure"
        ? script().call("proxy_get_current_time_nanoseconds", scratch(0)).scratch(0, 8).call("proxy_set_tick_period_milliseconds", 60_000).ret(1)
        : undefined,
    );
    const ns = u64(reports[0]![1]);
    expect(ns).toBeGreaterThanOrEqual(before - 1_000_000n);
    expect(ns).toBeLessThanOrEqual(BigInt(Date.now() + 1) * 1_000_000n);
    expect(events.some((e) => e.cb === "tick")).toBe(false);
    vm.tick();
    expect(events.filter((e) => e.cb === "tick").map((e) => e.context)).toEqual([1]);
  });

  it("finishes a root context whose proxy_on_done returned false when the module calls proxy_done", async () => {
    const { vm, events, reports } = await probeVm((e) => {
      if (e.cb === "done" && e.context === 1) return script().ret(0);
      if (e.cb === "tick") return script().call("proxy_done").call("proxy_done");
      return undefined;
    });
    events.length = 0;
    vm.close();
    expect(events.map((e) => e.cb)).toEqual(["done"]);
    vm.tick();
    expect(reports.at(-1)).toEqual([WasmResult.Ok, WasmResult.NotFound]);
    await Promise.resolve();
    expect(events.map((e) => [e.cb, e.context])).toEqual([["done", 1], ["tick", 1], ["delete", 1]]);
  });

  it("exposes the configured environment through WASI environ_sizes_get / environ_get", async () => {
    const { reports } = await probeVm(
      (e) =>
        e.cb === "vmStart"
          ? script()
              .call("wasi_snapshot_preview1.environ_sizes_get", scratch(0), scratch(4))
              .scratch(0, 8)
              .call("wasi_snapshot_preview1.environ_get", scratch(16), scratch(64))
              .store(8, scratch(64))
              .store(12, 15)
              .deref(8, 12)
              .ret(1)
          : undefined,
      { environment: { POD: "demo-1", A: "b" } },
    );
    const r = reports[0]!;
    expect(r[0]).toBe(0);
    const sizes = r[1] as Uint8Array;
    expect([u32(sizes), u32(sizes.subarray(4))]).toEqual([2, 15]);
    expect(r[2]).toBe(0);
    expect(str(r[3])).toBe("POD=demo-1\0A=b\0");
  });

  it("applies a close one connection's call asks for another connection (effective context) to that one", async () => {
    const { vm, events } = await probeVm((e) =>
      e.cb === "downstreamData" && e.context === 2 ? script().call("proxy_set_effective_context", 3).call("proxy_close_stream", 2) : undefined,
    );
    const reasons: string[] = [];
    const a = vm.newConnection({ ...addr, onClose: (r) => reasons.push(`a:${r}`) });
    const b = vm.newConnection({ ...addr, onClose: (r) => reasons.push(`b:${r}`) });
    const r = a.downstreamData(text("x"));
    expect(r.closeDownstream).toBe(false);
    expect(a.closed).toBe(false);
    expect(reasons).toEqual(["b:filter-closed-downstream"]);
    expect(b.closed).toBe(true);
    expect(events.slice(-4).map((e) => [e.cb, e.context])).toEqual([["downstreamClose", 3], ["done", 3], ["log", 3], ["delete", 3]]);
  });

  it("does not let a throwing log sink fail the VM", async () => {
    const { vm } = await probeVm((e) => (e.cb === "newConnection" ? script().call("proxy_log", LogLevel.Error, data("x"), 1) : undefined), {
      logger: () => {
        throw new Error("sink down");
      },
    });
    const conn = vm.newConnection(addr);
    expect(conn.newConnectionResult.failed).toBe(false);
    expect(vm.traps).toBe(0);
    expect(vm.logs().map((l) => l.message)).toEqual(["x"]);
  });

  it("lets a tick close a connection through proxy_set_effective_context", async () => {
    const { vm, events } = await probeVm((e) =>
      e.cb === "tick" ? script().call("proxy_set_effective_context", 2).call("proxy_close_stream", 2) : undefined,
    );
    const reasons: string[] = [];
    const conn = vm.newConnection({ ...addr, onClose: (r) => reasons.push(r) });
    vm.tick();
    expect(events.some((e) => e.cb === "tick")).toBe(true);
    expect(reasons).toEqual(["filter-closed-downstream"]);
    expect(conn.closedByFilter).toBe(true);
    expect(conn.closed).toBe(true);
    expect(events.slice(-4).map((e) => [e.cb, e.context])).toEqual([["downstreamClose", 2], ["done", 2], ["log", 2], ["delete", 2]]);
  });
});
