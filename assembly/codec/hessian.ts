// Hessian 2.0 reader over a byte range in linear memory: skips any value of the grammar and reads
// the scalar forms a router needs. Every read is preceded by one explicit bounds check against `end`,
// then a raw load; nothing here can trap or abort on any input. Offsets are i32 relative to `base`
// (the frame start), so error offsets name bytes of the frame.
//
// Per-body state (the reference count, the type table size and the class definitions' field counts)
// is reset by reset(): references and class definitions are scoped to one Dubbo body.

import { CodecError } from "./errors";

/** Containers (lists, maps, objects) nested deeper than this are rejected with CodecError.TooDeep. */
export const MAX_DEPTH: i32 = 64;

// Lead bytes with names (see ../shared/reference/dubbo.md's table).
export const H_BINARY_CHUNK: u32 = 0x41; // 'A'
export const H_BINARY_FINAL: u32 = 0x42; // 'B'
export const H_CLASS_DEF: u32 = 0x43; // 'C'
export const H_DOUBLE: u32 = 0x44; // 'D'
export const H_FALSE: u32 = 0x46; // 'F'
export const H_MAP_UNTYPED: u32 = 0x48; // 'H'
export const H_INT: u32 = 0x49; // 'I'
export const H_DATE_MS: u32 = 0x4a; // 'J'
export const H_DATE_MIN: u32 = 0x4b; // 'K'
export const H_LONG: u32 = 0x4c; // 'L'
export const H_MAP_TYPED: u32 = 0x4d; // 'M'
export const H_NULL: u32 = 0x4e; // 'N'
export const H_OBJECT: u32 = 0x4f; // 'O'
export const H_REF: u32 = 0x51; // 'Q'
export const H_STRING_CHUNK: u32 = 0x52; // 'R'
export const H_STRING_FINAL: u32 = 0x53; // 'S'
export const H_TRUE: u32 = 0x54; // 'T'
export const H_LIST_VAR_TYPED: u32 = 0x55; // 'U'
export const H_LIST_FIXED_TYPED: u32 = 0x56; // 'V'
export const H_LIST_VAR: u32 = 0x57; // 'W'
export const H_LIST_FIXED: u32 = 0x58; // 'X'
export const H_LONG_INT: u32 = 0x59; // 'Y'
export const H_END: u32 = 0x5a; // 'Z'
export const H_DOUBLE_ZERO: u32 = 0x5b;
export const H_DOUBLE_ONE: u32 = 0x5c;
export const H_DOUBLE_BYTE: u32 = 0x5d;
export const H_DOUBLE_SHORT: u32 = 0x5e;
export const H_DOUBLE_MILLI: u32 = 0x5f;

/** Kinds of a value as seen from its lead byte (ValueKind.Other: everything a router does not read). */
export const enum ValueKind {
  Null = 0,
  Bool = 1,
  Int = 2,
  Long = 3,
  Double = 4,
  String = 5,
  Map = 6,
  Other = 7,
  Invalid = 8,
}

/** The kind of value a lead byte starts. */
export function kindOf(b: u32): ValueKind {
  if (b < 0x20) return ValueKind.String;
  if (b < 0x30) return ValueKind.Other; // binary
  if (b < 0x34) return ValueKind.String;
  if (b < 0x38) return ValueKind.Other; // binary
  if (b < 0x40) return ValueKind.Long;
  if (b >= 0x80) {
    if (b < 0xd8) return ValueKind.Int;
    return ValueKind.Long;
  }
  if (b >= 0x60) return ValueKind.Other; // objects, compact lists
  switch (b) {
    case H_NULL: return ValueKind.Null;
    case H_TRUE: case H_FALSE: return ValueKind.Bool;
    case H_INT: return ValueKind.Int;
    case H_LONG: case H_LONG_INT: return ValueKind.Long;
    case H_DOUBLE: case H_DOUBLE_ZERO: case H_DOUBLE_ONE: case H_DOUBLE_BYTE: case H_DOUBLE_SHORT: case H_DOUBLE_MILLI:
      return ValueKind.Double;
    case H_STRING_CHUNK: case H_STRING_FINAL: return ValueKind.String;
    case H_MAP_UNTYPED: case H_MAP_TYPED: return ValueKind.Map;
    case 0x40: case 0x45: case 0x47: case 0x50: case H_END: return ValueKind.Invalid;
    default: return ValueKind.Other;
  }
}

