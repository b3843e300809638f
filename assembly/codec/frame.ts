// The Dubbo 2 frame: header layout constants and the decoded metadata (Frame), reused across frames.
//
// Header (16 bytes, big-endian):
//   0-1  magic 0xdabb
//   2    flags: 0x80 request, 0x40 two-way, 0x20 event, & 0x1f serialization id
//   3    status (responses)
//   4-11 request id (u64)
//   12-15 body length (i32)

import { hessianStringAt, hessianStringEquals, hessianScalarTextAt } from "./hessian";

export const HEADER_LENGTH: i32 = 16;
export const MAGIC: u32 = 0xdabb;
export const MAGIC_HIGH: u32 = 0xda;
export const MAGIC_LOW: u32 = 0xbb;
export const FLAGS_OFFSET: i32 = 2;
export const STATUS_OFFSET: i32 = 3;
export const REQUEST_ID_OFFSET: i32 = 4;
export const BODY_LENGTH_OFFSET: i32 = 12;

export const FLAG_REQUEST: u32 = 0x80;
export const FLAG_TWO_WAY: u32 = 0x40;
export const FLAG_EVENT: u32 = 0x20;
export const SERIALIZATION_MASK: u32 = 0x1f;

/** Serialization id of hessian2, the only one whose bodies are decoded. */
export const SERIALIZATION_HESSIAN2: u8 = 2;

/** Dubbo's default payload limit: bodies longer than this are rejected as soon as the header is read. */
export const DEFAULT_MAX_BODY_BYTES: i32 = 8 * 1024 * 1024;

// Response status values.
export const STATUS_OK: u8 = 20;
export const STATUS_CLIENT_TIMEOUT: u8 = 30;
export const STATUS_SERVER_TIMEOUT: u8 = 31;
export const STATUS_BAD_REQUEST: u8 = 40;
export const STATUS_BAD_RESPONSE: u8 = 50;
export const STATUS_SERVICE_NOT_FOUND: u8 = 60;
export const STATUS_SERVICE_ERROR: u8 = 70;
export const STATUS_SERVER_ERROR: u8 = 80;
export const STATUS_CLIENT_ERROR: u8 = 90;

// Response flags (the Hessian int at the start of an OK response body).
export const RESPONSE_WITH_EXCEPTION: i32 = 0;
export const RESPONSE_VALUE: i32 = 1;
export const RESPONSE_NULL_VALUE: i32 = 2;
export const RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: i32 = 3;
export const RESPONSE_VALUE_WITH_ATTACHMENTS: i32 = 4;
export const RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: i32 = 5;

export const enum FrameKind {
  Request = 0,
  Response = 1,
  /** an event whose data is Hessian null (or an empty event body): heartbeat request or reply */
  Heartbeat = 2,
  /** any other event, e.g. the readonly event (data "R") a provider sends on shutdown */
  Event = 3,
}

export function frameKindName(kind: FrameKind): string {
  switch (kind) {
    case FrameKind.Request: return "request";
    case FrameKind.Response: return "response";
    case FrameKind.Heartbeat: return "heartbeat";
    default: return "event";
  }
}

/** i32 slots per attachment entry in Frame.attTable: key offset, value offset, end offset, flags. */
export const ATTACHMENT_STRIDE: i32 = 4;

/** Attachment entry flags. */
export const ATTACHMENT_KEY_STRING: u8 = 1;
export const ATTACHMENT_VALUE_STRING: u8 = 2;

/**
 * Metadata of one decoded frame. One instance lives in each Decoder and is overwritten by every
 * decode(); nothing is allocated while decoding except, rarely, when the per-frame tables grow.
 *
 * Strings are not copied out while decoding: the frame records the offsets (from the frame start) of
 * the Hessian values, and the getters (service(), method(), attachmentValue(i), ...) build a string
 * from the frame bytes on demand. Those getters therefore read the bytes at `base`: call them while
 * the frame bytes decode() was given are still in place and unchanged (before the buffer is drained,
 * moved or reused). The *Equals() methods compare without allocating.
 *
 * Offsets are -1 when the field is absent (not in this kind of frame, Hessian null, or a body that is
 * not hessian2).
 */
export class Frame {
  /** Address of the frame's first byte in linear memory, as given to decode(). */
  base: usize = 0;
  /** Total frame length: header + body (known as soon as the 16 header bytes are there, also while NeedMore). */
  length: i32 = 0;
  kind: FrameKind = FrameKind.Request;
  /** The raw flags byte (offset 2). */
  flags: u8 = 0;
  isRequest: bool = false;
  twoWay: bool = false;
  event: bool = false;
  /** Serialization id (flags & 0x1f); 2 is hessian2. */
  serialization: u8 = 0;
  /** Status byte (meaningful in responses). */
  status: u8 = 0;
  requestId: u64 = 0;
  bodyLength: i32 = 0;
  /** False when the serialization is not hessian2: only the header fields are valid. */
  bodyDecoded: bool = false;

