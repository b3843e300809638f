import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { FrameReader } from "../../proxy/server/frame-reader.js";
import { HEADER_LENGTH, Status, errorResponse, heartbeatReply, hessianString, readonlyEvent } from "../../proxy/server/dubbo-wire.js";

const require = createRequire(import.meta.url);
const hessian = require("hessian.js") as {
  decode(buf: Buffer, version: string): unknown;
  encode(v: unknown, version: string): Buffer;
};
// dubbo-remoting's own response decoder: what a Node Dubbo consumer makes of our frames.
const Response = require("dubbo-remoting/lib/protocol/response.js") as {
  decode(buf: Buffer): { packetId: number; packetType: string; data: { error: Error | null } | null };
};

// ... and its request decoder: what a Node Dubbo consumer makes of a request (or event) a server sends it.
const Request = require("dubbo-remoting/lib/protocol/request.js") as {
  decode(buf: Buffer): { packetId: number; packetType: string; data: unknown };
};

function frame(flags: number, id: number, body: Buffer, status = 0): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flags;
  h[3] = status;
  h.writeUInt32BE(Math.floor(id / 2 ** 32), 4);
  h.writeUInt32BE(id >>> 0, 8);
  h.writeInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

describe("hessian2 strings", () => {
  for (const s of ["", "x", "a".repeat(31), "b".repeat(32), "c".repeat(1023), "d".repeat(1024), "é中😀 mixed", "z".repeat(70000)]) {
    it(`round-trips through hessian.js: ${JSON.stringify(s.slice(0, 12))} (${s.length} units)`, () => {
      expect(hessian.decode(hessianString(s), "2.0")).toBe(s);
      if (s.length <= 1023) expect(hessianString(s)).toEqual(hessian.encode(s, "2.0"));
    });
  }
});

describe("frames the proxy builds", () => {
  it("an error response that dubbo-remoting decodes as an error with our message and the same id", () => {
    const buf = errorResponse(0, 123456, Status.SERVICE_NOT_FOUND, "dubbo-mesh: no route for Demo.sayHello");
    expect(buf.readUInt16BE(0)).toBe(0xdabb);
    expect(buf[2]).toBe(2); // response, hessian2
    expect(buf[3]).toBe(60);
    const decoded = Response.decode(buf);
    expect(decoded.packetId).toBe(123456);
    expect(decoded.packetType).toBe("response");
    expect(decoded.data?.error?.message).toBe("dubbo-mesh: no route for Demo.sayHello");
  });

  it("keeps a 64-bit id", () => {
    const buf = errorResponse(0x12345678, 0x9abcdef0, Status.SERVER_TIMEOUT, "t");
    expect(buf.readBigUInt64BE(4)).toBe(0x123456789abcdef0n);
  });

  it("a heartbeat reply echoes the id with flags 0x22, status 20 and body N", () => {
    const req = frame(0xe2, 77, Buffer.from([0x4e]));
    const reply = heartbeatReply(req, 0);
    expect([...reply]).toEqual([0xda, 0xbb, 0x22, 20, 0, 0, 0, 0, 0, 0, 0, 77, 0, 0, 0, 1, 0x4e]);
    expect(Response.decode(reply).packetType).toBe("heartbeat_ack");
  });

  it("the readonly event: a one-way request event (flags 0xa2) whose body is the hessian2 string R", () => {
    const event = readonlyEvent();
    expect([...event]).toEqual([0xda, 0xbb, 0xa2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x01, 0x52]);
    expect(hessian.decode(event.subarray(HEADER_LENGTH), "2.0")).toBe("R");
    // dubbo-remoting decodes every request event as its "heartbeat" packet type, with the event's data
    const decoded = Request.decode(event);
    expect(decoded.packetType).toBe("heartbeat");
    expect(decoded.data).toBe("R");
  });
});

describe("FrameReader", () => {
  const collect = (max = 1 << 20) => {
    const frames: string[] = [];
    const errors: string[] = [];
    const reader = new FrameReader(
      {
        frame: (b, s, e) => frames.push(b.subarray(s, e).toString("hex")),
        malformed: (r) => errors.push(r),
      },
      max,
    );
    return { reader, frames, errors };
  };
  const stream = Buffer.concat([frame(0xc2, 1, Buffer.from("hello")), frame(0x02, 2, Buffer.alloc(0), 20), frame(0xc2, 3, Buffer.alloc(300, 7))]);
  const expected = [frame(0xc2, 1, Buffer.from("hello")), frame(0x02, 2, Buffer.alloc(0), 20), frame(0xc2, 3, Buffer.alloc(300, 7))].map((f) =>
    f.toString("hex"),
  );

  it("splits frames delivered at once, without copying", () => {
    const seen: Buffer[] = [];
    const r = new FrameReader({ frame: (b) => seen.push(b), malformed: () => undefined }, 1 << 20);
    r.push(stream);
    expect(seen).toHaveLength(3);
    for (const b of seen) expect(b).toBe(stream);
  });

  it("splits the same frames at every cut point of the stream (not enough data at each prefix)", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { reader, frames, errors } = collect();
      reader.push(stream.subarray(0, cut));
      reader.push(stream.subarray(cut));
      expect(errors).toEqual([]);
      expect(frames).toEqual(expected);
      expect(reader.buffered).toBe(0);
    }
  });

  it("splits byte by byte", () => {
    const { reader, frames } = collect();
    for (let i = 0; i < stream.length; i++) reader.push(stream.subarray(i, i + 1));
    expect(frames).toEqual(expected);
  });

  it("rejects a bad magic, naming it, and stops", () => {
    const { reader, frames, errors } = collect();
    reader.push(Buffer.concat([frame(0xc2, 1, Buffer.from("ok")), Buffer.from("GET / HTTP/1.1\r\n\r\n")]));
    expect(frames).toHaveLength(1);
    expect(errors).toEqual(["not a Dubbo frame: magic 0x4745, expected 0xdabb"]);
    reader.push(frame(0xc2, 2, Buffer.from("x")));
    expect(frames).toHaveLength(1);
  });

  it("rejects a bad magic in a short trailing piece", () => {
    const { reader, errors } = collect();
    reader.push(Buffer.from("GE"));
    expect(errors).toHaveLength(1);
  });

  it("rejects a length over the limit as soon as the header is read", () => {
    const { reader, errors } = collect(1000);
    const h = frame(0xc2, 1, Buffer.alloc(0));
    h.writeInt32BE(1001, 12);
    reader.push(h);
    expect(errors).toEqual(["Dubbo frame body length 1001 outside 0..1000"]);
  });

  it("rejects a negative length", () => {
    const { reader, errors } = collect();
    const h = frame(0xc2, 1, Buffer.alloc(0));
    h.writeInt32BE(-5, 12);
    reader.push(h);
    expect(errors[0]).toMatch(/body length -5/);
  });
});