/**
 * A cursor over [pos, end) of the memory at `base`. Methods return false on malformed input after
 * recording the first error (code, offset, value); they never read outside [start, end).
 * Results of reads are left in fields (`num`, `dbl`, `strUnits`, ...) so nothing is allocated.
 */
export class HessianReader {
  base: usize = 0;
  pos: i32 = 0;
  end: i32 = 0;

  error: CodecError = CodecError.None;
  errorAt: i32 = 0;
  errorValue: i64 = 0;

  /** Objects (lists, maps, instances) seen so far in this body: the bound for 'Q' references. */
  refCount: i32 = 0;
  /** Types defined so far in this body: the bound for type references. */
  typeCount: i32 = 0;
  /** Class definitions seen so far in this body, and each one's field count. */
  classCount: i32 = 0;
  classFields: StaticArray<i32> = new StaticArray<i32>(16);

  /** The last int or long read. */
  num: i64 = 0;
  /** The last double read. */
  dbl: f64 = 0;
  /** The last string read: offset of its lead byte, length in UTF-16 units, chunked or not, content bytes when not chunked. */
  strAt: i32 = 0;
  strUnits: i32 = 0;
  strChunked: bool = false;
  strContentStart: i32 = 0;
  strContentEnd: i32 = 0;

  /** Start reading [start, end) of the memory at base, with empty per-body tables. */
  reset(base: usize, start: i32, end: i32): void {
    this.base = base;
    this.pos = start;
    this.end = end;
    this.error = CodecError.None;
    this.errorAt = 0;
    this.errorValue = 0;
    this.refCount = 0;
    this.typeCount = 0;
    this.classCount = 0;
  }

  /** Record an error (the first one wins) and return false. */
  fail(code: CodecError, at: i32, value: i64): bool {
    if (this.error == CodecError.None) {
      this.error = code;
      this.errorAt = at;
      this.errorValue = value;
    }
    return false;
  }

  /** The byte at `at`; the caller has checked at < end. */
  @inline byteAt(at: i32): u32 {
    return <u32>load<u8>(this.base + <usize>at);
  }

  /** The next byte without consuming it, or -1 at the end. */
  @inline peek(): i32 {
    return this.pos < this.end ? <i32>this.byteAt(this.pos) : -1;
  }

  /** Consume n raw bytes (n >= 0). */
  skipBytes(n: i32): bool {
    if (n > this.end - this.pos) return this.fail(CodecError.Truncated, this.pos, n);
    this.pos += n;
    return true;
  }

  /** Read `n` bytes big-endian (1..4) as unsigned; the caller has checked the bounds. */
  @inline private be(at: i32, n: i32): u32 {
    let v: u32 = 0;
    for (let i = 0; i < n; i++) v = (v << 8) | this.byteAt(at + i);
    return v;
  }

  /** Read a Hessian int (any int form) into `num`. */
  readInt(): bool {
    const at = this.pos;
    if (at >= this.end) return this.fail(CodecError.Truncated, at, 0);
    const b = this.byteAt(at);
    const left = this.end - at - 1;
    if (b >= 0x80 && b < 0xc0) {
      this.num = <i64>(<i32>b - 0x90);
      this.pos = at + 1;
      return true;
    }
    if (b >= 0xc0 && b < 0xd0) {
      if (left < 1) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64>(((<i32>b - 0xc8) << 8) + <i32>this.byteAt(at + 1));
      this.pos = at + 2;
      return true;
    }
    if (b >= 0xd0 && b < 0xd8) {
      if (left < 2) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64>(((<i32>b - 0xd4) << 16) + <i32>this.be(at + 1, 2));
      this.pos = at + 3;
      return true;
    }
    if (b == H_INT) {
      if (left < 4) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64><i32>bswap<u32>(load<u32>(this.base + <usize>(at + 1)));
      this.pos = at + 5;
      return true;
    }
    return this.fail(CodecError.UnexpectedType, at, b);
  }