  // Requests: offsets of the Hessian values of the body's leading strings.
  dubboVersionAt: i32 = -1;
  serviceAt: i32 = -1;
  versionAt: i32 = -1;
  /** The method name as written in the frame (`$invoke` for generic calls). */
  rawMethodAt: i32 = -1;
  /** The real method: rawMethodAt, or argument 0 for `$invoke`/`$invokeAsync` when it is a string. */
  methodAt: i32 = -1;
  /** True for `$invoke` / `$invokeAsync`. */
  generic: bool = false;
  parameterTypesAt: i32 = -1;
  /** Number of arguments, counted from the parameter-type descriptor. */
  argCount: i32 = 0;
  /** Offsets of the first min(argCount, recordedArgs) arguments' values. */
  recordedArgs: i32 = 0;
  argAt: StaticArray<i32> = new StaticArray<i32>(0);

  // Attachments (requests; responses with flag 3-5). All entries are recorded; the string accessors
  // only see entries whose key and value are both strings (attachmentIsString(i)).
  /** Offset of the attachments map inside the BODY (frame offset - 16), -1 when there is none. */
  attachmentsStart: i32 = -1;
  /** Offset just past the map's end marker inside the BODY, -1 when there is none. */
  attachmentsEnd: i32 = -1;
  attachmentCount: i32 = 0;
  /** Entries whose key or value is not a string (they are skipped, counted here and kept by the re-encoder). */
  skippedAttachments: i32 = 0;
  /**
   * Entry table, ATTACHMENT_STRIDE i32 slots per entry: offset of the key, of the value, just past the
   * value, and the ATTACHMENT_* flags (offsets from the frame start). Read it through the accessors.
   */
  attTable: StaticArray<i32> = new StaticArray<i32>(16 * ATTACHMENT_STRIDE);
  /** Index of the "group" attachment, -1 when absent. */
  groupIndex: i32 = -1;

  // Responses.
  /** The response flag 0-5, or -1 when absent (events, non-OK status, non-hessian2, or a bare Hessian null body). */
  responseFlag: i32 = -1;
  /** Offset of the response value or exception, -1 when absent. */
  valueAt: i32 = -1;
  /** Offset of the error message string of a non-OK response, -1 when absent. */
  errorMessageAt: i32 = -1;
  /** Offset of an event's data value, -1 when absent. */
  eventDataAt: i32 = -1;

  /** Clear the per-frame fields (keeps the tables' capacity). */
  clear(): void {
    this.base = 0;
    this.length = 0;
    this.kind = FrameKind.Request;
    this.flags = 0;
    this.isRequest = false;
    this.twoWay = false;
    this.event = false;
    this.serialization = 0;
    this.status = 0;
    this.requestId = 0;
    this.bodyLength = 0;
    this.bodyDecoded = false;
    this.dubboVersionAt = -1;
    this.serviceAt = -1;
    this.versionAt = -1;
    this.rawMethodAt = -1;
    this.methodAt = -1;
    this.generic = false;
    this.parameterTypesAt = -1;
    this.argCount = 0;
    this.recordedArgs = 0;
    this.attachmentsStart = -1;
    this.attachmentsEnd = -1;
    this.attachmentCount = 0;
    this.skippedAttachments = 0;
    this.groupIndex = -1;
    this.responseFlag = -1;
    this.valueAt = -1;
    this.errorMessageAt = -1;
    this.eventDataAt = -1;
  }

  /** The string at frame offset `at`, or null when absent. */
  @inline stringAt(at: i32): string | null {
    return at < 0 ? null : hessianStringAt(this.base, at, this.length);
  }

  /** True when the string at `at` equals s (no allocation); false when absent. */
  @inline stringAtEquals(at: i32, s: string): bool {
    return at >= 0 && hessianStringEquals(this.base, at, this.length, s);
  }

  dubboVersion(): string | null { return this.stringAt(this.dubboVersionAt); }
  /** The service path (interface). */
  service(): string | null { return this.stringAt(this.serviceAt); }
  /** The service version as written in the body ("0.0.0" or "" when unset by the peer). */
  version(): string | null { return this.stringAt(this.versionAt); }
  /** The real method (argument 0 of generic calls). */
  method(): string | null { return this.stringAt(this.methodAt); }
  /** The method as written in the frame. */
  rawMethod(): string | null { return this.stringAt(this.rawMethodAt); }
  parameterTypes(): string | null { return this.stringAt(this.parameterTypesAt); }
  /** The "group" attachment, or null. */
  group(): string | null {
    return this.groupIndex < 0 ? null : this.stringAt(this.attValueAt(this.groupIndex));
  }
  /** Error message of a non-OK response, or null. */
  errorMessage(): string | null { return this.stringAt(this.errorMessageAt); }

