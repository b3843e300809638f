// Streaming decoder of one Dubbo 2 frame from a byte range in linear memory.

import { CodecError, Field, MAGIC_ONE_BYTE, codecErrorMessage } from "./errors";
import { HessianReader, H_NULL, H_MAP_UNTYPED, H_MAP_TYPED, H_END, kindOf, ValueKind } from "./hessian";
import {
  Frame, FrameKind, HEADER_LENGTH, MAGIC_HIGH, MAGIC_LOW, FLAGS_OFFSET, STATUS_OFFSET, REQUEST_ID_OFFSET,
  BODY_LENGTH_OFFSET, FLAG_REQUEST, FLAG_TWO_WAY, FLAG_EVENT, SERIALIZATION_MASK, SERIALIZATION_HESSIAN2,
  DEFAULT_MAX_BODY_BYTES, STATUS_OK, ATTACHMENT_KEY_STRING, ATTACHMENT_VALUE_STRING, ATTACHMENT_STRIDE,
} from "./frame";

/**
 * Attachment entries allowed in one map (CodecError.TooManyAttachments beyond): bounds the entry table
 * (16 bytes per entry) whatever the body holds; real requests carry tens.
 */
export const MAX_ATTACHMENTS: i32 = 4096;

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

  constructor(options: DecoderOptions | null = null) {
    if (options !== null) this.options = options;
  }

  /** The error of the last decode() as one English line naming the problem and the offset (allocates). */
  errorMessage(): string {
    return codecErrorMessage(this.error, this.errorField, this.errorOffset, this.errorValue);
  }

  /**
   * The same line with the offset counted in a byte stream: `frameStart` is where the frame that failed
   * starts in that stream (allocates).
   */
  errorMessageInStream(frameStart: i64): string {
    return codecErrorMessage(this.error, this.errorField, this.errorOffset, this.errorValue, frameStart);
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
    if (len < 2) {
      // One byte so far: refused at once when it is wrong (the value then holds that byte alone).
      if (m0 != MAGIC_HIGH) return this.setError(CodecError.BadMagic, Field.Header, 0, <i64>m0 | MAGIC_ONE_BYTE);
      return DecodeStatus.NeedMore;
    }
    const m1 = <u32>load<u8>(ptr + 1);
    if (m0 != MAGIC_HIGH) return this.setError(CodecError.BadMagic, Field.Header, 0, <i64>((m0 << 8) | m1));
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
    if (bodyLength > this.options.maxBodyBytes || bodyLength > 0x7fffffff - HEADER_LENGTH) return this.setError(CodecError.BodyTooLarge, Field.Header, BODY_LENGTH_OFFSET, bodyLength);
    f.kind = f.event ? FrameKind.Event : f.isRequest ? FrameKind.Request : FrameKind.Response;
    const total = HEADER_LENGTH + bodyLength;
    f.length = total;
    if (len < total) return DecodeStatus.NeedMore;

    if (f.serialization != SERIALIZATION_HESSIAN2) return DecodeStatus.Done; // header-level result only
    f.bodyDecoded = true;
    HessianReader.reset(ptr, HEADER_LENGTH, total);
    let ok: bool;
    if (f.event) ok = this.decodeEvent(f);
    else if (bodyLength == 0) return this.setError(CodecError.EmptyBody, Field.Body, HEADER_LENGTH, 0);
    else if (f.isRequest) ok = this.decodeRequest(f);
    else ok = this.decodeResponse(f);
    if (!ok) return DecodeStatus.Error;
    return DecodeStatus.Done;
  }

  /** Copy the reader's error into the decoder, tagged with the field being read. */
  private failed(field: Field): bool {
    this.error = HessianReader.error;
    this.errorOffset = HessianReader.errorAt;
    this.errorValue = HessianReader.errorValue;
    this.errorField = field;
    return false;
  }

  private fail(code: CodecError, field: Field, at: i32, value: i64): bool {
    this.setError(code, field, at, value);
    return false;
  }

  /** Read a string (or Hessian null when nullable) and return its offset, -1 for null, -2 on error. */
  private stringField(field: Field, nullable: bool): i32 {
    const at = HessianReader.pos;
    if (at >= HessianReader.end) {
      this.fail(CodecError.Truncated, field, at, 0);
      return -2;
    }
    const b = HessianReader.byteAt(at);
    if (b == H_NULL && nullable) {
      HessianReader.pos = at + 1;
      return -1;
    }
    if (!HessianReader.isStringLead(b)) {
      this.fail(CodecError.UnexpectedType, field, at, b);
      return -2;
    }
    if (!HessianReader.readString()) {
      this.failed(field);
      return -2;
    }
    return at;
  }

  private decodeEvent(f: Frame): bool {
    if (f.bodyLength == 0) {
      f.kind = FrameKind.Heartbeat;
      return true;
    }
    const at = HessianReader.pos;
    if (HessianReader.byteAt(at) == H_NULL) f.kind = FrameKind.Heartbeat;
    if (!HessianReader.skipValue(0)) return this.failed(Field.EventData);
    f.eventDataAt = at;
    return true;
  }

  private decodeRequest(f: Frame): bool {
    let at = this.stringField(Field.DubboVersion, true);
    if (at == -2) return false;
    f.dubboVersionAt = at;
    at = this.stringField(Field.Service, false);
    if (at == -2) return false;
    f.serviceAt = at;
    at = this.stringField(Field.Version, true);
    if (at == -2) return false;
    f.versionAt = at;
    at = this.stringField(Field.Method, false);
    if (at == -2) return false;
    f.rawMethodAt = at;
    f.methodAt = at;
    // Generic calls ($invoke, $invokeAsync) start with '$'; only those are compared by name below.
    const maybeGeneric = HessianReader.strUnits > 0 &&
      (HessianReader.strChunked || load<u8>(HessianReader.base + <usize>HessianReader.strContentStart) == 0x24);
    at = this.stringField(Field.ParameterTypes, true);
    if (at == -2) return false;
    f.parameterTypesAt = at;
    let argCount: i32 = 0;
    if (at >= 0) {
      argCount = this.countDescriptor(f, at);
      if (argCount < 0) return false;
    }
    f.argCount = argCount;

    // Arguments: skipped, the first maxArgs recorded.
    let maxArgs = this.options.maxArgs;
    if (maxArgs < 0) maxArgs = 0;
    const record = argCount < maxArgs ? argCount : maxArgs;
    if (f.argAt.length < record) f.argAt = new StaticArray<i32>(record);
    for (let i: i32 = 0; i < argCount; i++) {
      const argAt = HessianReader.pos;
      if (i < record) {
        unchecked((f.argAt[i] = argAt));
        f.recordedArgs = i + 1;
      }
      if (!HessianReader.skipValue(0)) return this.failed(Field.Argument);
      if (i == 0 && maybeGeneric) this.checkGeneric(f, argAt);
    }

    // Attachments: absent when the body ends here.
    if (HessianReader.pos >= HessianReader.end) return true;
    return this.decodeAttachments(f);
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
  private countDescriptor(f: Frame, at: i32): i32 {
    // The reader's string fields describe the descriptor just read.
    if (HessianReader.strChunked) {
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
    const base = HessianReader.base;
    const start = HessianReader.strContentStart;
    const end = HessianReader.strContentEnd;
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
  private decodeAttachments(f: Frame): bool {
    const start = HessianReader.pos;
    const lead = HessianReader.byteAt(start);
    if (lead == H_NULL) {
      HessianReader.pos = start + 1;
      f.attachmentsStart = start - HEADER_LENGTH;
      f.attachmentsEnd = HessianReader.pos - HEADER_LENGTH;
      return true;
    }
    if (lead != H_MAP_UNTYPED && lead != H_MAP_TYPED) return this.fail(CodecError.UnexpectedType, Field.Attachments, start, lead);
    HessianReader.pos = start + 1;
    HessianReader.refCount++;
    if (lead == H_MAP_TYPED && !HessianReader.skipType()) return this.failed(Field.Attachments);
    const base = HessianReader.base;
    const end = HessianReader.end;
    let n: i32 = 0;
    let group: i32 = -1;
    let skipped: i32 = 0;
    let table = changetype<usize>(f.attTable);
    let capacity = f.attTable.length / ATTACHMENT_STRIDE;
    while (true) {
      const p = HessianReader.pos;
      if (p >= end) return this.fail(CodecError.Truncated, Field.Attachments, p, 0);
      const kb = <u32>load<u8>(base + <usize>p);
      if (kb == H_END) {
        HessianReader.pos = p + 1;
        break;
      }
      let flags: i32 = 0;
      let keyUnits: i32 = 0;
      if (HessianReader.isStringLead(kb)) {
        flags = ATTACHMENT_KEY_STRING;
        if (!HessianReader.readString()) return this.failed(Field.Attachments);
        keyUnits = HessianReader.strUnits < 0xffffff ? HessianReader.strUnits : 0xffffff;
        // "group": five ASCII bytes in one chunk (compared in place, no string built).
        if (HessianReader.strUnits == 5 && HessianReader.strContentEnd - HessianReader.strContentStart == 5 && !HessianReader.strChunked &&
            load<u32>(base + <usize>HessianReader.strContentStart) == 0x756f7267 && load<u8>(base + <usize>(HessianReader.strContentStart + 4)) == 0x70) {
          group = n;
        }
      } else if (!HessianReader.skipValue(1)) return this.failed(Field.Attachments);
      const v = HessianReader.pos;
      if (v >= end) return this.fail(CodecError.Truncated, Field.Attachments, v, 0);
      const vb = <u32>load<u8>(base + <usize>v);
      if (HessianReader.isStringLead(vb)) {
        flags |= ATTACHMENT_VALUE_STRING;
        if (!HessianReader.readString()) return this.failed(Field.Attachments);
      } else if (!HessianReader.skipValue(1)) return this.failed(Field.Attachments);
      if (n >= capacity) {
        if (n >= MAX_ATTACHMENTS) return this.fail(CodecError.TooManyAttachments, Field.Attachments, p, MAX_ATTACHMENTS);
        f.ensureAttachmentCapacity(n);
        table = changetype<usize>(f.attTable);
        capacity = f.attTable.length / ATTACHMENT_STRIDE;
      }
      const slot = table + (<usize>n << 4);
      store<i32>(slot, p);
      store<i32>(slot, v, 4);
      store<i32>(slot, HessianReader.pos, 8);
      store<i32>(slot, flags | (keyUnits << 8), 12);
      if (flags != <i32>(ATTACHMENT_KEY_STRING | ATTACHMENT_VALUE_STRING)) {
        skipped++;
        if (group == n) group = -1; // a "group" key whose value is not a string
      }
      n++;
    }
    f.attachmentCount = n;
    f.skippedAttachments = skipped;
    f.attachmentsStart = start - HEADER_LENGTH;
    f.attachmentsEnd = HessianReader.pos - HEADER_LENGTH;
    f.groupIndex = group;
    return true;
  }

  private decodeResponse(f: Frame): bool {
    if (f.status != STATUS_OK) {
      const at = this.stringField(Field.ErrorMessage, true);
      if (at == -2) return false;
      f.errorMessageAt = at;
      return true;
    }
    const flagAt = HessianReader.pos;
    if (HessianReader.byteAt(flagAt) == H_NULL) {
      // sofa-rpc-node writes a bare null (no flag) for an empty result.
      HessianReader.pos = flagAt + 1;
      return true;
    }
    if (!HessianReader.readInt()) return this.failed(Field.ResponseFlag);
    const flag = HessianReader.num;
    if (flag < 0 || flag > 5) return this.fail(CodecError.BadResponseFlag, Field.ResponseFlag, flagAt, flag);
    f.responseFlag = <i32>flag;
    if (flag != 2 && flag != 5) {
      f.valueAt = HessianReader.pos;
      if (!HessianReader.skipValue(0)) return this.failed(Field.ResponseValue);
    }
    if (flag >= 3) {
      if (HessianReader.pos >= HessianReader.end) return this.fail(CodecError.Truncated, Field.Attachments, HessianReader.pos, 0);
      return this.decodeAttachments(f);
    }
    return true;
  }
}

@inline function isPrimitive(c: i32): bool {
  // V Z B C D F I J S
  return c == 0x56 || c == 0x5a || c == 0x42 || c == 0x43 || c == 0x44 || c == 0x46 || c == 0x49 || c == 0x4a || c == 0x53;
}