  /** Read a Hessian int or long (any form) into `num`. */
  readLong(): bool {
    const at = this.pos;
    if (at >= this.end) return this.fail(CodecError.Truncated, at, 0);
    const b = this.byteAt(at);
    const left = this.end - at - 1;
    if (b >= 0xd8 && b < 0xf0) {
      this.num = <i64>(<i32>b - 0xe0);
      this.pos = at + 1;
      return true;
    }
    if (b >= 0xf0) {
      if (left < 1) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64>(((<i32>b - 0xf8) << 8) + <i32>this.byteAt(at + 1));
      this.pos = at + 2;
      return true;
    }
    if (b >= 0x38 && b < 0x40) {
      if (left < 2) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64>(((<i32>b - 0x3c) << 16) + <i32>this.be(at + 1, 2));
      this.pos = at + 3;
      return true;
    }
    if (b == H_LONG_INT) {
      if (left < 4) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64><i32>bswap<u32>(load<u32>(this.base + <usize>(at + 1)));
      this.pos = at + 5;
      return true;
    }
    if (b == H_LONG) {
      if (left < 8) return this.fail(CodecError.Truncated, at, 0);
      this.num = <i64>bswap<u64>(load<u64>(this.base + <usize>(at + 1)));
      this.pos = at + 9;
      return true;
    }
    return this.readInt();
  }

  /** Read a Hessian double (any form) into `dbl`. */
  readDouble(): bool {
    const at = this.pos;
    if (at >= this.end) return this.fail(CodecError.Truncated, at, 0);
    const b = this.byteAt(at);
    const left = this.end - at - 1;
    switch (b) {
      case H_DOUBLE_ZERO: this.dbl = 0; this.pos = at + 1; return true;
      case H_DOUBLE_ONE: this.dbl = 1; this.pos = at + 1; return true;
      case H_DOUBLE_BYTE:
        if (left < 1) return this.fail(CodecError.Truncated, at, 0);
        this.dbl = <f64><i8>this.byteAt(at + 1);
        this.pos = at + 2;
        return true;
      case H_DOUBLE_SHORT:
        if (left < 2) return this.fail(CodecError.Truncated, at, 0);
        this.dbl = <f64><i16>this.be(at + 1, 2);
        this.pos = at + 3;
        return true;
      case H_DOUBLE_MILLI:
        if (left < 4) return this.fail(CodecError.Truncated, at, 0);
        this.dbl = <f64><i32>bswap<u32>(load<u32>(this.base + <usize>(at + 1))) * 0.001;
        this.pos = at + 5;
        return true;
      case H_DOUBLE:
        if (left < 8) return this.fail(CodecError.Truncated, at, 0);
        this.dbl = reinterpret<f64>(bswap<u64>(load<u64>(this.base + <usize>(at + 1))));
        this.pos = at + 9;
        return true;
    }
    return this.fail(CodecError.UnexpectedType, at, b);
  }

