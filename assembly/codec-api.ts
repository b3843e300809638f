// Wasm exports of the codec for tools running outside a proxy-wasm host: `dubbo-mesh decode`, the
// codec tests and the codec benchmark (all in TypeScript, loading build/dubbo_filter.wasm). None of
// these calls a host function. Protocol of use:
//
//   ptr = codec_buffer(n)            an input buffer of at least n bytes (the address may change on each call)
//   codec_configure(maxBody, maxArgs) decoder limits (defaults 8 MiB, 4 recorded arguments)
//   st = codec_decode(off, len)      decode the frame at input[off .. off+len): 0 need more, 1 done, 2 error
//   codec_frame_length()             bytes of the frame just decoded (valid after 1, and after 0 once 16 bytes are in)
//   n = codec_frame_json()           the frame (or the error) as one JSON object, UTF-8 at codec_output()
//   n = codec_error_message()        the error as one line, UTF-8 at codec_output()
//   codec_error_offset()             offset of the error from the frame start
//   codec_materialize()              build every metadata string of the frame (benchmark of string reads)
//
//   n = codec_encode_heartbeat_reply(id, serialization)   frame bytes at codec_output()
//   n = codec_encode_error(id, status, msgLen)            message: UTF-8 in codec_scratch(msgLen)
//   n = codec_rewrite(pairsLen)      re-encode the frame last decoded (still in the input buffer) with
//                                    attachments from codec_scratch: UTF-8 "key\0value\0key\0value"
//   n = codec_hessian_skip(off, len) bytes taken by one Hessian value at input[off..), -1 on error
//   n = codec_hessian_read(off, len) one Hessian value as JSON {"type":..,"value":..}, -1 on error

import { Decoder, Encoder, Frame, FrameKind, frameKindName, HessianReader, CodecError, codecErrorMessage, Field, hessianStringAt } from "./codec/index";
import { kindOf, ValueKind } from "./codec/hessian";

const decoder = new Decoder();
const encoder = new Encoder();
let input = new ArrayBuffer(64 * 1024);
let scratch = new ArrayBuffer(1024);
let output: ArrayBuffer = new ArrayBuffer(0);
let outputFromEncoder = false;
let lastDecodeOffset: i32 = 0;

function grow(buf: ArrayBuffer, n: i32): ArrayBuffer {
  if (n <= buf.byteLength) return buf;
  const cap = buf.byteLength;
  return new ArrayBuffer(cap <= 0x3fffffff && cap << 1 >= n ? cap << 1 : n);
}

/** Address of an input buffer of at least n bytes (the previous contents are not kept when it grows). */
export function codec_buffer(n: i32): usize {
  if (n < 0) n = 0;
  input = grow(input, n);
  return changetype<usize>(input);
}

/** Address of a scratch buffer of at least n bytes, for encoder arguments. */
export function codec_scratch(n: i32): usize {
  if (n < 0) n = 0;
  scratch = grow(scratch, n);
  return changetype<usize>(scratch);
}

/** Address of the last output (JSON text, error message or encoded frame). */
export function codec_output(): usize {
  return outputFromEncoder ? encoder.ptr() : changetype<usize>(output);
}

function setOutput(s: string): i32 {
  output = String.UTF8.encode(s);
  outputFromEncoder = false;
  return output.byteLength;
}

export function codec_configure(maxBodyBytes: i32, maxArgs: i32): void {
  decoder.options.maxBodyBytes = maxBodyBytes;
  decoder.options.maxArgs = maxArgs;
}

/** Decode the frame at input[offset .. offset+len): 0 need more, 1 done, 2 error. */
export function codec_decode(offset: i32, len: i32): i32 {
  lastDecodeOffset = offset;
  return <i32>decoder.decodeBuffer(input, offset, len);
}

export function codec_frame_length(): i32 {
  return decoder.frame.length;
}

export function codec_error_offset(): i32 {
  return decoder.errorOffset;
}

export function codec_error_code(): i32 {
  return <i32>decoder.error;
}

export function codec_error_message(): i32 {
  return setOutput(decoder.errorMessage());
}

/** Build every metadata string of the last frame (what a router reading all fields would allocate). */
export function codec_materialize(): i32 {
  const f = decoder.frame;
  let n: i32 = 0;
  n += lengthOf(f.dubboVersion());
  n += lengthOf(f.service());
  n += lengthOf(f.version());
  n += lengthOf(f.method());
  n += lengthOf(f.parameterTypes());
  n += lengthOf(f.group());
  for (let i = 0; i < f.attachmentCount; i++) {
    n += lengthOf(f.attachmentKey(i));
    n += lengthOf(f.attachmentValue(i));
  }
  for (let i = 0; i < f.recordedArgs; i++) n += lengthOf(f.argument(i));
  return n;
}

