// Envoy's network buffer semantics through the host: the callback sees the whole accumulated buffer, Pause keeps
// it and appends, Continue forwards the whole (possibly rewritten) buffer and drains it; set_buffer_bytes
// replaces a prefix (start 0), appends (start >= length) or refuses (BadArgument).

import { describe, expect, it } from "vitest";
import { Action, BufferType, PeerType, WasmResult } from "../../proxy/host/index.js";
import { NetworkBuffer } from "../../proxy/host/network-buffer.js";
import { data, probeVm, scratch, script, type CallbackEvent, type Script } from "./probe-script.js";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | number | undefined) => new TextDecoder().decode(b as Uint8Array);
const PAUSE = 1;
const CONTINUE = 0;

/** Reads the whole downstream (or upstream) buffer into the report, then runs `then`, then returns `action`. */
function readAll(type: BufferType, then: (s: Script) => Script, action: number): Script {
  return then(script().call("proxy_get_buffer_bytes", type, 0, 0xffffffff, scratch(0), scratch(4)).deref(0, 4)).ret(action);
}

async function connectionWith(plan: (e: CallbackEvent) => Script | undefined) {
  const probe = await probeVm(plan);
  const conn = probe.vm.newConnection({ source: "10.0.0.1:40000", destination: "10.0.0.2:20880" });
  return { ...probe, conn };
}