  /** Walk `units` UTF-16 code units of Hessian's UTF-8 (1-3 bytes per unit, surrogates as two 3-byte units). */
  skipUnits(units: i32): bool {
    let p = this.pos;
    const e = this.end;
    const base = this.base;
    let n = units;
    // ASCII fast path: 8 bytes whose high bits are all clear are 8 units.
    while (n >= 8 && e - p >= 8) {
      if ((load<u64>(base + <usize>p) & 0x8080808080808080) != 0) break;
      p += 8;
      n -= 8;
    }
    while (n > 0) {
      if (p >= e) return this.fail(CodecError.Truncated, p, 0);
      const b = <u32>load<u8>(base + <usize>p);
      if (b < 0x80) p += 1;
      else if ((b & 0xe0) == 0xc0) p += 2;
      else if ((b & 0xf0) == 0xe0) p += 3;
      else return this.fail(CodecError.BadUtf8, p, b);
      n--;
    }
    if (p > e) return this.fail(CodecError.Truncated, e, 0);
    this.pos = p;
    return true;
  }

  /** True when the lead byte starts a string. */
  @inline static isStringLead(b: u32): bool {
    return b < 0x20 || (b >= 0x30 && b < 0x34) || b == H_STRING_CHUNK || b == H_STRING_FINAL;
  }

  /**
   * Read (validate and step over) a string at pos, in all its forms including chunks. Sets strAt,
   * strUnits, strChunked and, for a single-chunk string, strContentStart/strContentEnd.
   * A non-string lead byte gives CodecError.UnexpectedType.
   */
  readString(): bool {
    const at = this.pos;
    this.strAt = at;
    let units: i32 = 0;
    let chunks: i32 = 0;
    while (true) {
      const p = this.pos;
      if (p >= this.end) return this.fail(CodecError.Truncated, p, 0);
      const b = this.byteAt(p);
      let n: i32;
      let final = true;
      if (b < 0x20) {
        n = <i32>b;
        this.pos = p + 1;
      } else if (b >= 0x30 && b < 0x34) {
        if (this.end - p < 2) return this.fail(CodecError.Truncated, p, 0);
        n = ((<i32>b - 0x30) << 8) | <i32>this.byteAt(p + 1);
        this.pos = p + 2;
      } else if (b == H_STRING_CHUNK || b == H_STRING_FINAL) {
        if (this.end - p < 3) return this.fail(CodecError.Truncated, p, 0);
        n = <i32>this.be(p + 1, 2);
        final = b == H_STRING_FINAL;
        this.pos = p + 3;
      } else if (chunks == 0) {
        return this.fail(CodecError.UnexpectedType, p, b);
      } else {
        return this.fail(CodecError.BadStringChunk, p, b);
      }
      const contentStart = this.pos;
      if (!this.skipUnits(n)) return false;
      units += n;
      chunks++;
      if (final) {
        this.strUnits = units;
        this.strChunked = chunks > 1;
        this.strContentStart = contentStart;
        this.strContentEnd = this.pos;
        return true;
      }
    }
    return false; // unreachable; keeps the compiler's flow analysis happy
  }

  /** Skip a binary value in all its forms, the lead byte `b` at `at` already consumed. */
  private skipBinary(b: u32, at: i32): bool {
    let lead = b;
    let p = at;
    while (true) {
      let n: i32;
      let final = true;
      if (lead >= 0x20 && lead < 0x30) {
        n = <i32>lead - 0x20;
      } else if (lead >= 0x34 && lead < 0x38) {
        if (this.end - this.pos < 1) return this.fail(CodecError.Truncated, p, 0);
        n = ((<i32>lead - 0x34) << 8) | <i32>this.byteAt(this.pos);
        this.pos += 1;
      } else if (lead == H_BINARY_CHUNK || lead == H_BINARY_FINAL) {
        if (this.end - this.pos < 2) return this.fail(CodecError.Truncated, p, 0);
        n = <i32>this.be(this.pos, 2);
        this.pos += 2;
        final = lead == H_BINARY_FINAL;
      } else {
        return this.fail(CodecError.BadBinaryChunk, p, lead);
      }
      if (!this.skipBytes(n)) return false;
      if (final) return true;
      p = this.pos;
      if (p >= this.end) return this.fail(CodecError.Truncated, p, 0);
      lead = this.byteAt(p);
      this.pos = p + 1;
    }
    return false;
  }

