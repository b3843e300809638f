// Streaming decoder of one Dubbo 2 frame from a byte range in linear memory.

import { CodecError, Field, codecErrorMessage } from "./errors";
import { HessianReader, H_NULL, H_MAP_UNTYPED, H_MAP_TYPED, H_END, kindOf, ValueKind } from "./hessian";
import {
  Frame, FrameKind, HEADER_LENGTH, MAGIC_HIGH, MAGIC_LOW, FLAGS_OFFSET, STATUS_OFFSET, REQUEST_ID_OFFSET,
  BODY_LENGTH_OFFSET, FLAG_REQUEST, FLAG_TWO_WAY, FLAG_EVENT, SERIALIZATION_MASK, SERIALIZATION_HESSIAN2,
  DEFAULT_MAX_BODY_BYTES, STATUS_OK, ATTACHMENT_KEY_STRING, ATTACHMENT_VALUE_STRING,
} from "./frame";

/** Result of Decoder.decode(). */
export const enum DecodeStatus {
  /** The bytes are a valid prefix of a frame; call again with more bytes (from the same frame start). */
  NeedMore = 0,
  /** A whole frame was decoded: see decoder.frame, its length in decoder.frame.length. */
  Done = 1,
  /** The bytes are not a valid frame: see decoder.error / errorOffset / errorMessage(). */
  Error = 2,
}

/** Decoder settings; change them between decode() calls. */
export class DecoderOptions {
  /** Bodies longer than this are rejected when the header arrives (default 8 MiB). */
  maxBodyBytes: i32 = DEFAULT_MAX_BODY_BYTES;
  /** How many leading arguments to record for Frame.argument(i) (0 = none). */
  maxArgs: i32 = 4;
}

/**
 * Decodes one frame at a time. Usage (the caller keeps the bytes; the decoder keeps no buffer):
 *
 *   const d = new Decoder();
 *   const st = d.decode(ptr, len);          // ptr: address of the frame's first byte; len: bytes available
 *   if (st == DecodeStatus.NeedMore) ...    // wait for more bytes, call again with the same ptr and a larger len
 *   if (st == DecodeStatus.Done) ...        // d.frame holds the metadata; d.frame.length bytes belong to it
 *   if (st == DecodeStatus.Error) ...       // d.errorMessage(); the stream is not valid Dubbo from here
 *
 * Any number of bytes may be available: bytes beyond frame.length (the next frames) are ignored, so
 * several frames in one chunk are decoded by calling again at ptr + frame.length. The header is
 * checked as soon as it is there (magic from the first byte, the body length limit at 16 bytes) before
 * any body bytes are awaited; the body is parsed once it is complete. Because a call only looks at
 * [ptr, ptr+len), any split of the stream gives the same result. decode() never reads outside that
 * range, never traps and never aborts.
 */
export class Decoder {
  options: DecoderOptions = new DecoderOptions();
  /** The last frame decoded (valid after Done; header fields may be set after Error too). */
  frame: Frame = new Frame();
  /** The error of the last decode(), CodecError.None unless it returned Error. */
  error: CodecError = CodecError.None;
  /** Offset of the error from the frame start. */
  errorOffset: i32 = 0;
  /** The frame field being read when the error happened. */
  errorField: Field = Field.Header;
  /** A number describing the error (the bad byte, length or index). */
  errorValue: i64 = 0;

  private reader: HessianReader = new HessianReader();

  constructor(options: DecoderOptions | null = null) {
    if (options !== null) this.options = options;
  }

  /** The error of the last decode() as one English line naming the problem and the offset (allocates). */
  errorMessage(): string {
    return codecErrorMessage(this.error, this.errorField, this.errorOffset, this.errorValue);
  }

  /** Convenience: decode from bytes `offset..offset+len` of an ArrayBuffer (see decode()). */
  decodeBuffer(buf: ArrayBuffer, offset: i32, len: i32): DecodeStatus {
    if (offset < 0 || len < 0 || offset > buf.byteLength || len > buf.byteLength - offset) {
      return this.setError(CodecError.Truncated, Field.Header, 0, len);
    }
    return this.decode(changetype<usize>(buf) + <usize>offset, len);
  }

