// A growable byte buffer reused across requests (no allocation once it has grown to the working size),
// for the arguments the filter hands to foreign functions.

export class ByteWriter {
  buffer: ArrayBuffer;
  length: i32 = 0;

  constructor(capacity: i32) {
    this.buffer = new ArrayBuffer(capacity);
  }

  reset(): void {
    this.length = 0;
  }

  private ensure(extra: i32): void {
    const need = this.length + extra;
    if (need <= this.buffer.byteLength) return;
    let cap = this.buffer.byteLength << 1;
    if (cap < need) cap = need;
    const next = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.buffer), <usize>this.length);
    this.buffer = next;
  }

  u8(v: u32): void {
    this.ensure(1);
    store<u8>(changetype<usize>(this.buffer) + <usize>this.length, <u8>v);
    this.length += 1;
  }

  u32le(v: u32): void {
    this.ensure(4);
    store<u32>(changetype<usize>(this.buffer) + <usize>this.length, v);
    this.length += 4;
  }

  u64le(v: u64): void {
    this.ensure(8);
    store<u64>(changetype<usize>(this.buffer) + <usize>this.length, v);
    this.length += 8;
  }

  /** Protobuf base-128 varint. */
  varint(v: u64): void {
    while (v >= 0x80) {
      this.u8(<u32>(v & 0x7f) | 0x80);
      v >>= 7;
    }
    this.u8(<u32>v);
  }

  /** Appends src[offset, offset+length) (bounds-checked: nothing is written when out of range). */
  bytes(src: ArrayBuffer, offset: i32, length: i32): void {
    if (length <= 0 || offset < 0 || offset > src.byteLength - length) return;
    this.raw(changetype<usize>(src) + <usize>offset, length);
  }

  /** Appends `length` bytes at address `src` (an encoder's output buffer). */
  raw(src: usize, length: i32): void {
    if (length <= 0) return;
    this.ensure(length);
    memory.copy(changetype<usize>(this.buffer) + <usize>this.length, src, <usize>length);
    this.length += length;
  }

  /** UTF-8 bytes of `s`, no length prefix. */
  utf8(s: string): void {
    const n = String.UTF8.byteLength(s, false);
    this.ensure(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, changetype<usize>(this.buffer) + <usize>this.length, false);
    this.length += n;
  }

  /** u32 little-endian byte length, then the UTF-8 bytes. */
  lengthPrefixedUtf8(s: string): void {
    this.u32le(<u32>String.UTF8.byteLength(s, false));
    this.utf8(s);
  }

  /** A protobuf length-delimited string field. */
  protoString(field: u32, s: string): void {
    this.varint(<u64>((field << 3) | 2));
    this.varint(<u64>String.UTF8.byteLength(s, false));
    this.utf8(s);
  }
}