  /** Skip a type (a string, added to the type table, or an int index into it). */
  skipType(): bool {
    const at = this.pos;
    if (at >= this.end) return this.fail(CodecError.Truncated, at, 0);
    const b = this.byteAt(at);
    if (HessianReader.isStringLead(b)) {
      if (!this.readString()) return false;
      this.typeCount++;
      return true;
    }
    if (!this.readInt()) return false;
    if (this.num < 0 || this.num >= <i64>this.typeCount) return this.fail(CodecError.TypeRefOutOfRange, at, this.num);
    return true;
  }

  /** Read a class definition ('C' already consumed): a name, a field count and the field names. */
  private readClassDef(): bool {
    if (!this.readString()) return false;
    const at = this.pos;
    if (!this.readInt()) return false;
    const n = this.num;
    if (n < 0 || n > <i64>(this.end - this.pos)) return this.fail(CodecError.BadLength, at, n);
    for (let i: i32 = 0; i < <i32>n; i++) {
      if (!this.readString()) return false;
    }
    let fields = this.classFields;
    const count = this.classCount;
    if (count >= fields.length) {
      const grown = new StaticArray<i32>(fields.length << 1);
      memory.copy(changetype<usize>(grown), changetype<usize>(fields), <usize>count << 2);
      this.classFields = fields = grown;
    }
    unchecked((fields[count] = <i32>n));
    this.classCount = count + 1;
    return true;
  }

  /** Skip `n` values, each at least one byte, so n larger than the bytes left is rejected first. */
  private skipValues(n: i64, at: i32, depth: i32): bool {
    if (n < 0 || n > <i64>(this.end - this.pos)) return this.fail(CodecError.BadLength, at, n);
    for (let i: i32 = 0; i < <i32>n; i++) {
      if (!this.skipValue(depth)) return false;
    }
    return true;
  }

  /** Skip values up to and including the end marker 'Z'. */
  private skipUntilEnd(depth: i32): bool {
    while (true) {
      const p = this.pos;
      if (p >= this.end) return this.fail(CodecError.Truncated, p, 0);
      if (this.byteAt(p) == H_END) {
        this.pos = p + 1;
        return true;
      }
      if (!this.skipValue(depth)) return false;
    }
    return false;
  }

  /** Skip map entries (key value)* up to and including 'Z'. */
  private skipMapEntries(depth: i32): bool {
    while (true) {
      const p = this.pos;
      if (p >= this.end) return this.fail(CodecError.Truncated, p, 0);
      if (this.byteAt(p) == H_END) {
        this.pos = p + 1;
        return true;
      }
      if (!this.skipValue(depth)) return false;
      if (!this.skipValue(depth)) return false;
    }
    return false;
  }

  /** Skip an object instance of class definition `def` whose lead byte is at `at`. */
  private skipObject(def: i64, at: i32, depth: i32): bool {
    if (def < 0 || def >= <i64>this.classCount) return this.fail(CodecError.ClassRefOutOfRange, at, def);
    this.refCount++;
    const fields = unchecked(this.classFields[<i32>def]);
    return this.skipValues(fields, at, depth + 1);
  }