  serviceEquals(s: string): bool { return this.stringAtEquals(this.serviceAt, s); }
  versionEquals(s: string): bool { return this.stringAtEquals(this.versionAt, s); }
  methodEquals(s: string): bool { return this.stringAtEquals(this.methodAt, s); }

  /**
   * Argument i (0-based) as text when it is a string or a number and among the first recordedArgs
   * arguments (DecoderOptions.maxArgs); null otherwise.
   */
  argument(i: i32): string | null {
    if (i < 0 || i >= this.recordedArgs) return null;
    return hessianScalarTextAt(this.base, unchecked(this.argAt[i]), this.length);
  }

  /** Offset (from the frame start) of entry i's key; the caller checks 0 <= i < attachmentCount. */
  @inline attKeyAt(i: i32): i32 { return load<i32>(changetype<usize>(this.attTable) + (<usize>i << 4)); }
  /** Offset of entry i's value. */
  @inline attValueAt(i: i32): i32 { return load<i32>(changetype<usize>(this.attTable) + (<usize>i << 4), 4); }
  /** Offset just past entry i's value. */
  @inline attEndAt(i: i32): i32 { return load<i32>(changetype<usize>(this.attTable) + (<usize>i << 4), 8); }
  /** ATTACHMENT_* flags of entry i (the slot's low 8 bits). */
  @inline attFlags(i: i32): i32 { return load<i32>(changetype<usize>(this.attTable) + (<usize>i << 4), 12) & 0xff; }
  /**
   * Length in UTF-16 units of entry i's key when it is a string (the slot's upper 24 bits, saturated at
   * 0xffffff): lookups compare it with the wanted key's length before comparing text.
   */
  @inline attKeyUnits(i: i32): i32 { return <i32>(load<u32>(changetype<usize>(this.attTable) + (<usize>i << 4), 12) >>> 8); }

  /** True when entry i has a string key and a string value. */
  attachmentIsString(i: i32): bool {
    if (i < 0 || i >= this.attachmentCount) return false;
    return this.attFlags(i) == (ATTACHMENT_KEY_STRING | ATTACHMENT_VALUE_STRING);
  }
  /** Key of entry i when it is a string, else null. */
  attachmentKey(i: i32): string | null {
    if (i < 0 || i >= this.attachmentCount || (this.attFlags(i) & ATTACHMENT_KEY_STRING) == 0) return null;
    return this.stringAt(this.attKeyAt(i));
  }
  /** Value of entry i when it is a string, else null. */
  attachmentValue(i: i32): string | null {
    if (i < 0 || i >= this.attachmentCount || (this.attFlags(i) & ATTACHMENT_VALUE_STRING) == 0) return null;
    return this.stringAt(this.attValueAt(i));
  }
  /** Index of the entry whose string key equals `key` (the last one when repeated), or -1. No allocation. */
  attachmentIndex(key: string): i32 {
    for (let i = this.attachmentCount - 1; i >= 0; i--) {
      if ((this.attFlags(i) & ATTACHMENT_KEY_STRING) != 0 && this.keyLengthMayEqual(i, key) && this.stringAtEquals(this.attKeyAt(i), key)) return i;
    }
    return -1;
  }
  /** False when entry i's (string) key cannot equal `key`: their lengths differ (a saturated length may). */
  @inline keyLengthMayEqual(i: i32, key: string): bool {
    const units = this.attKeyUnits(i);
    return units == key.length || units == 0xffffff;
  }
  /** The string value of attachment `key`, or null when absent or not a string. */
  attachment(key: string): string | null {
    return this.attachmentValue(this.attachmentIndex(key));
  }
  /** True when attachment `key` has a string value equal to `value` (no allocation). */
  attachmentEquals(key: string, value: string): bool {
    const i = this.attachmentIndex(key);
    if (i < 0 || (this.attFlags(i) & ATTACHMENT_VALUE_STRING) == 0) return false;
    return this.stringAtEquals(this.attValueAt(i), value);
  }

  /** Make room for attachment entry `i` (grows the table by doubling). */
  ensureAttachmentCapacity(i: i32): void {
    const table = this.attTable;
    const cap = table.length / ATTACHMENT_STRIDE;
    if (i < cap) return;
    const grown = new StaticArray<i32>(cap * 2 * ATTACHMENT_STRIDE);
    memory.copy(changetype<usize>(grown), changetype<usize>(table), <usize>table.length << 2);
    this.attTable = grown;
  }
}

