// The encoder of the .wasm: heartbeat replies, error responses and requests re-encoded with
// attachments, checked with independent decoders (dubbo-remoting, hessian.js) and a real provider.
import { createRequire } from "node:module";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { startProvider } from "../support/dubbo-peers.js";
import { decodeRequestBody, fixtureBytes, fixtureIndex, hessian, loadCodec } from "./helpers.js";

const require = createRequire(import.meta.url);
interface Packet {
  packetId: number;
  packetType: string;
  data: { error?: Error | null; requestProps?: Record<string, string>; methodName?: string; args?: unknown[] } | null;
}
const dubboProtocol = require("dubbo-remoting/lib/protocol") as { decode(buf: Buffer, options: object): Packet };

const codec = loadCodec();
codec.configure(8 * 1024 * 1024, 4);

describe("heartbeat reply", () => {
  it("echoes the id with flags 0x22, status 20 and a null body", () => {
    const bytes = Buffer.from(codec.heartbeatReply(1234567n));
    expect([...bytes]).toEqual([
      0xda, 0xbb, // magic
      0x22, // response | event | hessian2
      0x14, // status 20
      0, 0, 0, 0, 0, 0x12, 0xd6, 0x87, // id 1234567
      0, 0, 0, 1, // body length
      0x4e, // null
    ]);
    const packet = dubboProtocol.decode(bytes, {});
    expect(packet).toMatchObject({ packetId: 1234567, packetType: "heartbeat_ack", data: null });
  });

  it("keeps all 64 bits of the id", () => {
    const bytes = Buffer.from(codec.heartbeatReply(0xfedcba9876543210n));
    expect(bytes.readBigUInt64BE(4)).toBe(0xfedcba9876543210n);
  });
});

describe("error response", () => {
  for (const message of ["no destination for org.apache.dubbo.demo.DemoService", "ünïcödé 世界 😀", "x".repeat(40000) + "😀"]) {
    it(`carries the status and a ${message.length}-unit message`, () => {
      const bytes = Buffer.from(codec.errorResponse(77n, 60, message));
      expect(bytes.readUInt16BE(0)).toBe(0xdabb);
      expect(bytes[2]).toBe(0x02); // response, hessian2
      expect(bytes[3]).toBe(60);
      expect(bytes.readBigUInt64BE(4)).toBe(77n);
      expect(bytes.readInt32BE(12)).toBe(bytes.length - 16);
      expect(new hessian.DecoderV2(bytes.subarray(16)).readString()).toBe(message);
      const packet = dubboProtocol.decode(bytes, {});
      expect(packet.packetId).toBe(77);
      expect(packet.data?.error?.message).toBe(message);
      expect(codec.decode(bytes)).toEqual({ status: "done", length: bytes.length });
      expect(codec.frameJson()).toMatchObject({ kind: "response", status: 60, errorMessage: message });
    });
  }
});