  /**
   * Skip one value of any kind (class definitions in front of it included), at nesting depth `depth`
   * (0 for a top-level value). Maps, lists and objects count as referable objects, as in Hessian 2.
   */
  skipValue(depth: i32): bool {
    if (depth >= MAX_DEPTH) return this.fail(CodecError.TooDeep, this.pos, depth + 1);
    while (true) {
      const at = this.pos;
      if (at >= this.end) return this.fail(CodecError.Truncated, at, 0);
      const b = this.byteAt(at);
      if (b < 0x20 || (b >= 0x30 && b < 0x34) || b == H_STRING_CHUNK || b == H_STRING_FINAL) return this.readString();
      if (b >= 0x80 && b < 0xd8) return this.readInt();
      if (b >= 0xd8 || (b >= 0x38 && b < 0x40) || b == H_LONG || b == H_LONG_INT) return this.readLong();
      this.pos = at + 1;
      if (b < 0x30 || (b >= 0x34 && b < 0x38) || b == H_BINARY_CHUNK || b == H_BINARY_FINAL) return this.skipBinary(b, at);
      if (b >= 0x60) {
        if (b < 0x70) return this.skipObject(<i64>(b - 0x60), at, depth);
        this.refCount++;
        if (b < 0x78) {
          if (!this.skipType()) return false;
          return this.skipValues(<i64>(b - 0x70), at, depth + 1);
        }
        return this.skipValues(<i64>(b - 0x78), at, depth + 1);
      }
      switch (b) {
        case H_CLASS_DEF:
          if (!this.readClassDef()) return false;
          continue; // the definition precedes the value it describes
        case H_NULL: case H_TRUE: case H_FALSE: case H_DOUBLE_ZERO: case H_DOUBLE_ONE:
          return true;
        case H_DOUBLE_BYTE: return this.skipBytes(1);
        case H_DOUBLE_SHORT: return this.skipBytes(2);
        case H_DOUBLE_MILLI: case H_DATE_MIN: case H_INT: return this.skipBytes(4);
        case H_DOUBLE: case H_DATE_MS: return this.skipBytes(8);
        case H_MAP_UNTYPED:
          this.refCount++;
          return this.skipMapEntries(depth + 1);
        case H_MAP_TYPED:
          this.refCount++;
          if (!this.skipType()) return false;
          return this.skipMapEntries(depth + 1);
        case H_OBJECT: {
          if (!this.readInt()) return false;
          return this.skipObject(this.num, at, depth);
        }
        case H_REF: {
          if (!this.readInt()) return false;
          if (this.num < 0 || this.num >= <i64>this.refCount) return this.fail(CodecError.RefOutOfRange, at, this.num);
          return true;
        }
        case H_LIST_VAR_TYPED:
          this.refCount++;
          if (!this.skipType()) return false;
          return this.skipUntilEnd(depth + 1);
        case H_LIST_FIXED_TYPED: {
          this.refCount++;
          if (!this.skipType()) return false;
          const lenAt = this.pos;
          if (!this.readInt()) return false;
          return this.skipValues(this.num, lenAt, depth + 1);
        }
        case H_LIST_VAR:
          this.refCount++;
          return this.skipUntilEnd(depth + 1);
        case H_LIST_FIXED: {
          this.refCount++;
          const lenAt = this.pos;
          if (!this.readInt()) return false;
          return this.skipValues(this.num, lenAt, depth + 1);
        }
        case H_END:
          return this.fail(CodecError.UnexpectedEnd, at, b);
        default:
          return this.fail(CodecError.InvalidByte, at, b); // 0x40 0x45 0x47 0x50: reserved
      }
    }
    return false;
  }
}

/** Scratch reader for string reads outside a decode (materializing strings after the fact). */
const scratch = new HessianReader();

/** Decode `units` UTF-16 units of validated Hessian UTF-8 at p into dst starting at unit index i; returns the new p. */
function decodeUnits(base: usize, p: i32, units: i32, dst: usize, i: i32): i32 {
  for (let k = 0; k < units; k++) {
    const b = <u32>load<u8>(base + <usize>p);
    let c: u32;
    if (b < 0x80) {
      c = b;
      p += 1;
    } else if ((b & 0xe0) == 0xc0) {
      c = ((b & 0x1f) << 6) | (<u32>load<u8>(base + <usize>(p + 1)) & 0x3f);
      p += 2;
    } else {
      c = ((b & 0x0f) << 12) | ((<u32>load<u8>(base + <usize>(p + 1)) & 0x3f) << 6) | (<u32>load<u8>(base + <usize>(p + 2)) & 0x3f);
      p += 3;
    }
    store<u16>(dst + (<usize>(i + k) << 1), <u16>c);
  }
  return p;
}

