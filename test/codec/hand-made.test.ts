// Hand-made byte fixtures, a comment on every field: the forms real peers rarely write (U/W lists,
// typed 'M' attachments, response flags 3-5, events, other serializations) and every malformed input
// the decoder must refuse, each with its expected error and offset.
import { describe, expect, it } from "vitest";
import { loadCodec } from "./helpers.js";

const codec = loadCodec();

/** ASCII text as a short Hessian string (0x00-0x1f length byte + bytes). */
function s(text: string): number[] {
  const bytes = [...Buffer.from(text, "latin1")];
  if (text.length <= 31) return [text.length, ...bytes]; // 0x00-0x1f: length in the lead byte
  return [0x30 + (text.length >> 8), text.length & 0xff, ...bytes]; // 0x30-0x33: 10-bit length
}

/** A frame: header fields then the body; `len` overrides the body length written in the header. */
function frame(flags: number, status: number, id: bigint, body: number[], len = body.length): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0); // magic
  h[2] = flags; // 0x80 request | 0x40 two-way | 0x20 event | serialization id
  h[3] = status; // status (responses)
  h.writeBigUInt64BE(id, 4); // request id
  h.writeInt32BE(len, 12); // body length
  return Buffer.concat([h, Buffer.from(body)]);
}

/** The start of a hessian2 request body: dubbo version, service, version, method, descriptor. */
function requestHead(method: string, descriptor: string): number[] {
  return [...s("2.0.2"), ...s("com.example.S"), ...s("1.0.0"), ...s(method), ...s(descriptor)];
}

interface Valid {
  name: string;
  bytes: Buffer;
  expected: Record<string, unknown>;
}