  private setError(code: CodecError, field: Field, at: i32, value: i64): DecodeStatus {
    this.error = code;
    this.errorField = field;
    this.errorOffset = at;
    this.errorValue = value;
    return DecodeStatus.Error;
  }

  /** Decode the frame starting at `ptr`, of which `len` bytes are available. */
  decode(ptr: usize, len: i32): DecodeStatus {
    this.error = CodecError.None;
    const f = this.frame;
    f.clear();
    f.base = ptr;
    if (len <= 0) return DecodeStatus.NeedMore;
    // Magic, checked byte by byte so non-Dubbo bytes are refused at once.
    const m0 = <u32>load<u8>(ptr);
    if (m0 != MAGIC_HIGH) return this.setError(CodecError.BadMagic, Field.Header, 0, <i64>(m0 << 8));
    if (len < 2) return DecodeStatus.NeedMore;
    const m1 = <u32>load<u8>(ptr + 1);
    if (m1 != MAGIC_LOW) return this.setError(CodecError.BadMagic, Field.Header, 0, <i64>((m0 << 8) | m1));
    if (len < HEADER_LENGTH) return DecodeStatus.NeedMore;

    const flags = <u32>load<u8>(ptr + FLAGS_OFFSET);
    f.flags = <u8>flags;
    f.isRequest = (flags & FLAG_REQUEST) != 0;
    f.twoWay = (flags & FLAG_TWO_WAY) != 0;
    f.event = (flags & FLAG_EVENT) != 0;
    f.serialization = <u8>(flags & SERIALIZATION_MASK);
    f.status = load<u8>(ptr + STATUS_OFFSET);
    f.requestId = bswap<u64>(load<u64>(ptr + REQUEST_ID_OFFSET));
    const bodyLength = <i32>bswap<u32>(load<u32>(ptr + BODY_LENGTH_OFFSET));
    f.bodyLength = bodyLength;
    if (bodyLength < 0) return this.setError(CodecError.NegativeBodyLength, Field.Header, BODY_LENGTH_OFFSET, bodyLength);
    if (bodyLength > this.options.maxBodyBytes) return this.setError(CodecError.BodyTooLarge, Field.Header, BODY_LENGTH_OFFSET, bodyLength);
    f.kind = f.event ? FrameKind.Event : f.isRequest ? FrameKind.Request : FrameKind.Response;
    const total = HEADER_LENGTH + bodyLength;
    f.length = total;
    if (len < total) return DecodeStatus.NeedMore;

    if (f.serialization != SERIALIZATION_HESSIAN2) return DecodeStatus.Done; // header-level result only
    f.bodyDecoded = true;
    const r = this.reader;
    r.reset(ptr, HEADER_LENGTH, total);
    let ok: bool;
    if (f.event) ok = this.decodeEvent(r, f);
    else if (bodyLength == 0) return this.setError(CodecError.EmptyBody, Field.Body, HEADER_LENGTH, 0);
    else if (f.isRequest) ok = this.decodeRequest(r, f);
    else ok = this.decodeResponse(r, f);
    if (!ok) return DecodeStatus.Error;
    return DecodeStatus.Done;
  }

  /** Copy the reader's error into the decoder, tagged with the field being read. */
  private failed(r: HessianReader, field: Field): bool {
    this.error = r.error;
    this.errorOffset = r.errorAt;
    this.errorValue = r.errorValue;
    this.errorField = field;
    return false;
  }

  private fail(code: CodecError, field: Field, at: i32, value: i64): bool {
    this.setError(code, field, at, value);
    return false;
  }

  /** Read a string (or Hessian null when nullable) and return its offset, -1 for null, -2 on error. */
  private stringField(r: HessianReader, field: Field, nullable: bool): i32 {
    const at = r.pos;
    if (at >= r.end) {
      this.fail(CodecError.Truncated, field, at, 0);
      return -2;
    }
    const b = r.byteAt(at);
    if (b == H_NULL && nullable) {
      r.pos = at + 1;
      return -1;
    }
    if (!HessianReader.isStringLead(b)) {
      this.fail(CodecError.UnexpectedType, field, at, b);
      return -2;
    }
    if (!r.readString()) {
      this.failed(r, field);
      return -2;
    }
    return at;
  }