describe("downstream data", () => {
  it("Pause keeps the bytes, later bytes are appended and the callback sees the whole buffer; Continue forwards all of it and drains", async () => {
    const actions = [PAUSE, PAUSE, CONTINUE, CONTINUE];
    const { conn, events, reports } = await connectionWith((e) =>
      e.cb === "downstreamData" ? readAll(BufferType.DownstreamData, (s) => s, actions.shift()!) : undefined,
    );
    const r1 = conn.downstreamData(text("ab"));
    expect(r1.action).toBe(Action.Pause);
    expect(r1.forwarded).toHaveLength(0);
    const r2 = conn.downstreamData(text("cd"));
    expect(r2.forwarded).toHaveLength(0);
    const r3 = conn.downstreamData(text("ef"), true);
    expect(r3.action).toBe(Action.Continue);
    expect(str(r3.forwarded)).toBe("abcdef");
    const r4 = conn.downstreamData(text("gh"));
    expect(str(r4.forwarded)).toBe("gh");
    const data = events.filter((e) => e.cb === "downstreamData");
    expect(data.map((e) => [e.a, e.b])).toEqual([[2, 0], [4, 0], [6, 1], [2, 0]]);
    expect(reports.map((r) => str(r[1]))).toEqual(["ab", "abcd", "abcdef", "gh"]);
  });

  it("forwards the caller's own array when the filter did not touch it, and copies what it holds on Pause", async () => {
    const actions = [CONTINUE, PAUSE, CONTINUE];
    const { conn } = await connectionWith((e) => (e.cb === "downstreamData" ? script().ret(actions.shift()!) : undefined));
    const chunk = text("xyz");
    expect(conn.downstreamData(chunk).forwarded).toBe(chunk);
    const held = text("123");
    conn.downstreamData(held);
    held.fill(0x21); // the caller reuses its array: the host must have kept a copy
    expect(str(conn.downstreamData(text("4")).forwarded)).toBe("1234");
  });

  it("replace-prefix: start 0 drains `length` bytes and prepends the new bytes", async () => {
    const { conn, reports } = await connectionWith((e) =>
      e.cb === "downstreamData"
        ? script()
            .call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, 3, data("XY"), 2)
            .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 0, 100, scratch(0), scratch(4))
            .deref(0, 4)
            .ret(CONTINUE)
        : undefined,
    );
    const r = conn.downstreamData(text("abcdef"));
    expect(reports[0]![0]).toBe(WasmResult.Ok);
    expect(str(reports[0]![2])).toBe("XYdef");
    expect(str(r.forwarded)).toBe("XYdef");
  });

  it("start 0 with length 0 prepends; a length at or past the end replaces everything", async () => {
    const ops: Array<[number, string]> = [[0, ">>"], [100, "new"]];
    const { conn } = await connectionWith((e) => {
      if (e.cb !== "downstreamData") return undefined;
      const [len, bytes] = ops.shift()!;
      return script().call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, len, data(bytes), bytes.length).ret(CONTINUE);
    });
    expect(str(conn.downstreamData(text("abc")).forwarded)).toBe(">>abc");
    expect(str(conn.downstreamData(text("abc")).forwarded)).toBe("new");
  });

  it("start at or past the end appends; a start inside the buffer is BadArgument and changes nothing", async () => {
    const starts = [6, 50, 2];
    const { conn, reports } = await connectionWith((e) =>
      e.cb === "downstreamData"
        ? script().call("proxy_set_buffer_bytes", BufferType.DownstreamData, starts.shift()!, 0, data("ZZ"), 2).ret(CONTINUE)
        : undefined,
    );
    expect(str(conn.downstreamData(text("abcdef")).forwarded)).toBe("abcdefZZ");
    expect(str(conn.downstreamData(text("abcdef")).forwarded)).toBe("abcdefZZ");
    expect(str(conn.downstreamData(text("abcdef")).forwarded)).toBe("abcdef");
    expect(reports.map((r) => r[0])).toEqual([WasmResult.Ok, WasmResult.Ok, WasmResult.BadArgument]);
  });

  it("the filter can hold a tail: replace the buffer with complete frames and keep the rest in its memory", async () => {
    // Rewrite "abc|de" → forward "ABC", keep "de" out of the buffer; next call prepends it back.
    const steps: Script[] = [
      script().call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, 6, data("ABC"), 3).ret(CONTINUE),
      script().call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, 0, data("de"), 2).ret(CONTINUE),
    ];
    const { conn } = await connectionWith((e) => (e.cb === "downstreamData" ? steps.shift() : undefined));
    expect(str(conn.downstreamData(text("abc|de")).forwarded)).toBe("ABC");
    expect(str(conn.downstreamData(text("f")).forwarded)).toBe("def");
  });

  it("get_buffer_bytes clamps the range, answers 0/0 past the end, and get_buffer_status gives the length", async () => {
    const { conn, reports } = await connectionWith((e) =>
      e.cb === "downstreamData"
        ? script()
            .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 2, 100, scratch(0), scratch(4))
            .deref(0, 4)
            .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 9, 5, scratch(8), scratch(12))
            .scratch(8, 8)
            .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 1, 0, scratch(16), scratch(20))
            .scratch(16, 8)
            .call("proxy_get_buffer_status", BufferType.DownstreamData, scratch(24), scratch(28))
            .scratch(24, 8)
            .ret(CONTINUE)
        : undefined,
    );
    conn.downstreamData(text("abcdef"));
    const r = reports[0]!;
    expect(r[0]).toBe(WasmResult.Ok);
    expect(str(r[1])).toBe("cdef");
    expect(r[2]).toBe(WasmResult.Ok);
    expect([...(r[3] as Uint8Array)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...(r[5] as Uint8Array)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(r[6]).toBe(WasmResult.Ok);
    expect([...(r[7] as Uint8Array)]).toEqual([6, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("proxy_continue_stream(Downstream) during a paused call forwards the buffer anyway, as Envoy's continueReading", async () => {
    const { conn, reports } = await connectionWith((e) =>
      e.cb === "downstreamData"
        ? script().call("proxy_continue_stream", 2).call("proxy_continue_stream", 3).call("proxy_continue_stream", 9).ret(PAUSE)
        : undefined,
    );
    const r = conn.downstreamData(text("abc"));
    expect(r.action).toBe(Action.Continue);
    expect(str(r.forwarded)).toBe("abc");
    expect(reports[0]).toEqual([WasmResult.Ok, WasmResult.Unimplemented, WasmResult.BadArgument]);
  });
});

describe("upstream data", () => {
  it("has the same semantics, and end of stream reports the upstream close after the data call", async () => {
    const actions = [PAUSE, CONTINUE];
    const { conn, events, reports } = await connectionWith((e) =>
      e.cb === "upstreamData" ? readAll(BufferType.UpstreamData, (s) => s, actions.shift()!) : undefined,
    );
    expect(conn.upstreamData(text("12")).forwarded).toHaveLength(0);
    const r = conn.upstreamData(text("34"), true);
    expect(str(r.forwarded)).toBe("1234");
    expect(reports.map((x) => str(x[1]))).toEqual(["12", "1234"]);
    const tail = events.slice(-2).map((e) => [e.cb, e.a]);
    expect(tail).toEqual([["upstreamData", 4], ["upstreamClose", PeerType.Unknown]]);
    expect(conn.upstreamClosed).toBe(true);
  });

  it("keeps the two directions apart", async () => {
    const { conn } = await connectionWith((e) =>
      e.cb === "upstreamData"
        ? script().call("proxy_set_buffer_bytes", BufferType.DownstreamData, 0, 0, data("D"), 1).ret(CONTINUE)
        : e.cb === "downstreamData"
          ? script().ret(PAUSE)
          : undefined,
    );
    conn.downstreamData(text("down"));
    expect(str(conn.upstreamData(text("up")).forwarded)).toBe("up");
  });
});

describe("other buffers", () => {
  it("plugin configuration is readable during proxy_on_configure only; VM configuration always; both are read-only", async () => {
    const { vm, reports } = await probeVm(
      (e) => {
        if (e.cb === "configure" || e.cb === "newConnection") {
          return script()
            .call("proxy_get_buffer_bytes", BufferType.PluginConfiguration, 0, 100, scratch(0), scratch(4))
            .deref(0, 4)
            .call("proxy_get_buffer_bytes", BufferType.VmConfiguration, 0, 100, scratch(8), scratch(12))
            .deref(8, 12)
            .call("proxy_set_buffer_bytes", BufferType.VmConfiguration, 0, 0, data("x"), 1)
            .call("proxy_get_buffer_bytes", BufferType.HttpRequestBody, 0, 100, scratch(16), scratch(20))
            .call("proxy_get_buffer_bytes", 9, 0, 100, scratch(16), scratch(20))
            .call("proxy_get_buffer_bytes", BufferType.DownstreamData, 0, 100, scratch(16), scratch(20))
            .ret(e.cb === "configure" ? 1 : 0);
        }
        return undefined;
      },
      { pluginConfig: '{"routes":[]}', vmConfig: "vm-cfg" },
    );
    vm.newConnection({ source: "127.0.0.1:1", destination: "127.0.0.1:2" });
    const [, inConfigure, inConnection] = reports; // the first is the canary's proxy_on_configure (docs/host.md)
    expect(inConfigure!.slice(0, 4).map((x) => (typeof x === "number" ? x : str(x)))).toEqual([0, '{"routes":[]}', 0, "vm-cfg"]);
    expect(inConfigure!.slice(4)).toEqual([WasmResult.BadArgument, WasmResult.NotFound, WasmResult.BadArgument, WasmResult.NotFound]);
    expect(inConnection![0]).toBe(WasmResult.NotFound);
    expect(inConnection![7]).toBe(WasmResult.Ok); // downstream buffer of a connection (empty)
  });
});

describe("NetworkBuffer", () => {
  it("supports prepend beyond its headroom, drain past the end and reuse after take", () => {
    const b = new NetworkBuffer();
    b.add(text("world"));
    b.prepend(text("hello ".repeat(100)));
    expect(b.length).toBe(605);
    b.drain(600);
    expect(str(b.content())).toBe("world");
    b.append(text("!"));
    b.drain(1000);
    expect(b.length).toBe(0);
    b.add(text("x"));
    expect(str(b.take())).toBe("x");
    expect(b.take()).toHaveLength(0);
  });

  it("arrays handed out by take() stay the caller's: later edits of any buffer never write into them", () => {
    const a = new NetworkBuffer();
    const b = new NetworkBuffer();
    const kept: { bytes: Uint8Array; expected: number[] }[] = [];
    // Enough edited takes (drain + prepend of ~1.3 KiB, as a read-replace filter does) to span several slabs.
    for (let i = 0; i < 300; i++) {
      for (const [buf, fill] of [
        [a, i % 251],
        [b, (i * 7) % 251],
      ] as const) {
        const chunk = new Uint8Array(1000 + (i % 400)).fill(fill);
        buf.add(new Uint8Array(chunk.length));
        buf.drain(chunk.length);
        buf.prepend(chunk);
        if (i % 3 === 0) buf.append(Uint8Array.of(fill));
        const bytes = buf.take();
        kept.push({ bytes, expected: [...bytes] });
      }
    }
    expect(kept[0].expected).toHaveLength(1001);
    for (const k of kept) expect([...k.bytes]).toEqual(k.expected);
  });

  it("copies what it holds when the filter pauses: the caller may reuse its arrays", () => {
    const b = new NetworkBuffer();
    const first = Uint8Array.from([1, 2, 3]);
    b.add(first);
    b.own(); // the filter paused
    const reused = Uint8Array.from([4, 5]);
    b.add(reused);
    b.own();
    reused.fill(9);
    b.add(reused.fill(6)); // the caller's array again, new bytes
    b.own();
    first.fill(0);
    reused.fill(0);
    expect(b.length).toBe(7);
    expect([...b.content()]).toEqual([1, 2, 3, 4, 5, 6, 6]);
    expect([...b.take()]).toEqual([1, 2, 3, 4, 5, 6, 6]);
    expect(b.length).toBe(0);
  });

  it("matches a plain array model over a seeded sequence of edits", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const b = new NetworkBuffer();
    let model: number[] = [];
    for (let step = 0; step < 800; step++) {
      const chunk = Array.from({ length: rand(1500) }, () => rand(256));
      switch (rand(6)) {
        case 0:
          b.add(Uint8Array.from(chunk));
          model.push(...chunk);
          break;
        case 1:
          b.append(Uint8Array.from(chunk));
          model.push(...chunk);
          break;
        case 2:
          b.prepend(Uint8Array.from(chunk));
          model = [...chunk, ...model];
          break;
        case 3: {
          const n = rand(model.length + 10);
          b.drain(n);
          model = model.slice(n);
          break;
        }
        case 4:
          b.own();
          break;
        default:
          expect([...b.take()]).toEqual(model);
          model = [];
      }
      expect(b.length).toBe(model.length);
    }
    expect([...b.content()]).toEqual(model);
  });
});