const valid: Valid[] = [
  {
    name: "heartbeat request",
    bytes: Buffer.from([
      0xda, 0xbb, // magic
      0xe2, // request | two-way | event | hessian2 (2)
      0x00, // status: unused in requests
      0, 0, 0, 0, 0, 0, 0, 0x2a, // request id 42
      0, 0, 0, 1, // body length 1
      0x4e, // body: Hessian null = heartbeat
    ]),
    expected: { kind: "heartbeat", requestId: "42", twoWay: true, serialization: 2, bodyLength: 1 },
  },
  {
    name: "heartbeat reply with an empty body",
    bytes: Buffer.from([
      0xda, 0xbb, // magic
      0x22, // response | event | hessian2
      0x14, // status 20 OK
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // request id 2^64-1
      0, 0, 0, 0, // body length 0 (an event may have no data)
    ]),
    expected: { kind: "heartbeat", requestId: "18446744073709551615", twoWay: false, serialization: 2, status: 20, bodyLength: 0 },
  },
  {
    name: "readonly event from a provider shutting down",
    bytes: Buffer.from([
      0xda, 0xbb, // magic
      0xa2, // request | event | hessian2, one-way
      0x00, // status
      0, 0, 0, 0, 0, 0, 0, 7, // request id 7
      0, 0, 0, 2, // body length 2
      0x01, 0x52, // body: the string "R"
    ]),
    expected: { kind: "event", requestId: "7", twoWay: false, serialization: 2, eventData: "R", bodyLength: 2 },
  },
  {
    name: "request with U/W lists as arguments and a typed M attachments map with a non-string value",
    bytes: frame(0xc2, 0, 5n, [
      ...requestHead("find", "[JLjava/util/List;"), // 2 arguments: long[], List
      0x55, ...s("[long"), 0xe1, 0xe2, 0x5a, // arg 0: 'U' variable typed list, type "[long", longs 1 and 2, 'Z'
      0x57, 0x91, 0x20, 0x5a, // arg 1: 'W' variable untyped list: int 1, empty binary, 'Z'
      0x4d, ...s("java.util.Map"), // attachments: 'M' typed map, type "java.util.Map"
      ...s("dubbo.tag"), ...s("gray"), // "dubbo.tag" = "gray"
      ...s("timeout"), 0xcb, 0xb8, // "timeout" = int 3000 (not a string: skipped and counted)
      ...s("group"), ...s("g1"), // "group" = "g1"
      0x5a, // end of map
    ]),
    expected: {
      kind: "request", requestId: "5", twoWay: true, serialization: 2, dubboVersion: "2.0.2", service: "com.example.S",
      version: "1.0.0", group: "g1", method: "find", parameterTypes: "[JLjava/util/List;", argCount: 2,
      attachments: { "dubbo.tag": "gray", group: "g1" }, skippedAttachments: 1, bodyLength: 0,
    },
  },
  {
    name: "generic $invokeAsync call: the real method is argument 0",
    bytes: frame(0xc2, 0, 6n, [
      ...requestHead("$invokeAsync", "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;"),
      ...s("deleteUser"), // arg 0: the real method
      0x71, ...s("[string"), ...s("java.lang.String"), // arg 1: compact typed list of 1: parameter types
      0x79, 0x95, // arg 2: compact untyped list of 1: int 5
      0x48, ...s("generic"), ...s("true"), 0x5a, // attachments: 'H' {"generic": "true"}
    ]),
    expected: {
      kind: "request", requestId: "6", method: "deleteUser", rawMethod: "$invokeAsync", argCount: 3,
      attachments: { generic: "true" }, group: null,
    },
  },
  {
    name: "request whose body ends after the arguments (no attachments map)",
    bytes: frame(0xc2, 0, 8n, [...requestHead("ping", "")]), // descriptor "": no arguments
    expected: { kind: "request", method: "ping", argCount: 0, parameterTypes: "", attachments: {} },
  },
  {
    name: "request with bytes after the attachments map (ignored, as Java ignores them)",
    bytes: frame(0xc2, 0, 14n, [
      ...requestHead("ping", ""), // no arguments
      0x48, ...s("k"), ...s("v"), 0x5a, // attachments {"k": "v"}
      0x4e, 0x91, // trailing bytes inside the body length
    ]),
    expected: { kind: "request", method: "ping", attachments: { k: "v" } },
  },
  {
    name: "response flag 4: value with attachments",
    bytes: frame(0x02, 20, 9n, [
      0x94, // response flag 4 (value + attachments)
      ...s("hello"), // the value
      0x48, ...s("k1"), ...s("v1"), 0x5a, // attachments {"k1": "v1"}
    ]),
    expected: { kind: "response", requestId: "9", status: 20, responseFlag: 4, attachments: { k1: "v1" } },
  },
  {
    name: "response flag 5: null value with attachments",
    bytes: frame(0x02, 20, 10n, [
      0x95, // response flag 5
      0x48, 0x5a, // empty attachments map
    ]),
    expected: { kind: "response", responseFlag: 5, attachments: {} },
  },
  {
    name: "response flag 3: exception object with attachments",
    bytes: frame(0x02, 20, 11n, [
      0x93, // response flag 3
      0x43, ...s("java.lang.Exception"), 0x91, ...s("detailMessage"), // class definition 0: one field
      0x60, ...s("boom"), // object of class 0: detailMessage "boom"
      0x48, ...s("trace"), ...s("t-1"), 0x5a, // attachments
    ]),
    expected: { kind: "response", responseFlag: 3, attachments: { trace: "t-1" } },
  },
  {
    name: "error response: status 60 (service not found) and a message",
    bytes: frame(0x02, 60, 12n, [...s("no provider for S")]),
    expected: { kind: "response", status: 60, responseFlag: null, errorMessage: "no provider for S" },
  },
  {
    name: "fastjson serialization (id 6): header-level result only",
    bytes: frame(0xc6, 0, 13n, [...Buffer.from('{"a":1}')]), // request | two-way | serialization 6
    expected: { kind: "request", requestId: "13", twoWay: true, serialization: 6, bodyDecoded: false, bodyLength: 7 },
  },
];
// Fill the body lengths of frames built with frame().
for (const v of valid) if (v.expected.bodyLength === 0 && v.bytes.length > 16) v.expected.bodyLength = v.bytes.length - 16;