  private decodeEvent(r: HessianReader, f: Frame): bool {
    if (f.bodyLength == 0) {
      f.kind = FrameKind.Heartbeat;
      return true;
    }
    const at = r.pos;
    if (r.byteAt(at) == H_NULL) f.kind = FrameKind.Heartbeat;
    if (!r.skipValue(0)) return this.failed(r, Field.EventData);
    f.eventDataAt = at;
    return true;
  }

  private decodeRequest(r: HessianReader, f: Frame): bool {
    let at = this.stringField(r, Field.DubboVersion, true);
    if (at == -2) return false;
    f.dubboVersionAt = at;
    at = this.stringField(r, Field.Service, false);
    if (at == -2) return false;
    f.serviceAt = at;
    at = this.stringField(r, Field.Version, true);
    if (at == -2) return false;
    f.versionAt = at;
    at = this.stringField(r, Field.Method, false);
    if (at == -2) return false;
    f.rawMethodAt = at;
    f.methodAt = at;
    at = this.stringField(r, Field.ParameterTypes, true);
    if (at == -2) return false;
    f.parameterTypesAt = at;
    let argCount: i32 = 0;
    if (at >= 0) {
      argCount = this.countDescriptor(r, f, at);
      if (argCount < 0) return false;
    }
    f.argCount = argCount;

    // Arguments: skipped, the first maxArgs recorded.
    let maxArgs = this.options.maxArgs;
    if (maxArgs < 0) maxArgs = 0;
    const record = argCount < maxArgs ? argCount : maxArgs;
    if (f.argAt.length < record) f.argAt = new StaticArray<i32>(record);
    for (let i: i32 = 0; i < argCount; i++) {
      const argAt = r.pos;
      if (i < record) {
        unchecked((f.argAt[i] = argAt));
        f.recordedArgs = i + 1;
      }
      if (!r.skipValue(0)) return this.failed(r, Field.Argument);
      if (i == 0) this.checkGeneric(f, argAt);
    }

    // Attachments: absent when the body ends here.
    if (r.pos >= r.end) return true;
    return this.decodeAttachments(r, f);
  }

  /** `$invoke` / `$invokeAsync`: the real method is argument 0 when it is a string. */
  private checkGeneric(f: Frame, arg0At: i32): void {
    if (!f.stringAtEquals(f.rawMethodAt, "$invoke") && !f.stringAtEquals(f.rawMethodAt, "$invokeAsync")) return;
    f.generic = true;
    if (kindOf(<u32>load<u8>(f.base + <usize>arg0At)) == ValueKind.String) f.methodAt = arg0At;
  }

  /**
   * Count the parameter types of a JVM descriptor list (`Ljava/lang/String;I[J`): `[` prefixes,
   * primitives VZBCDFIJS, `L...;` class names. Returns -1 after recording an error.
   */
  private countDescriptor(r: HessianReader, f: Frame, at: i32): i32 {
    // r's string fields describe the descriptor just read.
    if (r.strChunked) {
      const s = f.stringAt(at);
      if (s === null) return -1;
      const n = s.length;
      let count: i32 = 0;
      let i: i32 = 0;
      while (i < n) {
        let c = s.charCodeAt(i);
        while (c == 0x5b && i + 1 < n) c = s.charCodeAt(++i);
        if (c == 0x4c) {
          const semi = s.indexOf(";", i);
          if (semi < 0) { this.fail(CodecError.BadDescriptor, Field.ParameterTypes, at, i); return -1; }
          i = semi + 1;
        } else if (isPrimitive(c)) i++;
        else { this.fail(CodecError.BadDescriptor, Field.ParameterTypes, at, i); return -1; }
        count++;
      }
      return count;
    }
    const base = r.base;
    const start = r.strContentStart;
    const end = r.strContentEnd;
    let p = start;
    let count: i32 = 0;
    while (p < end) {
      let c = <u32>load<u8>(base + <usize>p);
      while (c == 0x5b && p + 1 < end) c = <u32>load<u8>(base + <usize>(++p));
      if (c == 0x4c) {
        p++;
        while (p < end && load<u8>(base + <usize>p) != 0x3b) p++;
        if (p >= end) { this.fail(CodecError.BadDescriptor, Field.ParameterTypes, at, p - start); return -1; }
        p++;
      } else if (isPrimitive(<i32>c)) p++;
      else { this.fail(CodecError.BadDescriptor, Field.ParameterTypes, at, p - start); return -1; }
      count++;
    }
    return count;
  }

