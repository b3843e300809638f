// Encoder of the frames a filter writes: heartbeat replies, error responses, and requests re-encoded
// with added or changed attachments. Output goes to one growable buffer owned by the Encoder and
// reused by every call: read it through ptr()/length (or copy it with toBytes()) before the next call.

import {
  Frame, FrameKind, HEADER_LENGTH, MAGIC_HIGH, MAGIC_LOW, FLAG_EVENT, FLAG_REQUEST, FLAG_TWO_WAY,
  SERIALIZATION_HESSIAN2, STATUS_OK, ATTACHMENT_KEY_STRING, ATTACHMENT_VALUE_STRING,
} from "./frame";
import { H_NULL, H_MAP_UNTYPED, H_END, H_STRING_CHUNK, H_STRING_FINAL, hessianStringEquals } from "./hessian";

/** Chunk size of long strings (UTF-16 units), as Java and hessian.js write them. */
const STRING_CHUNK_UNITS: i32 = 0x8000;

export class Encoder {
  private buf: ArrayBuffer = new ArrayBuffer(1024);
  /** Bytes of the last encoded frame. */
  length: i32 = 0;

  /** Address of the last encoded frame (valid until the next call on this encoder). */
  ptr(): usize {
    return changetype<usize>(this.buf);
  }

  /** A copy of the last encoded frame. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    memory.copy(out.dataStart, changetype<usize>(this.buf), <usize>this.length);
    return out;
  }

  private ensure(extra: i32): void {
    const need = this.length + extra;
    const cap = this.buf.byteLength;
    if (need <= cap) return;
    // Double, or jump straight to `need` (no shift loop that could overflow for huge sizes).
    const next = cap <= 0x3fffffff && cap << 1 >= need ? cap << 1 : need;
    const grown = new ArrayBuffer(next);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.length);
    this.buf = grown;
  }

  @inline private put(b: u32): void {
    this.ensure(1);
    store<u8>(changetype<usize>(this.buf) + <usize>this.length, <u8>b);
    this.length++;
  }

  private putBytes(src: usize, n: i32): void {
    if (n <= 0) return;
    this.ensure(n);
    memory.copy(changetype<usize>(this.buf) + <usize>this.length, src, <usize>n);
    this.length += n;
  }

  private header(flags: u32, status: u32, requestId: u64): void {
    this.length = 0;
    this.ensure(HEADER_LENGTH);
    const p = changetype<usize>(this.buf);
    store<u8>(p, <u8>MAGIC_HIGH);
    store<u8>(p + 1, <u8>MAGIC_LOW);
    store<u8>(p + 2, <u8>flags);
    store<u8>(p + 3, <u8>status);
    store<u64>(p + 4, bswap<u64>(requestId));
    store<u32>(p + 12, 0);
    this.length = HEADER_LENGTH;
  }

  /** Write the body length (everything after the header) into the header. */
  private finish(): i32 {
    store<u32>(changetype<usize>(this.buf) + 12, bswap<u32>(<u32>(this.length - HEADER_LENGTH)));
    return this.length;
  }

  /** finish() for the frame written from output offset `start`; returns that frame's length. */
  private finishAt(start: i32): i32 {
    const frameLength = this.length - start;
    store<u32>(changetype<usize>(this.buf) + <usize>start + 12, bswap<u32>(<u32>(frameLength - HEADER_LENGTH)));
    return frameLength;
  }

  /**
   * Start an output of several frames in one buffer: appendBytes() and appendRewrittenRequest() add to
   * it, ptr()/length then cover all of it (a filter builds the whole replacement of a read this way,
   * each byte copied once).
   */
  reset(): void {
    this.length = 0;
  }

  /** Append `n` raw bytes at `src` (bytes of other frames passed unchanged). */
  appendBytes(src: usize, n: i32): void {
    this.putBytes(src, n);
  }

  /** Drop the output after its first `length` bytes. */
  truncate(length: i32): void {
    if (length >= 0 && length < this.length) this.length = length;
  }

