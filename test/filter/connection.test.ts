// A connection's life through the host: new connection, non-Dubbo policies, malformed frames, close
// from both sides, upstream responses, and the metrics and properties as Envoy would show them.
import { describe, expect, it } from "vitest";
import { Action, LogLevel, PeerType } from "../../proxy/host/index.js";
import { decodeRequest, header, heartbeatFrame, requestFrame, responseFrame } from "../../dev/dubbo-frames.js";
import { baseConfig, connect, DEFAULT_CLUSTER, feed, metric, startFilter, V2_CLUSTER } from "./filter-vm.js";

describe("connection", () => {
  it("accepts a new connection with Continue and counts it", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    expect(conn.newConnectionResult.action).toBe(Action.Continue);
    expect(conn.newConnectionResult.closeDownstream).toBe(false);
    expect(metric(vm, "dubbo_mesh.cx_total")).toBe(1);
    expect(metric(vm, "dubbo_mesh.cx_active")).toBe(1);
  });

  it("passes heartbeats and events untouched", async () => {
    const vm = await startFilter(baseConfig());
    // A readonly event (one-way event, body "R").
    const readonly = Buffer.concat([header(0x22, 20, 9, 2), Buffer.from([0x01, 0x52])]);
    const bytes = Buffer.concat([heartbeatFrame(1), readonly, heartbeatFrame(2)]);
    const r = connect(vm).downstreamData(bytes);
    expect(r.action).toBe(Action.Continue);
    expect(Buffer.from(r.forwarded).equals(bytes)).toBe(true);
    expect(metric(vm, "dubbo_mesh.heartbeats")).toBe(2);
    expect(metric(vm, "dubbo_mesh.events")).toBe(1);
  });

  it("passes a request in another serialization unmodified, routed without a body (as no service matched)", async () => {
    const vm = await startFilter({ version: 1, defaultCluster: "top", services: [{ interface: "org.example.*", defaultCluster: "svc" }] });
    const conn = connect(vm);
    // Serialization id 6 (fastjson): the header is read, the body is not decoded.
    const body = Buffer.from('"2.0.2"\n"org.example.Api"\n"1.0"\n"call"\n""\n{}\n');
    const frame = Buffer.concat([header(0xc6, 0, 5, body.length), body]);
    const r = conn.downstreamData(frame);
    expect(r.action).toBe(Action.Continue);
    expect(Buffer.from(r.forwarded).equals(frame)).toBe(true);
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toBe("top");
    expect(metric(vm, "dubbo_mesh.requests.service._.method._.route.default")).toBe(1);
  });

  it("closes a connection that is not Dubbo under nonDubbo: close", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    const r = conn.downstreamData(Buffer.from("ls -l\r\n"));
    expect(r.forwarded.length).toBe(0);
    expect(r.closeDownstream).toBe(true);
    expect(conn.closed).toBe(true);
    expect(metric(vm, "dubbo_mesh.non_dubbo")).toBe(1);
    expect(vm.logs(LogLevel.Info).some((e) => /is not Dubbo \(first bytes are not 0xdabb\); closing it \(nonDubbo: close\)/.test(e.message))).toBe(true);
  });

  it("recognises non-Dubbo bytes from the first byte, even in 1-byte reads", async () => {
    const vm = await startFilter(baseConfig());
    const r = feed(connect(vm), Buffer.from("GET / HTTP/1.1\r\n\r\n"), 1);
    expect(r.closed).toBe(true);
    expect(r.calls).toHaveLength(1);
  });

  it("passes everything of a non-Dubbo connection under nonDubbo: passthrough", async () => {
    const config = baseConfig();
    config.nonDubbo = "passthrough";
    const vm = await startFilter(config);
    const conn = connect(vm);
    // The first byte is the magic's first byte: held until the second shows it is not Dubbo.
    const first = conn.downstreamData(Buffer.from([0xda]));
    expect(first.action).toBe(Action.Pause);
    const second = conn.downstreamData(Buffer.from("xyz"));
    expect(second.action).toBe(Action.Continue);
    expect(Buffer.from(second.forwarded).equals(Buffer.from([0xda, ...Buffer.from("xyz")]))).toBe(true);
    // From now on bytes pass as they come, even Dubbo-looking ones.
    const later = Buffer.concat([requestFrame({ id: 1 }).subarray(0, 10)]);
    const third = conn.downstreamData(later);
    expect(third.action).toBe(Action.Continue);
    expect(Buffer.from(third.forwarded).equals(later)).toBe(true);
    expect(metric(vm, "dubbo_mesh.non_dubbo")).toBe(1);
    expect(conn.closed).toBe(false);
  });

  it("closes the connection on a malformed body; as in Envoy nothing of that read goes on", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    const earlier = conn.downstreamData(requestFrame({ id: 2 }));
    expect(decodeRequest(earlier.forwarded).id).toBe(2n);
    // A request whose body is a reserved Hessian byte (0x40).
    const bad = Buffer.concat([header(0xc2, 0, 7, 4), Buffer.from([0x40, 0x40, 0x40, 0x40])]);
    const good = requestFrame({ id: 6 });
    const r = conn.downstreamData(Buffer.concat([good, bad, requestFrame({ id: 8 })]));
    expect(r.closeDownstream).toBe(true);
    // Envoy closes after the call and its filter manager hands nothing on from a closed connection.
    expect(r.forwarded.length).toBe(0);
    expect(metric(vm, "dubbo_mesh.decode_errors")).toBe(1);
    // The offset is counted in the client's stream: the first read, then the good frame, then the bad body.
    const at = requestFrame({ id: 2 }).length + good.length + 16;
    expect(vm.logs(LogLevel.Warn).map((e) => e.message)).toContainEqual(
      expect.stringMatching(new RegExp(`malformed Dubbo frame: unexpected hessian value 0x40 in dubbo version at stream offset ${at}; closing the connection`)),
    );
    expect(vm.traps).toBe(0);
  });

  it("treats bad magic after valid frames as malformed, not as non-Dubbo", async () => {
    const config = baseConfig();
    config.nonDubbo = "passthrough";
    const vm = await startFilter(config);
    const conn = connect(vm);
    conn.downstreamData(requestFrame({ id: 1 }));
    const r = conn.downstreamData(Buffer.from("garbage after frames"));
    expect(r.closeDownstream).toBe(true);
    expect(metric(vm, "dubbo_mesh.decode_errors")).toBe(1);
    expect(metric(vm, "dubbo_mesh.non_dubbo")).toBe(0);
  });

  it("ends cleanly when the client closes (with a partial frame kept) and when the upstream closes", async () => {
    const vm = await startFilter(baseConfig());
    const a = connect(vm);
    a.downstreamData(requestFrame({ id: 1 }).subarray(0, 20));
    a.closeDownstream(PeerType.Remote);
    expect(a.closed).toBe(true);
    const b = connect(vm);
    b.downstreamData(requestFrame({ id: 2 }));
    b.closeUpstream(PeerType.Remote);
    expect(b.closed).toBe(false);
    b.closeDownstream(PeerType.Local);
    expect(b.closed).toBe(true);
    expect(metric(vm, "dubbo_mesh.cx_total")).toBe(2);
    expect(metric(vm, "dubbo_mesh.cx_active")).toBe(0);
    expect(vm.traps).toBe(0);
  });

  it("passes responses upstream untouched and counts them by status, whatever the chunking", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    conn.downstreamData(requestFrame({ id: 1 }));
    const bytes = Buffer.concat([responseFrame(1, 20, "hello " + "z".repeat(500)), heartbeatFrame(3), responseFrame(2, 70, "boom"), responseFrame(4, 20), responseFrame(5, 77, "odd")]);
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) {
      const r = conn.upstreamData(bytes.subarray(i, i + 7));
      expect(r.action).toBe(Action.Continue);
      out.push(Buffer.from(r.forwarded));
    }
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
    expect(metric(vm, "dubbo_mesh.responses.status.20")).toBe(2);
    expect(metric(vm, "dubbo_mesh.responses.status.70")).toBe(1);
    expect(metric(vm, "dubbo_mesh.responses.status.other")).toBe(1);
    expect(metric(vm, "dubbo_mesh.upstream_bytes")).toBe(bytes.length);
  });

  it("shows metrics and properties as Envoy would", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    const bytes = Buffer.concat([
      requestFrame({ id: 1, attachments: { "dubbo.tag": "gray" } }),
      requestFrame({ id: 2, method: "greet" }),
      requestFrame({ id: 3, method: "greet" }),
    ]);
    conn.downstreamData(bytes);
    const names = vm
      .metrics()
      .filter((m) => m.value !== 0)
      .map((m) => `${m.kind} ${m.name} ${m.value}`)
      .sort();
    expect(names).toEqual(
      [
        "counter dubbo_mesh.cx_total 1",
        `counter dubbo_mesh.downstream_bytes ${bytes.length}`,
        "counter dubbo_mesh.requests.service.org_apache_dubbo_demo_DemoService.method.greet.route.default 2",
        "counter dubbo_mesh.requests.service.org_apache_dubbo_demo_DemoService.method.sayHello.route.gray 1",
        "gauge dubbo_mesh.cx_active 1",
      ].sort(),
    );
    // proxy_set_property keeps them as filter state "wasm.<path>" (the last request's values).
    expect(conn.filterState.get("wasm.dubbo_mesh.service")).toBe("org.apache.dubbo.demo.DemoService");
    expect(conn.filterState.get("wasm.dubbo_mesh.method")).toBe("greet");
    expect(conn.filterState.get("wasm.dubbo_mesh.route")).toBe("default");
    expect(conn.filterState.get("wasm.dubbo_mesh.cluster")).toBe(DEFAULT_CLUSTER);
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toBe(V2_CLUSTER);
  });

  it("bounds the per-request counters: names past the limit count as overflow", async () => {
    const vm = await startFilter({ version: 1, services: [{ interface: "*", defaultCluster: "c" }] });
    const frames = Array.from({ length: 1030 }, (_, i) => requestFrame({ id: i, method: `m${i}` }));
    connect(vm).downstreamData(Buffer.concat(frames));
    const requestMetrics = vm.metrics().filter((m) => m.name.startsWith("dubbo_mesh.requests.service."));
    expect(requestMetrics).toHaveLength(1024);
    expect(metric(vm, "dubbo_mesh.requests_overflow")).toBe(6);
  });
});
