// Frames captured from real sofa-rpc-node + dubbo-remoting peers (scripts/capture-fixtures.ts), decoded
// by the compiled .wasm and compared with what the peers were asked to send and with hessian.js.
import { describe, expect, it } from "vitest";
import { decodeRequestBody, fixtureBytes, fixtureIndex, hessian, loadCodec, prng } from "./helpers.js";

const codec = loadCodec();
codec.configure(8 * 1024 * 1024, 4);
const peers = fixtureIndex.peers;

describe("frames from real peers", () => {
  it("has captures of requests, responses, errors and heartbeats", () => {
    const files = peers.map((p) => p.file);
    expect(files).toContain("peer-request-greet-5-attachments.bin");
    expect(files).toContain("peer-response-exception.bin");
    expect(files).toContain("peer-response-missing-service.bin");
    expect(files).toContain("peer-heartbeat-request.bin");
    expect(files).toContain("peer-heartbeat-response.bin");
  });

  for (const fx of peers.filter((p) => p.file.startsWith("peer-request-"))) {
    it(`decodes ${fx.file}: ${fx.description}`, () => {
      const bytes = fixtureBytes(fx.file);
      const r = codec.decode(bytes);
      expect(r).toEqual({ status: "done", length: bytes.length });
      const f = codec.frameJson();
      const call = fx.call!;
      const ref = decodeRequestBody(bytes);
      expect(f.kind).toBe("request");
      expect(f.twoWay).toBe(true);
      expect(f.serialization).toBe(2);
      expect(f.requestId).toBe(bytes.readBigUInt64BE(4).toString());
      expect(f.bodyLength).toBe(bytes.length - 16);
      expect(f.service).toBe(call.interface);
      expect(f.version).toBe(call.version);
      expect(f.group).toBe(call.group);
      expect(f.dubboVersion).toBe(ref.dubboVersion);
      expect(f.parameterTypes).toBe(ref.parameterTypes);
      expect(f.argCount).toBe(call.args.length);
      if (call.method === "$invoke") {
        expect(f.method).toBe(call.args[0]);
        expect(f.rawMethod).toBe("$invoke");
      } else {
        expect(f.method).toBe(call.method);
      }
      // Attachments: exactly the string entries hessian.js reads, which include every requestProp.
      const refStrings = Object.fromEntries(Object.entries(ref.attachments).filter(([, v]) => typeof v === "string"));
      expect(f.attachments).toEqual(refStrings);
      for (const [k, v] of Object.entries(call.requestProps)) expect((f.attachments as Record<string, string>)[k]).toBe(v);
      // Recorded arguments: strings and numbers as text, other kinds null.
      const expectedArgs = ref.args.slice(0, 4).map((a) => (typeof a === "string" ? a : typeof a === "number" ? String(a) : null));
      if (expectedArgs.length > 0) expect(f.arguments).toEqual(expectedArgs);
    });
  }

  for (const fx of peers.filter((p) => p.file.startsWith("peer-response-"))) {
    it(`decodes ${fx.file}: ${fx.description}`, () => {
      const bytes = fixtureBytes(fx.file);
      expect(codec.decode(bytes)).toEqual({ status: "done", length: bytes.length });
      const f = codec.frameJson();
      expect(f.kind).toBe("response");
      expect(f.twoWay).toBe(false);
      expect(f.status).toBe(bytes[3]);
      const d = new hessian.DecoderV2(bytes.subarray(16));
      if (bytes[3] !== 20) {
        expect(f.errorMessage).toBe(d.readString());
        expect(f.responseFlag).toBeNull();
      } else if (fx.file === "peer-response-null-bare.bin") {
        expect(d.read()).toBeNull();
        expect(f.responseFlag).toBeNull();
      } else {
        const flag = d.read();
        expect(f.responseFlag).toBe(flag);
        if (flag !== 2) d.read(); // the value or exception: hessian.js must end exactly where the body ends
        expect(d.byteBuffer.position()).toBe(bytes.length - 16);
      }
    });
  }

  it("reads the exception response (class definitions, typed lists, references) as flag 0", () => {
    codec.decode(fixtureBytes("peer-response-exception.bin"));
    expect(codec.frameJson()).toMatchObject({ kind: "response", status: 20, responseFlag: 0 });
  });

  it("decodes heartbeats from dubbo-remoting and the provider's reply", () => {
    const req = fixtureBytes("peer-heartbeat-request.bin");
    codec.decode(req);
    expect(codec.frameJson()).toEqual({ kind: "heartbeat", requestId: "1234567", twoWay: true, serialization: 2, bodyLength: 1 });
    codec.decode(fixtureBytes("peer-heartbeat-response.bin"));
    expect(codec.frameJson()).toEqual({ kind: "heartbeat", requestId: "1234567", twoWay: false, serialization: 2, status: 20, bodyLength: 1 });
  });
});

describe("streaming", () => {
  const all = peers.map((p) => fixtureBytes(p.file));

  it("answers need-more at every prefix length of every fixture, then the full result", () => {
    for (const bytes of all) {
      for (let n = 0; n < bytes.length; n++) {
        const r = codec.decode(bytes.subarray(0, n));
        if (r.status !== "need-more") throw new Error(`prefix ${n} of a ${bytes.length}-byte frame gave ${JSON.stringify(r)}`);
      }
      expect(codec.decode(bytes)).toEqual({ status: "done", length: bytes.length });
    }
  });

  it("decodes several frames in one chunk in order, each as when alone", () => {
    const single = all.map((b) => {
      codec.decode(b);
      return codec.frameJson();
    });
    const stream = Buffer.concat(all);
    const r = codec.decodeStream(stream);
    expect(r.error).toBeUndefined();
    expect(r.frames).toEqual(single);
  });

  it("gives the same frames for arbitrary splits of the stream (seeded)", () => {
    const stream = Buffer.concat(all);
    const expected = codec.decodeStream(stream).frames;
    const rnd = prng(42);
    for (let round = 0; round < 20; round++) {
      // Feed chunks of random size; keep unconsumed bytes and decode from the frame start, as a filter does.
      let pending = Buffer.alloc(0);
      const frames: Record<string, unknown>[] = [];
      let off = 0;
      while (off < stream.length) {
        const size = 1 + Math.floor(rnd() * (round % 2 === 0 ? 64 : 4096));
        pending = Buffer.concat([pending, stream.subarray(off, off + size)]);
        off += size;
        for (;;) {
          const r = codec.decode(pending);
          if (r.status === "error") throw new Error(r.message);
          if (r.status === "need-more") break;
          frames.push(codec.frameJson());
          pending = pending.subarray(r.length);
        }
      }
      expect(pending.length).toBe(0);
      expect(frames).toEqual(expected);
    }
  });
});