describe("hand-made valid frames", () => {
  codec.configure(8 * 1024 * 1024, 4);
  for (const v of valid) {
    it(v.name, () => {
      for (let n = 0; n < v.bytes.length; n++) expect(codec.decode(v.bytes.subarray(0, n)).status).toBe("need-more");
      expect(codec.decode(v.bytes)).toEqual({ status: "done", length: v.bytes.length });
      expect(codec.frameJson()).toMatchObject(v.expected);
    });
  }

  it("records the first arguments as text when strings or numbers", () => {
    const bytes = frame(0xc2, 0, 1n, [
      ...requestHead("m", "Ljava/lang/String;IJDLjava/util/Map;Z"),
      ...s("vip-1"), // String
      0xd4, 0x00, 0x00, // int 0 (3-byte form)
      0x59, 0x80, 0, 0, 0, // long -2^31 ('Y' form)
      0x5f, 0, 0, 0x30, 0x39, // double 12.345 (int-milli form)
      0x48, 0x5a, // Map: not recorded as text
      0x54, // boolean true: beyond maxArgs
      0x48, 0x5a,
    ]);
    codec.configure(8 * 1024 * 1024, 5);
    codec.decode(bytes);
    expect(codec.frameJson()).toMatchObject({ argCount: 6, arguments: ["vip-1", "0", "-2147483648", "12.345", null] });
    codec.configure(8 * 1024 * 1024, 4);
  });
});

interface Bad {
  name: string;
  bytes: Buffer;
  error: RegExp;
  offset: number;
}