describe("request re-encoded with attachments", () => {
  const requests = fixtureIndex.peers.filter((p) => p.file.startsWith("peer-request-"));
  const cluster = "outbound|20880|v2|demoservice.1-0-0.dubbo";

  for (const fx of requests) {
    it(`adds an attachment to ${fx.file}; hessian.js and dubbo-remoting see the original plus it`, () => {
      const original = fixtureBytes(fx.file);
      const rewritten = Buffer.from(codec.rewrite(original, { "x-dubbo-mesh-cluster": cluster }));
      // Header: same magic, flags, status and id; corrected body length.
      expect(rewritten.subarray(0, 12)).toEqual(original.subarray(0, 12));
      expect(rewritten.readInt32BE(12)).toBe(rewritten.length - 16);
      const before = decodeRequestBody(original);
      const after = decodeRequestBody(rewritten);
      expect(after).toEqual({ ...before, attachments: { ...before.attachments, "x-dubbo-mesh-cluster": cluster } });
      const packet = dubboProtocol.decode(rewritten, {});
      expect(packet.data?.requestProps?.["x-dubbo-mesh-cluster"]).toBe(cluster);
      expect(packet.data?.args).toEqual(dubboProtocol.decode(original, {}).data?.args);
      // The .wasm decodes it too.
      codec.decode(original);
      const was = codec.frameJson();
      expect(codec.decode(rewritten)).toEqual({ status: "done", length: rewritten.length });
      const now = codec.frameJson();
      expect(now).toEqual({ ...was, attachments: { ...(was.attachments as object), "x-dubbo-mesh-cluster": cluster }, bodyLength: rewritten.length - 16 });
    });
  }

  it("replaces the value of an existing key in place and appends new ones", () => {
    const original = fixtureBytes("peer-request-greet-5-attachments.bin");
    const rewritten = Buffer.from(codec.rewrite(original, { "dubbo.tag": "blue-ünï 😀", "x-a": "1", "x-b": "" }));
    const before = decodeRequestBody(original).attachments;
    const after = decodeRequestBody(rewritten).attachments;
    expect(after).toEqual({ ...before, "dubbo.tag": "blue-ünï 😀", "x-a": "1", "x-b": "" });
    expect(Object.keys(after)).toEqual([...Object.keys(before), "x-a", "x-b"]);
  });

  it("keeps a typed map's type, non-string entries, and adds a map where there was none", () => {
    // typed 'M' map with a non-string value (see hand-made.test.ts for the field comments)
    const head = [5, ...Buffer.from("2.0.2"), 1, 0x53, 5, ...Buffer.from("1.0.0"), 1, 0x6d, 1, 0x49, 0x91];
    const typed = [0x4d, 3, ...Buffer.from("Map"), 1, 0x6b, 0xcb, 0xb8, 1, 0x73, 1, 0x74, 0x5a];
    const mk = (body: number[]) => {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0xdabb, 0);
      h[2] = 0xc2;
      h.writeBigUInt64BE(3n, 4);
      h.writeInt32BE(body.length, 12);
      return Buffer.concat([h, Buffer.from(body)]);
    };
    const withTyped = Buffer.from(codec.rewrite(mk([...head, ...typed]), { route: "r1", s: "u" }));
    const d = new hessian.DecoderV2(withTyped.subarray(16));
    for (let i = 0; i < 6; i++) d.read();
    const typedBody = withTyped.subarray(16 + head.length);
    expect(typedBody.subarray(0, 5)).toEqual(Buffer.from([0x4d, 3, ...Buffer.from("Map")])); // 'M' + type kept
    codec.decode(withTyped);
    expect(codec.frameJson()).toMatchObject({ attachments: { s: "u", route: "r1" }, skippedAttachments: 1 });
    // Setting the key whose value is an int: the int entry stays, the new string entry follows it
    // (hessian.js, like Java's HashMap, keeps the last of repeated keys).
    const overInt = Buffer.from(codec.rewrite(mk([...head, ...typed]), { k: "new" }));
    expect(decodeRequestBody(overInt).attachments).toEqual({ k: "new", s: "t" });
    codec.decode(overInt);
    expect(codec.frameJson()).toMatchObject({ attachments: { s: "t", k: "new" }, skippedAttachments: 1 });
    for (const missing of [head, [...head, 0x4e]]) {
      const added = Buffer.from(codec.rewrite(mk(missing), { route: "r1" }));
      expect(decodeRequestBody(added).attachments).toEqual({ route: "r1" });
    }
  });

  it("is accepted by a real provider, which answers the call", async () => {
    const provider = await startProvider({
      interface: "org.apache.dubbo.demo.DemoService", version: "1.0.0", group: "blue",
      methods: { async sayHello(name: string) { return `hello ${name}`; } },
    });
    try {
      const request = Buffer.from(codec.rewrite(fixtureBytes("peer-request-say-hello.bin"), { "x-dubbo-mesh-cluster": cluster }));
      const socket = net.connect(provider.port, "127.0.0.1");
      const chunks: Buffer[] = [];
      const response = await new Promise<Buffer>((resolve, reject) => {
        socket.on("error", reject);
        socket.on("data", (d: Buffer) => {
          chunks.push(d);
          const all = Buffer.concat(chunks);
          if (all.length >= 16 && all.length >= 16 + all.readInt32BE(12)) resolve(all);
        });
        socket.write(request);
      });
      socket.destroy();
      expect(codec.decode(response)).toMatchObject({ status: "done" });
      expect(codec.frameJson()).toMatchObject({ kind: "response", requestId: "1", status: 20, responseFlag: 1 });
      const d = new hessian.DecoderV2(response.subarray(16));
      d.read();
      expect(d.read()).toBe("hello bob");
    } finally {
      await provider.close();
    }
  });
});