  /** Append a Hessian string: compact forms up to 1023 units, chunks of 0x8000 units beyond (never splitting a surrogate pair). */
  writeString(s: string): void {
    let offset: i32 = 0;
    let left = s.length;
    while (left > STRING_CHUNK_UNITS) {
      let n = STRING_CHUNK_UNITS;
      const tail = s.charCodeAt(offset + n - 1);
      if (tail >= 0xd800 && tail <= 0xdbff) n--;
      this.put(H_STRING_CHUNK);
      this.put(<u32>n >> 8);
      this.put(<u32>n & 0xff);
      this.putUnits(s, offset, n);
      offset += n;
      left -= n;
    }
    if (left <= 31) {
      this.put(<u32>left);
    } else if (left <= 1023) {
      this.put(0x30 + (<u32>left >> 8));
      this.put(<u32>left & 0xff);
    } else {
      this.put(H_STRING_FINAL);
      this.put(<u32>left >> 8);
      this.put(<u32>left & 0xff);
    }
    this.putUnits(s, offset, left);
  }

  /** Append UTF-16 units as Hessian's UTF-8 (each unit 1-3 bytes; surrogates as separate 3-byte units). */
  private putUnits(s: string, offset: i32, n: i32): void {
    this.ensure(n * 3);
    const src = changetype<usize>(s);
    let p = changetype<usize>(this.buf) + <usize>this.length;
    const start = p;
    let i: i32 = 0;
    // ASCII fast path: 4 UTF-16 units below 0x80 become 4 bytes.
    while (n - i >= 4) {
      const w = load<u64>(src + (<usize>(offset + i) << 1));
      if ((w & 0xff80ff80ff80ff80) != 0) break;
      store<u32>(p, <u32>(w & 0xff) | (<u32>(w >> 8) & 0xff00) | (<u32>(w >> 16) & 0xff0000) | (<u32>(w >> 24) & 0xff000000));
      p += 4;
      i += 4;
    }
    for (; i < n; i++) {
      const c = <u32>load<u16>(src + (<usize>(offset + i) << 1));
      if (c < 0x80) {
        store<u8>(p++, <u8>c);
      } else if (c < 0x800) {
        store<u8>(p++, <u8>(0xc0 | (c >> 6)));
        store<u8>(p++, <u8>(0x80 | (c & 0x3f)));
      } else {
        store<u8>(p++, <u8>(0xe0 | (c >> 12)));
        store<u8>(p++, <u8>(0x80 | ((c >> 6) & 0x3f)));
        store<u8>(p++, <u8>(0x80 | (c & 0x3f)));
      }
    }
    this.length += <i32>(p - start);
  }

  /**
   * A heartbeat reply: the request id echoed, flags 0x20 | serialization (0x22 for hessian2: a
   * response event, not two-way), status 20, body Hessian null. Returns the frame length.
   */
  heartbeatReply(requestId: u64, serialization: u8 = SERIALIZATION_HESSIAN2): i32 {
    this.header(FLAG_EVENT | (<u32>serialization & 0x1f), STATUS_OK, requestId);
    this.put(H_NULL);
    return this.finish();
  }

  /** A heartbeat request (flags 0xe2 for hessian2: request, two-way, event), body Hessian null. */
  heartbeatRequest(requestId: u64): i32 {
    this.header(FLAG_REQUEST | FLAG_TWO_WAY | FLAG_EVENT | SERIALIZATION_HESSIAN2, 0, requestId);
    this.put(H_NULL);
    return this.finish();
  }

  /**
   * An error response to request `requestId`: the given non-OK status and a body of one Hessian
   * string (the message). The body is always hessian2 (serialization id 2) because that is the only
   * serialization this codec writes; pass the request's id in `serialization` only when it is 2.
   * Returns the frame length.
   */
  errorResponse(requestId: u64, status: u8, message: string, serialization: u8 = SERIALIZATION_HESSIAN2): i32 {
    const ser: u32 = serialization == SERIALIZATION_HESSIAN2 ? <u32>serialization : <u32>SERIALIZATION_HESSIAN2;
    this.header(ser, status, requestId);
    this.writeString(message);
    return this.finish();
  }

  /**
   * Re-encode the request `frame` (just decoded from the bytes at frame.base, which must still be in
   * place) with attachments set: for each i, keys[i] = values[i] replaces the value of an existing
   * entry with that string key and a string value, or is appended when there is none. An entry whose
   * value is not a string is kept as it is and the new entry appended after it (decoders keep the
   * last of repeated keys), so back-reference numbering in the map never shifts. Everything else (header flags,
   * request id, the body up to the map, other entries, a typed map's type) is copied byte for byte,
   * and the body length is corrected. Returns the new frame length, or -1 when the frame is not a
   * decoded hessian2 request (or keys/values differ in length).
   */
  rewriteRequest(frame: Frame, keys: Array<string>, values: Array<string>): i32 {
    if (frame.kind != FrameKind.Request || !frame.bodyDecoded || keys.length != values.length) return -1;
    this.length = 0;
    return this.appendRewrittenRequest(frame, keys, values);
  }