function lengthOf(s: string | null): i32 {
  return s === null ? 0 : s.length;
}

// ---- JSON ----

const HEX = "0123456789abcdef";

/** A JSON string literal; every surrogate unit escaped so lone surrogates survive exactly. */
function jsonString(s: string | null): string {
  if (s === null) return "null";
  let out = "\"";
  let from = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c && (c < 0xd800 || c > 0xdfff)) continue;
    out += s.substring(from, i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else {
      out += "\\u";
      out += HEX.charAt((c >> 12) & 15);
      out += HEX.charAt((c >> 8) & 15);
      out += HEX.charAt((c >> 4) & 15);
      out += HEX.charAt(c & 15);
    }
    from = i + 1;
  }
  out += s.substring(from, n);
  return out + "\"";
}

function frameJson(f: Frame): string {
  let s = "{\"kind\":\"" + frameKindName(f.kind) + "\"";
  s += ",\"requestId\":\"" + f.requestId.toString() + "\"";
  s += ",\"twoWay\":" + (f.twoWay ? "true" : "false");
  s += ",\"serialization\":" + f.serialization.toString();
  const response = !f.isRequest;
  if (response) s += ",\"status\":" + f.status.toString();
  if (!f.bodyDecoded) s += ",\"bodyDecoded\":false";
  if (f.kind == FrameKind.Request && f.bodyDecoded) {
    s += ",\"dubboVersion\":" + jsonString(f.dubboVersion());
    s += ",\"service\":" + jsonString(f.service());
    s += ",\"version\":" + jsonString(f.version());
    s += ",\"group\":" + jsonString(f.group());
    s += ",\"method\":" + jsonString(f.method());
    if (f.generic) s += ",\"rawMethod\":" + jsonString(f.rawMethod());
    s += ",\"parameterTypes\":" + jsonString(f.parameterTypes());
    s += ",\"argCount\":" + f.argCount.toString();
    if (f.recordedArgs > 0) {
      s += ",\"arguments\":[";
      for (let i = 0; i < f.recordedArgs; i++) {
        if (i > 0) s += ",";
        s += jsonString(f.argument(i));
      }
      s += "]";
    }
  }
  if (f.kind == FrameKind.Response && f.bodyDecoded) {
    s += ",\"responseFlag\":" + (f.responseFlag < 0 ? "null" : f.responseFlag.toString());
    if (f.errorMessageAt >= 0) s += ",\"errorMessage\":" + jsonString(f.errorMessage());
  }
  if (f.kind == FrameKind.Event && f.bodyDecoded) {
    s += ",\"eventData\":" + jsonString(f.eventDataAt >= 0 ? hessianStringAt(f.base, f.eventDataAt, f.length) : null);
  }
  if (f.bodyDecoded && (f.kind == FrameKind.Request || f.attachmentsStart >= 0)) {
    s += ",\"attachments\":{";
    let first = true;
    for (let i = 0; i < f.attachmentCount; i++) {
      if (!f.attachmentIsString(i)) continue;
      if (!first) s += ",";
      first = false;
      s += jsonString(f.attachmentKey(i)) + ":" + jsonString(f.attachmentValue(i));
    }
    s += "}";
    if (f.skippedAttachments > 0) s += ",\"skippedAttachments\":" + f.skippedAttachments.toString();
  }
  s += ",\"bodyLength\":" + f.bodyLength.toString();
  return s + "}";
}

/** The last decoded frame as JSON, or {"error": message, "offset": n} after an error. */
export function codec_frame_json(): i32 {
  if (decoder.error != CodecError.None) {
    return setOutput("{\"error\":" + jsonString(decoder.errorMessage()) + ",\"offset\":" + decoder.errorOffset.toString() + "}");
  }
  return setOutput(frameJson(decoder.frame));
}

// ---- encoder ----

export function codec_encode_heartbeat_reply(requestId: u64, serialization: i32): i32 {
  outputFromEncoder = true;
  return encoder.heartbeatReply(requestId, <u8>serialization);
}

export function codec_encode_error(requestId: u64, status: i32, messageLength: i32): i32 {
  if (messageLength < 0 || messageLength > scratch.byteLength) return -1;
  const message = String.UTF8.decodeUnsafe(changetype<usize>(scratch), <usize>messageLength);
  outputFromEncoder = true;
  return encoder.errorResponse(requestId, <u8>status, message);
}

/** Re-encode the last decoded frame with the attachments "k\0v\0..." in scratch[0..pairsLength). */
export function codec_rewrite(pairsLength: i32): i32 {
  if (pairsLength < 0 || pairsLength > scratch.byteLength) return -1;
  if (decoder.error != CodecError.None) return -1;
  const text = String.UTF8.decodeUnsafe(changetype<usize>(scratch), <usize>pairsLength);
  const parts = text.split("\0");
  const keys = new Array<string>();
  const values = new Array<string>();
  for (let i = 0; i + 1 < parts.length; i += 2) {
    keys.push(parts[i]);
    values.push(parts[i + 1]);
  }
  outputFromEncoder = true;
  return encoder.rewriteRequest(decoder.frame, keys, values);
}