  /**
   * The attachments map (H or M): every entry recorded with its key, value and end offsets; entries
   * whose key or value is not a string are kept in the tables but flagged (skippedAttachments).
   */
  private decodeAttachments(r: HessianReader, f: Frame): bool {
    const start = r.pos;
    const lead = r.byteAt(start);
    if (lead == H_NULL) {
      r.pos = start + 1;
      f.attachmentsStart = start - HEADER_LENGTH;
      f.attachmentsEnd = r.pos - HEADER_LENGTH;
      return true;
    }
    if (lead != H_MAP_UNTYPED && lead != H_MAP_TYPED) return this.fail(CodecError.UnexpectedType, Field.Attachments, start, lead);
    r.pos = start + 1;
    r.refCount++;
    if (lead == H_MAP_TYPED && !r.skipType()) return this.failed(r, Field.Attachments);
    let n: i32 = 0;
    while (true) {
      const p = r.pos;
      if (p >= r.end) return this.fail(CodecError.Truncated, Field.Attachments, p, 0);
      if (r.byteAt(p) == H_END) {
        r.pos = p + 1;
        break;
      }
      let flags: u8 = 0;
      if (HessianReader.isStringLead(r.byteAt(p))) flags |= ATTACHMENT_KEY_STRING;
      if (!r.skipValue(1)) return this.failed(r, Field.Attachments);
      const v = r.pos;
      if (v >= r.end) return this.fail(CodecError.Truncated, Field.Attachments, v, 0);
      if (HessianReader.isStringLead(r.byteAt(v))) flags |= ATTACHMENT_VALUE_STRING;
      if (!r.skipValue(1)) return this.failed(r, Field.Attachments);
      f.ensureAttachmentCapacity(n);
      unchecked((f.attKeyAt[n] = p));
      unchecked((f.attValueAt[n] = v));
      unchecked((f.attEndAt[n] = r.pos));
      unchecked((f.attFlags[n] = flags));
      if (flags != (ATTACHMENT_KEY_STRING | ATTACHMENT_VALUE_STRING)) f.skippedAttachments++;
      n++;
      f.attachmentCount = n;
    }
    f.attachmentsStart = start - HEADER_LENGTH;
    f.attachmentsEnd = r.pos - HEADER_LENGTH;
    f.groupIndex = f.attachmentIndex("group");
    return true;
  }

  private decodeResponse(r: HessianReader, f: Frame): bool {
    if (f.status != STATUS_OK) {
      const at = this.stringField(r, Field.ErrorMessage, true);
      if (at == -2) return false;
      f.errorMessageAt = at;
      return true;
    }
    const flagAt = r.pos;
    if (r.byteAt(flagAt) == H_NULL) {
      // sofa-rpc-node writes a bare null (no flag) for an empty result.
      r.pos = flagAt + 1;
      return true;
    }
    if (!r.readInt()) return this.failed(r, Field.ResponseFlag);
    const flag = r.num;
    if (flag < 0 || flag > 5) return this.fail(CodecError.BadResponseFlag, Field.ResponseFlag, flagAt, flag);
    f.responseFlag = <i32>flag;
    if (flag != 2 && flag != 5) {
      f.valueAt = r.pos;
      if (!r.skipValue(0)) return this.failed(r, Field.ResponseValue);
    }
    if (flag >= 3) {
      if (r.pos >= r.end) return this.fail(CodecError.Truncated, Field.Attachments, r.pos, 0);
      return this.decodeAttachments(r, f);
    }
    return true;
  }
}

@inline function isPrimitive(c: i32): bool {
  // V Z B C D F I J S
  return c == 0x56 || c == 0x5a || c == 0x42 || c == 0x43 || c == 0x44 || c == 0x46 || c == 0x49 || c == 0x4a || c == 0x53;
}
