/**
 * Dubbo 2 frames for the filter tests, encoded and decoded by hessian.js (a real Hessian 2
 * implementation, the one Node Dubbo peers use), never by the code under test.
 *
 * Header (16 bytes, big-endian): magic 0xdabb | flags (0x80 request, 0x40 two-way, 0x20 event,
 * serialization id in the low 5 bits; 2 = hessian2) | status | request id (u64) | body length (i32).
 * Request body: dubbo version, service, version, method, parameter-type descriptor, arguments,
 * attachments map.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface HessianEncoder {
  write(value: unknown): void;
  get(): Buffer;
}
interface HessianDecoder {
  read(): unknown;
  byteBuffer: { position(): number };
}
const hessian = require("hessian.js") as {
  EncoderV2: new () => HessianEncoder;
  DecoderV2: new (buf: Buffer) => HessianDecoder;
};

export const HESSIAN2 = 2;

export interface RequestSpec {
  id?: number | bigint;
  dubboVersion?: string;
  service?: string;
  version?: string;
  method?: string;
  /** JVM parameter-type descriptor, e.g. "Ljava/lang/String;I". */
  types?: string;
  args?: unknown[];
  attachments?: Record<string, string | number>;
  twoWay?: boolean;
}

export const DEMO_SERVICE = "org.apache.dubbo.demo.DemoService";

export function header(flags: number, status: number, id: number | bigint, bodyLength: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flags;
  h[3] = status;
  h.writeBigUInt64BE(BigInt(id), 4);
  h.writeInt32BE(bodyLength, 12);
  return h;
}

/** A hessian2 request frame as Java's DubboCodec writes it (attachments as a java.util.HashMap). */
export function requestFrame(spec: RequestSpec = {}): Buffer {
  const service = spec.service ?? DEMO_SERVICE;
  const version = spec.version ?? "1.0.0";
  const enc = new hessian.EncoderV2();
  enc.write(spec.dubboVersion ?? "2.0.2");
  enc.write(service);
  enc.write(version);
  enc.write(spec.method ?? "sayHello");
  const args = spec.args ?? ["world"];
  enc.write(spec.types ?? args.map(() => "Ljava/lang/String;").join(""));
  for (const a of args) enc.write(a);
  enc.write({ $class: "java.util.HashMap", $: { path: service, interface: service, version, ...(spec.attachments ?? {}) } });
  const body = enc.get();
  const flags = 0x80 | (spec.twoWay === false ? 0 : 0x40) | HESSIAN2;
  return Buffer.concat([header(flags, 0, spec.id ?? 1, body.length), body]);
}

/** Heartbeat request: flags 0xe2, body Hessian null. */
export function heartbeatFrame(id: number): Buffer {
  return Buffer.concat([header(0xe2, 0, id, 1), Buffer.from([0x4e])]);
}

/** A response frame with status `status` and a response body from hessian.js. */
export function responseFrame(id: number, status: number, value: unknown = "hello"): Buffer {
  const enc = new hessian.EncoderV2();
  if (status === 20) {
    enc.write(1); // RESPONSE_VALUE
    enc.write(value);
  } else {
    enc.write(String(value));
  }
  const body = enc.get();
  return Buffer.concat([header(HESSIAN2, status, id, body.length), body]);
}

export interface DecodedRequest {
  id: bigint;
  flags: number;
  dubboVersion: unknown;
  service: unknown;
  version: unknown;
  method: unknown;
  types: unknown;
  args: unknown[];
  attachments: Record<string, unknown>;
}

/** Decodes one request frame with hessian.js DecoderV2 (the descriptor gives the argument count). */
export function decodeRequest(frame: Uint8Array): DecodedRequest {
  const buf = Buffer.from(frame);
  const bodyLength = buf.readInt32BE(12);
  if (buf.length !== 16 + bodyLength) throw new Error(`frame is ${buf.length} bytes, header says ${16 + bodyLength}`);
  const dec = new hessian.DecoderV2(buf.subarray(16));
  const dubboVersion = dec.read();
  const service = dec.read();
  const version = dec.read();
  const method = dec.read();
  const types = dec.read();
  const count = typeof types === "string" ? (types.match(/\[*(?:L[^;]+;|[VZBCDFIJS])/g) ?? []).length : 0;
  const args: unknown[] = [];
  for (let i = 0; i < count; i++) args.push(dec.read());
  const attachments = dec.read() as Record<string, unknown>;
  if (dec.byteBuffer.position() !== bodyLength) throw new Error(`decoder stopped at ${dec.byteBuffer.position()} of ${bodyLength}`);
  return { id: buf.readBigUInt64BE(4), flags: buf[2], dubboVersion, service, version, method, types, args, attachments };
}

/** Splits a byte stream into frames by their headers (throws on an incomplete or non-Dubbo stream). */
export { splitFrames } from "./split-frames.js";