/** Walks the chunks of a string already validated by readString, calling decodeUnits on each. */
function copyStringUnits(base: usize, at: i32, dst: usize): void {
  let p = at;
  let i: i32 = 0;
  while (true) {
    const b = <u32>load<u8>(base + <usize>p);
    let n: i32;
    let final = true;
    if (b < 0x20) {
      n = <i32>b;
      p += 1;
    } else if (b >= 0x30 && b < 0x34) {
      n = ((<i32>b - 0x30) << 8) | <i32>load<u8>(base + <usize>(p + 1));
      p += 2;
    } else {
      n = (<i32>load<u8>(base + <usize>(p + 1)) << 8) | <i32>load<u8>(base + <usize>(p + 2));
      final = b == H_STRING_FINAL;
      p += 3;
    }
    p = decodeUnits(base, p, n, dst, i);
    i += n;
    if (final) return;
  }
}

/**
 * The string value whose lead byte is at `at` in [at, end) of the memory at base, or null when the
 * bytes there are not a well-formed Hessian string. Allocates the result.
 */
export function hessianStringAt(base: usize, at: i32, end: i32): string | null {
  if (at < 0) return null;
  scratch.reset(base, at, end);
  if (!scratch.readString()) return null;
  const units = scratch.strUnits;
  if (units == 0) return "";
  const s = changetype<string>(__new(<usize>units << 1, idof<string>()));
  copyStringUnits(base, at, changetype<usize>(s));
  return s;
}

/**
 * True when the Hessian string at `at` equals `s` unit for unit (no allocation). False when it is
 * not a well-formed string.
 */
export function hessianStringEquals(base: usize, at: i32, end: i32, s: string): bool {
  if (at < 0) return false;
  scratch.reset(base, at, end);
  if (!scratch.readString()) return false;
  const units = scratch.strUnits;
  if (units != s.length) return false;
  const sp = changetype<usize>(s);
  if (!scratch.strChunked) {
    // Common case: compare the single chunk's bytes directly while they are ASCII.
    let p = scratch.strContentStart;
    for (let k = 0; k < units; k++) {
      const b = <u32>load<u8>(base + <usize>p);
      let c: u32;
      if (b < 0x80) {
        c = b;
        p += 1;
      } else if ((b & 0xe0) == 0xc0) {
        c = ((b & 0x1f) << 6) | (<u32>load<u8>(base + <usize>(p + 1)) & 0x3f);
        p += 2;
      } else {
        c = ((b & 0x0f) << 12) | ((<u32>load<u8>(base + <usize>(p + 1)) & 0x3f) << 6) | (<u32>load<u8>(base + <usize>(p + 2)) & 0x3f);
        p += 3;
      }
      if (c != <u32>load<u16>(sp + (<usize>k << 1))) return false;
    }
    return true;
  }
  const tmp = hessianStringAt(base, at, end);
  return tmp !== null && tmp == s;
}

/**
 * The value at `at` as text when it is a string, int, long or double (numbers in decimal; doubles as
 * AssemblyScript prints them, e.g. "1.5", "2.0"); null for any other kind or malformed bytes.
 */
export function hessianScalarTextAt(base: usize, at: i32, end: i32): string | null {
  if (at < 0 || at >= end) return null;
  const kind = kindOf(<u32>load<u8>(base + <usize>at));
  if (kind == ValueKind.String) return hessianStringAt(base, at, end);
  scratch.reset(base, at, end);
  if (kind == ValueKind.Int || kind == ValueKind.Long) {
    if (!scratch.readLong()) return null;
    return scratch.num.toString();
  }
  if (kind == ValueKind.Double) {
    if (!scratch.readDouble()) return null;
    return scratch.dbl.toString();
  }
  return null;
}