// ---- single Hessian values (tests) ----

function hessianRange(offset: i32, len: i32): bool {
  if (offset < 0 || len < 0 || offset > input.byteLength || len > input.byteLength - offset) return false;
  HessianReader.reset(changetype<usize>(input), offset, offset + len);
  return true;
}

let hessianError: string = "";

/** Bytes taken by one Hessian value at input[offset..offset+len), or -1 (message by codec_hessian_error). */
export function codec_hessian_skip(offset: i32, len: i32): i32 {
  if (!hessianRange(offset, len)) return -1;
  if (!HessianReader.skipValue(0)) {
    hessianError = codecErrorMessage(HessianReader.error, Field.Body, HessianReader.errorAt - offset, HessianReader.errorValue);
    return -1;
  }
  return HessianReader.pos - offset;
}

/** The message of the last codec_hessian_skip/read failure, UTF-8 at codec_output(). */
export function codec_hessian_error(): i32 {
  return setOutput(hessianError);
}

/**
 * One Hessian value read as JSON: {"type":"null"|"bool"|"int"|"long"|"double"|"string"|"map","value":...}
 * (longs as decimal strings; maps only string→string), or {"type":"other","length":n} for values that
 * are skipped. -1 on malformed input.
 */
export function codec_hessian_read(offset: i32, len: i32): i32 {
  if (!hessianRange(offset, len)) return -1;
  const base = changetype<usize>(input);
  const end = offset + len;
  if (len == 0) {
    hessianError = "empty input";
    return -1;
  }
  const b = <u32>load<u8>(base + <usize>offset);
  const kind = kindOf(b);
  let s: string;
  if (kind == ValueKind.Null) {
    HessianReader.pos = offset + 1;
    s = "{\"type\":\"null\"}";
  } else if (kind == ValueKind.Bool) {
    HessianReader.pos = offset + 1;
    s = "{\"type\":\"bool\",\"value\":" + (b == 0x54 ? "true" : "false") + "}";
  } else if (kind == ValueKind.Int || kind == ValueKind.Long) {
    if (!HessianReader.readLong()) return hessianFail(offset);
    s = kind == ValueKind.Int ? "{\"type\":\"int\",\"value\":" + HessianReader.num.toString() + "}" : "{\"type\":\"long\",\"value\":\"" + HessianReader.num.toString() + "\"}";
  } else if (kind == ValueKind.Double) {
    if (!HessianReader.readDouble()) return hessianFail(offset);
    const d = HessianReader.dbl;
    s = "{\"type\":\"double\",\"value\":" + (isFinite(d) ? d.toString() : jsonString(d.toString())) + "}";
  } else if (kind == ValueKind.String) {
    if (!HessianReader.readString()) return hessianFail(offset);
    s = "{\"type\":\"string\",\"value\":" + jsonString(hessianStringAt(base, offset, end)) + "}";
  } else if (kind == ValueKind.Map && readStringMap(base, offset, end)) {
    s = mapJson;
  } else {
    HessianReader.reset(base, offset, end);
    if (!HessianReader.skipValue(0)) return hessianFail(offset);
    s = "{\"type\":\"other\"}";
  }
  s = s.substring(0, s.length - 1) + ",\"length\":" + (HessianReader.pos - offset).toString() + "}";
  return setOutput(s);
}

let mapJson: string = "";

/** Read a string→string map (H, or M with a type) into mapJson; false when it has other kinds (or is malformed). */
function readStringMap(base: usize, offset: i32, end: i32): bool {
  HessianReader.reset(base, offset, end);
  HessianReader.pos = offset + 1;
  if (load<u8>(base + <usize>offset) == 0x4d && !HessianReader.skipType()) return false;
  let s = "{\"type\":\"map\",\"value\":{";
  let first = true;
  while (true) {
    const p = HessianReader.pos;
    if (p >= end) return false;
    if (load<u8>(base + <usize>p) == 0x5a) {
      HessianReader.pos = p + 1;
      break;
    }
    if (!HessianReader.readString()) return false;
    const v = HessianReader.pos;
    if (!HessianReader.readString()) return false;
    if (!first) s += ",";
    first = false;
    s += jsonString(hessianStringAt(base, p, end)) + ":" + jsonString(hessianStringAt(base, v, end));
  }
  mapJson = s + "}}";
  return true;
}

function hessianFail(offset: i32): i32 {
  hessianError = codecErrorMessage(HessianReader.error, Field.Body, HessianReader.errorAt - offset, HessianReader.errorValue);
  return -1;
}