/** Offset of the first argument of requestHead("m", "I"), and of the attachments after requestHead("m", ""). */
const A = 16 + requestHead("m", "I").length;
const E = 16 + requestHead("m", "").length;
/** Offset of the descriptor string in requestHead("m", ...). */
const D = 16 + 6 + 14 + 6 + 2;
const deep: number[] = [];
for (let i = 0; i < 70; i++) deep.push(0x57); // 70 nested 'W' lists
const bad: Bad[] = [
  { name: "bad magic, first byte alone", bytes: Buffer.from([0x47]), error: /invalid dubbo magic: first byte 0x47 \(expected 0xdabb\)/, offset: 0 },
  { name: "bad magic, first byte, both shown", bytes: Buffer.from([0x4e, 0x4f, 0x00]), error: /invalid dubbo magic 0x4e4f/, offset: 0 },
  { name: "bad magic, second byte", bytes: Buffer.from([0xda, 0xbc, 0xc2]), error: /invalid dubbo magic 0xdabc/, offset: 0 },
  { name: "negative body length", bytes: frame(0xc2, 0, 1n, [], -1), error: /negative body length -1/, offset: 12 },
  { name: "body length above the maximum, refused from the header alone", bytes: frame(0xc2, 0, 1n, [], 8 * 1024 * 1024 + 1), error: /body length 8388609 exceeds the maximum/, offset: 12 },
  { name: "empty request body", bytes: frame(0xc2, 0, 1n, []), error: /empty body/, offset: 16 },
  { name: "truncated string in the service path", bytes: frame(0xc2, 0, 1n, [...s("2.0.2"), 0x0a, 0x61, 0x62]), error: /past the end of the body in service path/, offset: 25 },
  { name: "service path not a string", bytes: frame(0xc2, 0, 1n, [...s("2.0.2"), 0x91]), error: /unexpected hessian value 0x91 in service path at offset 22/, offset: 22 },
  { name: "reserved byte 0x40 as an argument", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x40]), error: /invalid hessian byte 0x40 in argument/, offset: A },
  { name: "end marker where a value belongs", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x5a]), error: /unexpected end marker 'Z'/, offset: A },
  { name: "absurd fixed list length", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x58, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x91]), error: /declared length 2147483647 is negative or exceeds the bytes left in argument/, offset: A + 1 },
  { name: "negative fixed list length", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x58, 0x8f]), error: /declared length -1/, offset: A + 1 },
  { name: "absurd string length", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x53, 0xff, 0xff, 0x61]), error: /past the end/, offset: A + 4 },
  { name: "back-reference to nothing", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x51, 0x90]), error: /back-reference 0 to an object not yet read/, offset: A },
  { name: "back-reference beyond the objects read", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x79, 0x51, 0x91]), error: /back-reference 1/, offset: A + 1 },
  { name: "object of an undefined class", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x4f, 0x90]), error: /object of undefined class definition 0/, offset: A },
  { name: "compact object of an undefined class", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x62]), error: /undefined class definition 2/, offset: A },
  { name: "type reference to an undefined type", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x71, 0x95, 0x91]), error: /type reference 5 to an undefined type/, offset: A + 1 },
  { name: "nesting deeper than the bound", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), ...deep]), error: /nested deeper than 64 levels/, offset: A + 64 },
  { name: "invalid UTF-8 lead byte", bytes: frame(0xc2, 0, 1n, [...s("2.0.2"), 0x02, 0x61, 0xff]), error: /invalid UTF-8 lead byte 0xff in string in service path/, offset: 24 },
  { name: "4-byte UTF-8 (Hessian writes surrogates as two 3-byte units)", bytes: frame(0xc2, 0, 1n, [...s("2.0.2"), 0x02, 0xf0, 0x9f, 0x98, 0x80]), error: /invalid UTF-8 lead byte 0xf0/, offset: 23 },
  { name: "string chunk followed by a non-string", bytes: frame(0xc2, 0, 1n, [...s("2.0.2"), 0x52, 0x00, 0x01, 0x61, 0x91]), error: /string chunk followed by 0x91/, offset: 26 },
  { name: "binary chunk followed by a non-binary", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), 0x41, 0x00, 0x01, 0x00, 0x91]), error: /binary chunk followed by 0x91/, offset: A + 4 },
  { name: "descriptor that is not a JVM type list", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "IQ")]), error: /invalid parameter-type descriptor at character 1/, offset: D },
  { name: "descriptor class name without ';'", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "Ljava/lang/String")]), error: /invalid parameter-type descriptor at character 17/, offset: D },
  { name: "attachments that are not a map", bytes: frame(0xc2, 0, 1n, [...requestHead("m", ""), 0x91]), error: /unexpected hessian value 0x91 in attachments/, offset: E },
  { name: "attachments map without its end", bytes: frame(0xc2, 0, 1n, [...requestHead("m", ""), 0x48, ...s("k"), ...s("v")]), error: /past the end of the body in attachments/, offset: E + 5 },
  { name: "response flag out of range", bytes: frame(0x02, 20, 1n, [0x97]), error: /response flag 7 is not 0-5/, offset: 16 },
  { name: "response flag 4 without its attachments", bytes: frame(0x02, 20, 1n, [0x94, 0x91]), error: /past the end of the body in attachments/, offset: 18 },
  { name: "response value truncated", bytes: frame(0x02, 20, 1n, [0x91, 0x49, 0x00]), error: /past the end of the body in response value/, offset: 18 },
  { name: "error response whose message is not a string", bytes: frame(0x02, 70, 1n, [0x91]), error: /unexpected hessian value 0x91 in error message/, offset: 16 },
  { name: "more attachments than the bound (4096)", bytes: frame(0xc2, 0, 1n, [...requestHead("m", ""), 0x48, ...Array.from({ length: 4097 }, () => [0x4e, 0x4e]).flat(), 0x5a]), error: /more than 4096 attachments in attachments/, offset: E + 1 + 4096 * 2 },
  { name: "more class definitions than the bound (65536)", bytes: frame(0xc2, 0, 1n, [...requestHead("m", "I"), ...Array.from({ length: 65537 }, () => [0x43, 0x00, 0x90]).flat(), 0x4e]), error: /more than 65536 class definitions in one body in argument/, offset: A + 65536 * 3 + 2 },
  { name: "event data truncated", bytes: frame(0xe2, 0, 1n, [0x4c, 0x00]), error: /past the end of the body in event data/, offset: 16 },
];

describe("malformed input", () => {
  for (const b of bad) {
    it(b.name, () => {
      codec.configure(8 * 1024 * 1024, 4);
      const r = codec.decode(b.bytes);
      if (r.status !== "error") throw new Error(`expected an error, got ${JSON.stringify(r)}`);
      expect(r.message).toMatch(b.error);
      expect(r.message).toContain(`offset ${b.offset}`);
      expect(r.offset).toBe(b.offset);
    });
  }

  it("applies a configured maximum body length", () => {
    codec.configure(1024, 4);
    const r = codec.decode(frame(0xc2, 0, 1n, [], 1025));
    expect(r).toMatchObject({ status: "error", offset: 12 });
    expect(codec.decode(frame(0xc2, 0, 1n, [], 1024).subarray(0, 16))).toEqual({ status: "need-more" });
    codec.configure(8 * 1024 * 1024, 4);
  });

  it("prints the frame error in the decode JSON", () => {
    codec.decode(bad[0]!.bytes);
    expect(codec.frameJson()).toEqual({ error: "invalid dubbo magic: first byte 0x47 (expected 0xdabb) at offset 0", offset: 0 });
  });
});