  /**
   * rewriteRequest, appending the new frame to the output (see reset()) instead of replacing it.
   * Returns the new frame's length, or -1 (nothing appended) as rewriteRequest.
   */
  appendRewrittenRequest(frame: Frame, keys: Array<string>, values: Array<string>): i32 {
    if (frame.kind != FrameKind.Request || !frame.bodyDecoded || keys.length != values.length) return -1;
    const base = frame.base;
    const start = this.length;
    // Header and body up to the entries (keeping 'H', or 'M' + its type), or up to the map's place.
    let after = frame.length;
    if (frame.attachmentsStart >= 0) {
      const mapStart = HEADER_LENGTH + frame.attachmentsStart;
      after = HEADER_LENGTH + frame.attachmentsEnd;
      if (load<u8>(base + <usize>mapStart) == <u8>H_NULL) {
        // A Hessian null in place of the map: replace it by a map.
        this.putBytes(base, mapStart);
        this.put(H_MAP_UNTYPED);
      } else {
        // Up to the first entry, or up to the end marker of an empty map.
        this.putBytes(base, frame.attachmentCount > 0 ? frame.attKeyAt(0) : after - 1);
      }
    } else {
      // No map: the body ends after the arguments.
      this.putBytes(base, frame.length);
      this.put(H_MAP_UNTYPED);
    }
    const n = keys.length;
    // present[k]: some string entry already has key k (each entry's key is compared once per key).
    if (present.length < n) present = new StaticArray<bool>(n);
    for (let k = 0; k < n; k++) unchecked((present[k] = false));
    const flat = frame.length;
    // Existing entries, with values replaced where a key matches.
    for (let i = 0; i < frame.attachmentCount; i++) {
      const keyAt = frame.attKeyAt(i);
      const valueAt = frame.attValueAt(i);
      const endAt = frame.attEndAt(i);
      let replaced = -1;
      if (frame.attFlags(i) == <i32>(ATTACHMENT_KEY_STRING | ATTACHMENT_VALUE_STRING)) {
        for (let k = 0; k < n; k++) {
          if (frame.keyLengthMayEqual(i, unchecked(keys[k])) && hessianStringEquals(base, keyAt, flat, unchecked(keys[k]))) {
            replaced = k;
            unchecked((present[k] = true));
          }
        }
      }
      if (replaced < 0) {
        this.putBytes(base + <usize>keyAt, endAt - keyAt);
      } else {
        this.putBytes(base + <usize>keyAt, valueAt - keyAt);
        this.writeString(unchecked(values[replaced]));
      }
    }
    // New entries: keys not present (the first occurrence of a repeated key wins).
    for (let k = 0; k < n; k++) {
      if (unchecked(present[k])) continue;
      const key = unchecked(keys[k]);
      let seen = false;
      for (let j = 0; j < k && !seen; j++) if (unchecked(keys[j]) == key) seen = true;
      if (seen) continue;
      this.writeString(key);
      this.writeString(unchecked(values[k]));
    }
    this.put(H_END);
    // Anything after the map in the original body (nothing in frames from known peers).
    this.putBytes(base + <usize>after, frame.length - after);
    return this.finishAt(start);
  }

  /** rewriteRequest with one attachment. */
  rewriteRequestWith(frame: Frame, key: string, value: string): i32 {
    singleKey[0] = key;
    singleValue[0] = value;
    return this.rewriteRequest(frame, singleKey, singleValue);
  }

  /** appendRewrittenRequest with one attachment. */
  appendRewrittenRequestWith(frame: Frame, key: string, value: string): i32 {
    // Stored only when they change (a filter passes the same configured strings again and again): a
    // store of a reference runs the collector's write barrier.
    if (changetype<usize>(unchecked(singleKey[0])) != changetype<usize>(key)) singleKey[0] = key;
    if (changetype<usize>(unchecked(singleValue[0])) != changetype<usize>(value)) singleValue[0] = value;
    return this.appendRewrittenRequest(frame, singleKey, singleValue);
  }
}

const singleKey: Array<string> = [""];
/** Scratch of rewriteRequest: which keys an entry of the frame already has (grown, never shrunk). */
let present = new StaticArray<bool>(4);
const singleValue: Array<string> = [""];
