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
/**
 * Class definitions allowed in one body (CodecError.TooManyClasses beyond): keeps the field-count
 * table small whatever the body holds (real bodies define tens).
 */
export const MAX_CLASS_DEFINITIONS: i32 = 65536;

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
 * Result of scanString(): a string value's extent and length, or the error that stopped the scan.
 * Static fields (plain globals): the scan uses no object, so the hot path has no shadow-stack traffic.
 */
export class StringScan {
  /** Length in UTF-16 code units. */
  static units: i32 = 0;
  /** More than one chunk. */
  static chunked: bool = false;
  /** Content bytes of the (last) chunk; the whole content when not chunked. */
  static contentStart: i32 = 0;
  static contentEnd: i32 = 0;
  /** Offset just past the value. */
  static next: i32 = 0;
  static error: CodecError = CodecError.None;
  static errorAt: i32 = 0;
  static errorValue: i64 = 0;
}

@inline function scanFail(code: CodecError, at: i32, value: i64): bool {
  StringScan.error = code;
  StringScan.errorAt = at;
  StringScan.errorValue = value;
  return false;
}

/**
 * Walk `units` UTF-16 code units of Hessian's UTF-8 (1-3 bytes per unit, surrogates as two 3-byte
 * units) from p, not past e. Returns the offset after them, or -1 after recording the error in StringScan.
 */
function walkUnits(base: usize, p: i32, e: i32, units: i32): i32 {
  let n = units;
  // ASCII fast path: bytes whose high bits are all clear are one unit each; 32, then 8 at a time.
  while (n >= 32 && e - p >= 32) {
    const q = base + <usize>p;
    if (((load<u64>(q) | load<u64>(q, 8) | load<u64>(q, 16) | load<u64>(q, 24)) & 0x8080808080808080) != 0) break;
    p += 32;
    n -= 32;
  }
  while (n >= 8 && e - p >= 8) {
    if ((load<u64>(base + <usize>p) & 0x8080808080808080) != 0) break;
    p += 8;
    n -= 8;
  }
  // A short ASCII tail (under 8 units) checked with one masked load when 8 bytes are there.
  if (n > 0 && n < 8 && e - p >= 8) {
    const mask = 0x8080808080808080 & ((<u64>1 << (<u64>n << 3)) - 1);
    if ((load<u64>(base + <usize>p) & mask) == 0) return p + n;
  }
  while (n > 0) {
    if (p >= e) {
      scanFail(CodecError.Truncated, p, 0);
      return -1;
    }
    const b = <u32>load<u8>(base + <usize>p);
    if (b < 0x80) p += 1;
    else if ((b & 0xe0) == 0xc0) p += 2;
    else if ((b & 0xf0) == 0xe0) p += 3;
    else {
      scanFail(CodecError.BadUtf8, p, b);
      return -1;
    }
    n--;
  }
  if (p > e) {
    scanFail(CodecError.Truncated, e, 0);
    return -1;
  }
  return p;
}

/**
 * Scan the Hessian string whose lead byte is at `at` in [at, end) of the memory at base, in all its
 * forms including chunks; results in StringScan. A non-string lead byte gives CodecError.UnexpectedType.
 * Pure: touches only StringScan, so it may run in the middle of a HessianReader pass.
 */
export function scanString(base: usize, at: i32, end: i32): bool {
  let p = at;
  let units: i32 = 0;
  let chunks: i32 = 0;
  while (true) {
    if (p >= end) return scanFail(CodecError.Truncated, p, 0);
    const b = <u32>load<u8>(base + <usize>p);
    let n: i32;
    let final = true;
    if (b < 0x20) {
      n = <i32>b;
      p += 1;
    } else if (b >= 0x30 && b < 0x34) {
      if (end - p < 2) return scanFail(CodecError.Truncated, p, 0);
      n = ((<i32>b - 0x30) << 8) | <i32>load<u8>(base + <usize>(p + 1));
      p += 2;
    } else if (b == H_STRING_CHUNK || b == H_STRING_FINAL) {
      if (end - p < 3) return scanFail(CodecError.Truncated, p, 0);
      n = (<i32>load<u8>(base + <usize>(p + 1)) << 8) | <i32>load<u8>(base + <usize>(p + 2));
      final = b == H_STRING_FINAL;
      p += 3;
    } else if (chunks == 0) {
      return scanFail(CodecError.UnexpectedType, p, b);
    } else {
      return scanFail(CodecError.BadStringChunk, p, b);
    }
    const contentStart = p;
    p = walkUnits(base, p, end, n);
    if (p < 0) return false;
    units += n;
    chunks++;
    if (final) {
      StringScan.units = units;
      StringScan.chunked = chunks > 1;
      StringScan.contentStart = contentStart;
      StringScan.contentEnd = p;
      StringScan.next = p;
      StringScan.error = CodecError.None;
      return true;
    }
  }
  return false; // unreachable
}

/**
 * The Hessian reader: a cursor over [pos, end) of the memory at `base`, with the per-body tables.
 * All members are static (globals): one body is read at a time, start to end, within one call, and
 * the hot path touches no object (no shadow-stack spills). Methods return false on malformed input
 * after recording the first error (code, offset, value); they never read outside [start, end).
 * Results of reads are left in static fields (`num`, `dbl`, `strUnits`, ...), so nothing is allocated.
 */
export class HessianReader {
  static base: usize = 0;
  static pos: i32 = 0;
  static end: i32 = 0;

  static error: CodecError = CodecError.None;
  static errorAt: i32 = 0;
  static errorValue: i64 = 0;

  /** Objects (lists, maps, instances) seen so far in this body: the bound for 'Q' references. */
  static refCount: i32 = 0;
  /** Types defined so far in this body: the bound for type references. */
  static typeCount: i32 = 0;
  /** Class definitions seen so far in this body, and each one's field count (raw i32 table). */
  static classCount: i32 = 0;
  static classCapacity: i32 = 0;
  static classFields: usize = 0;

  /** The last int or long read. */
  static num: i64 = 0;
  /** The last double read. */
  static dbl: f64 = 0;
  /** The last string read: offset of its lead byte, length in UTF-16 units, chunked or not, content bytes of the last chunk. */
  static strAt: i32 = 0;
  static strUnits: i32 = 0;
  static strChunked: bool = false;
  static strContentStart: i32 = 0;
  static strContentEnd: i32 = 0;

  /** Start reading [start, end) of the memory at base, with empty per-body tables. */
  static reset(base: usize, start: i32, end: i32): void {
    HessianReader.base = base;
    HessianReader.pos = start;
    HessianReader.end = end;
    HessianReader.error = CodecError.None;
    HessianReader.errorAt = 0;
    HessianReader.errorValue = 0;
    HessianReader.refCount = 0;
    HessianReader.typeCount = 0;
    HessianReader.classCount = 0;
  }

  /** Record an error (the first one wins) and return false. */
  static fail(code: CodecError, at: i32, value: i64): bool {
    if (HessianReader.error == CodecError.None) {
      HessianReader.error = code;
      HessianReader.errorAt = at;
      HessianReader.errorValue = value;
    }
    return false;
  }

  /** The byte at `at`; the caller has checked at < end. */
  @inline static byteAt(at: i32): u32 {
    return <u32>load<u8>(HessianReader.base + <usize>at);
  }

  /** Consume n raw bytes (n >= 0). */
  static skipBytes(n: i32): bool {
    const p = HessianReader.pos;
    if (n > HessianReader.end - p) return HessianReader.fail(CodecError.Truncated, p, n);
    HessianReader.pos = p + n;
    return true;
  }

  /** Two bytes big-endian at `at`; the caller has checked the bounds. */
  @inline static u16At(at: i32): i32 {
    const base = HessianReader.base;
    return (<i32>load<u8>(base + <usize>at) << 8) | <i32>load<u8>(base + <usize>(at + 1));
  }

  /** Read a Hessian int (any int form) into `num`. */
  static readInt(): bool {
    const at = HessianReader.pos;
    const end = HessianReader.end;
    if (at >= end) return HessianReader.fail(CodecError.Truncated, at, 0);
    const base = HessianReader.base;
    const b = <u32>load<u8>(base + <usize>at);
    const left = end - at - 1;
    if (b >= 0x80 && b < 0xc0) {
      HessianReader.num = <i64>(<i32>b - 0x90);
      HessianReader.pos = at + 1;
      return true;
    }
    if (b >= 0xc0 && b < 0xd0) {
      if (left < 1) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64>(((<i32>b - 0xc8) << 8) + <i32>load<u8>(base + <usize>(at + 1)));
      HessianReader.pos = at + 2;
      return true;
    }
    if (b >= 0xd0 && b < 0xd8) {
      if (left < 2) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64>(((<i32>b - 0xd4) << 16) + HessianReader.u16At(at + 1));
      HessianReader.pos = at + 3;
      return true;
    }
    if (b == H_INT) {
      if (left < 4) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64><i32>bswap<u32>(load<u32>(base + <usize>(at + 1)));
      HessianReader.pos = at + 5;
      return true;
    }
    return HessianReader.fail(CodecError.UnexpectedType, at, b);
  }

  /** Read a Hessian int or long (any form) into `num`. */
  static readLong(): bool {
    const at = HessianReader.pos;
    const end = HessianReader.end;
    if (at >= end) return HessianReader.fail(CodecError.Truncated, at, 0);
    const base = HessianReader.base;
    const b = <u32>load<u8>(base + <usize>at);
    const left = end - at - 1;
    if (b >= 0xd8 && b < 0xf0) {
      HessianReader.num = <i64>(<i32>b - 0xe0);
      HessianReader.pos = at + 1;
      return true;
    }
    if (b >= 0xf0) {
      if (left < 1) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64>(((<i32>b - 0xf8) << 8) + <i32>load<u8>(base + <usize>(at + 1)));
      HessianReader.pos = at + 2;
      return true;
    }
    if (b >= 0x38 && b < 0x40) {
      if (left < 2) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64>(((<i32>b - 0x3c) << 16) + HessianReader.u16At(at + 1));
      HessianReader.pos = at + 3;
      return true;
    }
    if (b == H_LONG_INT) {
      if (left < 4) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64><i32>bswap<u32>(load<u32>(base + <usize>(at + 1)));
      HessianReader.pos = at + 5;
      return true;
    }
    if (b == H_LONG) {
      if (left < 8) return HessianReader.fail(CodecError.Truncated, at, 0);
      HessianReader.num = <i64>bswap<u64>(load<u64>(base + <usize>(at + 1)));
      HessianReader.pos = at + 9;
      return true;
    }
    return HessianReader.readInt();
  }

  /** Read a Hessian double (any form) into `dbl`. */
  static readDouble(): bool {
    const at = HessianReader.pos;
    const end = HessianReader.end;
    if (at >= end) return HessianReader.fail(CodecError.Truncated, at, 0);
    const base = HessianReader.base;
    const b = <u32>load<u8>(base + <usize>at);
    const left = end - at - 1;
    switch (b) {
      case H_DOUBLE_ZERO: HessianReader.dbl = 0; HessianReader.pos = at + 1; return true;
      case H_DOUBLE_ONE: HessianReader.dbl = 1; HessianReader.pos = at + 1; return true;
      case H_DOUBLE_BYTE:
        if (left < 1) return HessianReader.fail(CodecError.Truncated, at, 0);
        HessianReader.dbl = <f64><i8>load<u8>(base + <usize>(at + 1));
        HessianReader.pos = at + 2;
        return true;
      case H_DOUBLE_SHORT:
        if (left < 2) return HessianReader.fail(CodecError.Truncated, at, 0);
        HessianReader.dbl = <f64><i16>HessianReader.u16At(at + 1);
        HessianReader.pos = at + 3;
        return true;
      case H_DOUBLE_MILLI:
        if (left < 4) return HessianReader.fail(CodecError.Truncated, at, 0);
        HessianReader.dbl = <f64><i32>bswap<u32>(load<u32>(base + <usize>(at + 1))) * 0.001;
        HessianReader.pos = at + 5;
        return true;
      case H_DOUBLE:
        if (left < 8) return HessianReader.fail(CodecError.Truncated, at, 0);
        HessianReader.dbl = reinterpret<f64>(bswap<u64>(load<u64>(base + <usize>(at + 1))));
        HessianReader.pos = at + 9;
        return true;
    }
    return HessianReader.fail(CodecError.UnexpectedType, at, b);
  }

  /** True when the lead byte starts a string. */
  @inline static isStringLead(b: u32): bool {
    return b < 0x20 || (b >= 0x30 && b < 0x34) || b == H_STRING_CHUNK || b == H_STRING_FINAL;
  }

  /**
   * Read (validate and step over) a string at pos, in all its forms including chunks. Sets strAt,
   * strUnits, strChunked, strContentStart/strContentEnd. A non-string lead byte gives
   * CodecError.UnexpectedType.
   */
  static readString(): bool {
    const at = HessianReader.pos;
    if (!scanString(HessianReader.base, at, HessianReader.end)) {
      return HessianReader.fail(StringScan.error, StringScan.errorAt, StringScan.errorValue);
    }
    HessianReader.strAt = at;
    HessianReader.strUnits = StringScan.units;
    HessianReader.strChunked = StringScan.chunked;
    HessianReader.strContentStart = StringScan.contentStart;
    HessianReader.strContentEnd = StringScan.contentEnd;
    HessianReader.pos = StringScan.next;
    return true;
  }

  /** Skip a binary value in all its forms, the lead byte `b` at `at` already consumed. */
  private static skipBinary(b: u32, at: i32): bool {
    let lead = b;
    let p = at;
    const end = HessianReader.end;
    while (true) {
      let n: i32;
      let final = true;
      const q = HessianReader.pos;
      if (lead >= 0x20 && lead < 0x30) {
        n = <i32>lead - 0x20;
      } else if (lead >= 0x34 && lead < 0x38) {
        if (end - q < 1) return HessianReader.fail(CodecError.Truncated, p, 0);
        n = ((<i32>lead - 0x34) << 8) | <i32>HessianReader.byteAt(q);
        HessianReader.pos = q + 1;
      } else if (lead == H_BINARY_CHUNK || lead == H_BINARY_FINAL) {
        if (end - q < 2) return HessianReader.fail(CodecError.Truncated, p, 0);
        n = HessianReader.u16At(q);
        HessianReader.pos = q + 2;
        final = lead == H_BINARY_FINAL;
      } else {
        return HessianReader.fail(CodecError.BadBinaryChunk, p, lead);
      }
      if (!HessianReader.skipBytes(n)) return false;
      if (final) return true;
      p = HessianReader.pos;
      if (p >= end) return HessianReader.fail(CodecError.Truncated, p, 0);
      lead = HessianReader.byteAt(p);
      HessianReader.pos = p + 1;
    }
    return false;
  }

  /** Skip a type (a string, added to the type table, or an int index into it). */
  static skipType(): bool {
    const at = HessianReader.pos;
    if (at >= HessianReader.end) return HessianReader.fail(CodecError.Truncated, at, 0);
    const b = HessianReader.byteAt(at);
    if (HessianReader.isStringLead(b)) {
      if (!HessianReader.readString()) return false;
      HessianReader.typeCount++;
      return true;
    }
    if (!HessianReader.readInt()) return false;
    const n = HessianReader.num;
    if (n < 0 || n >= <i64>HessianReader.typeCount) return HessianReader.fail(CodecError.TypeRefOutOfRange, at, n);
    return true;
  }

  /** Read a class definition ('C' already consumed): a name, a field count and the field names. */
  private static readClassDef(): bool {
    if (!HessianReader.readString()) return false;
    const at = HessianReader.pos;
    if (!HessianReader.readInt()) return false;
    const n = HessianReader.num;
    if (n < 0 || n > <i64>(HessianReader.end - HessianReader.pos)) return HessianReader.fail(CodecError.BadLength, at, n);
    for (let i: i32 = 0; i < <i32>n; i++) {
      if (!HessianReader.readString()) return false;
    }
    const count = HessianReader.classCount;
    if (count >= MAX_CLASS_DEFINITIONS) return HessianReader.fail(CodecError.TooManyClasses, at, MAX_CLASS_DEFINITIONS);
    if (count >= HessianReader.classCapacity) {
      // Grows by doubling; bounded by the body length (each definition takes bytes). Unmanaged memory, kept.
      const cap = HessianReader.classCapacity == 0 ? 16 : HessianReader.classCapacity << 1;
      HessianReader.classFields = HessianReader.classFields == 0 ? heap.alloc(<usize>cap << 2) : heap.realloc(HessianReader.classFields, <usize>cap << 2);
      HessianReader.classCapacity = cap;
    }
    store<i32>(HessianReader.classFields + (<usize>count << 2), <i32>n);
    HessianReader.classCount = count + 1;
    return true;
  }

  /** Skip `n` values, each at least one byte, so n larger than the bytes left is rejected first. */
  private static skipValues(n: i64, at: i32, depth: i32): bool {
    if (n < 0 || n > <i64>(HessianReader.end - HessianReader.pos)) return HessianReader.fail(CodecError.BadLength, at, n);
    for (let i: i32 = 0; i < <i32>n; i++) {
      if (!HessianReader.skipValue(depth)) return false;
    }
    return true;
  }

  /** Skip values up to and including the end marker 'Z'. */
  private static skipUntilEnd(depth: i32): bool {
    while (true) {
      const p = HessianReader.pos;
      if (p >= HessianReader.end) return HessianReader.fail(CodecError.Truncated, p, 0);
      if (HessianReader.byteAt(p) == H_END) {
        HessianReader.pos = p + 1;
        return true;
      }
      if (!HessianReader.skipValue(depth)) return false;
    }
    return false;
  }

  /** Skip map entries (key value)* up to and including 'Z'. */
  static skipMapEntries(depth: i32): bool {
    while (true) {
      const p = HessianReader.pos;
      if (p >= HessianReader.end) return HessianReader.fail(CodecError.Truncated, p, 0);
      if (HessianReader.byteAt(p) == H_END) {
        HessianReader.pos = p + 1;
        return true;
      }
      if (!HessianReader.skipValue(depth)) return false;
      if (!HessianReader.skipValue(depth)) return false;
    }
    return false;
  }

  /** Skip an object instance of class definition `def` whose lead byte is at `at`. */
  private static skipObject(def: i64, at: i32, depth: i32): bool {
    if (def < 0 || def >= <i64>HessianReader.classCount) return HessianReader.fail(CodecError.ClassRefOutOfRange, at, def);
    HessianReader.refCount++;
    const fields = load<i32>(HessianReader.classFields + (<usize>def << 2));
    return HessianReader.skipValues(<i64>fields, at, depth + 1);
  }

  /**
   * Skip one value of any kind (class definitions in front of it included), at nesting depth `depth`
   * (0 for a top-level value). Maps, lists and objects count as referable objects, as in Hessian 2.
   */
  static skipValue(depth: i32): bool {
    if (depth >= MAX_DEPTH) return HessianReader.fail(CodecError.TooDeep, HessianReader.pos, depth + 1);
    while (true) {
      const at = HessianReader.pos;
      if (at >= HessianReader.end) return HessianReader.fail(CodecError.Truncated, at, 0);
      const b = HessianReader.byteAt(at);
      if (b < 0x20 || (b >= 0x30 && b < 0x34) || b == H_STRING_CHUNK || b == H_STRING_FINAL) return HessianReader.readString();
      if (b >= 0x80 && b < 0xd8) return HessianReader.readInt();
      if (b >= 0xd8 || (b >= 0x38 && b < 0x40) || b == H_LONG || b == H_LONG_INT) return HessianReader.readLong();
      HessianReader.pos = at + 1;
      if (b < 0x30 || (b >= 0x34 && b < 0x38) || b == H_BINARY_CHUNK || b == H_BINARY_FINAL) return HessianReader.skipBinary(b, at);
      if (b >= 0x60) {
        if (b < 0x70) return HessianReader.skipObject(<i64>(b - 0x60), at, depth);
        HessianReader.refCount++;
        if (b < 0x78) {
          if (!HessianReader.skipType()) return false;
          return HessianReader.skipValues(<i64>(b - 0x70), at, depth + 1);
        }
        return HessianReader.skipValues(<i64>(b - 0x78), at, depth + 1);
      }
      switch (b) {
        case H_CLASS_DEF:
          if (!HessianReader.readClassDef()) return false;
          continue; // the definition precedes the value it describes
        case H_NULL: case H_TRUE: case H_FALSE: case H_DOUBLE_ZERO: case H_DOUBLE_ONE:
          return true;
        case H_DOUBLE_BYTE: return HessianReader.skipBytes(1);
        case H_DOUBLE_SHORT: return HessianReader.skipBytes(2);
        case H_DOUBLE_MILLI: case H_DATE_MIN: case H_INT: return HessianReader.skipBytes(4);
        case H_DOUBLE: case H_DATE_MS: return HessianReader.skipBytes(8);
        case H_MAP_UNTYPED:
          HessianReader.refCount++;
          return HessianReader.skipMapEntries(depth + 1);
        case H_MAP_TYPED:
          HessianReader.refCount++;
          if (!HessianReader.skipType()) return false;
          return HessianReader.skipMapEntries(depth + 1);
        case H_OBJECT: {
          if (!HessianReader.readInt()) return false;
          return HessianReader.skipObject(HessianReader.num, at, depth);
        }
        case H_REF: {
          if (!HessianReader.readInt()) return false;
          const n = HessianReader.num;
          if (n < 0 || n >= <i64>HessianReader.refCount) return HessianReader.fail(CodecError.RefOutOfRange, at, n);
          return true;
        }
        case H_LIST_VAR_TYPED:
          HessianReader.refCount++;
          if (!HessianReader.skipType()) return false;
          return HessianReader.skipUntilEnd(depth + 1);
        case H_LIST_FIXED_TYPED: {
          HessianReader.refCount++;
          if (!HessianReader.skipType()) return false;
          const lenAt = HessianReader.pos;
          if (!HessianReader.readInt()) return false;
          return HessianReader.skipValues(HessianReader.num, lenAt, depth + 1);
        }
        case H_LIST_VAR:
          HessianReader.refCount++;
          return HessianReader.skipUntilEnd(depth + 1);
        case H_LIST_FIXED: {
          HessianReader.refCount++;
          const lenAt = HessianReader.pos;
          if (!HessianReader.readInt()) return false;
          return HessianReader.skipValues(HessianReader.num, lenAt, depth + 1);
        }
        case H_END:
          return HessianReader.fail(CodecError.UnexpectedEnd, at, b);
        default:
          return HessianReader.fail(CodecError.InvalidByte, at, b); // 0x40 0x45 0x47 0x50: reserved
      }
    }
    return false;
  }
}

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
  if (!scanString(base, at, end)) return null;
  const units = StringScan.units;
  if (units == 0) return "";
  const s = changetype<string>(__new(<usize>units << 1, idof<string>()));
  copyStringUnits(base, at, changetype<usize>(s));
  return s;
}

/**
 * True when the Hessian string at `at` equals `s` unit for unit (no allocation). False when it is
 * not a well-formed string.
 *
 * One pass: the length in the lead byte is compared first (most comparisons of attachment keys end
 * there), then the units are decoded and compared as they are read, each one bounds-checked against
 * `end`; a mismatch, a bad UTF-8 lead byte or a unit running past `end` ends the comparison with
 * false, exactly what validating first and comparing after would answer. Chunked strings take the
 * general path.
 */
export function hessianStringEquals(base: usize, at: i32, end: i32, s: string): bool {
  if (at < 0 || at >= end) return false;
  const b = <u32>load<u8>(base + <usize>at);
  let n: i32;
  let p: i32;
  if (b < 0x20) {
    n = <i32>b;
    p = at + 1;
  } else if (b >= 0x30 && b < 0x34) {
    if (end - at < 2) return false;
    n = ((<i32>b - 0x30) << 8) | <i32>load<u8>(base + <usize>(at + 1));
    p = at + 2;
  } else if (b == H_STRING_FINAL) {
    if (end - at < 3) return false;
    n = (<i32>load<u8>(base + <usize>(at + 1)) << 8) | <i32>load<u8>(base + <usize>(at + 2));
    p = at + 3;
  } else {
    return chunkedStringEquals(base, at, end, s);
  }
  if (n != s.length) return false;
  const sp = changetype<usize>(s);
  let k: i32 = 0;
  // ASCII fast path: 4 bytes against 4 UTF-16 units at a time.
  while (n - k >= 4 && end - p >= 4) {
    const x = load<u32>(base + <usize>p);
    if ((x & 0x80808080) != 0) break;
    const w = <u64>(x & 0xff) | (<u64>(x & 0xff00) << 8) | (<u64>(x & 0xff0000) << 16) | (<u64>(x & 0xff000000) << 24);
    if (w != load<u64>(sp + (<usize>k << 1))) return false;
    p += 4;
    k += 4;
  }
  for (; k < n; k++) {
    if (p >= end) return false;
    const c0 = <u32>load<u8>(base + <usize>p);
    let c: u32;
    if (c0 < 0x80) {
      c = c0;
      p += 1;
    } else if ((c0 & 0xe0) == 0xc0) {
      if (end - p < 2) return false;
      c = ((c0 & 0x1f) << 6) | (<u32>load<u8>(base + <usize>(p + 1)) & 0x3f);
      p += 2;
    } else if ((c0 & 0xf0) == 0xe0) {
      if (end - p < 3) return false;
      c = ((c0 & 0x0f) << 12) | ((<u32>load<u8>(base + <usize>(p + 1)) & 0x3f) << 6) | (<u32>load<u8>(base + <usize>(p + 2)) & 0x3f);
      p += 3;
    } else {
      return false; // not a UTF-8 lead byte Hessian allows
    }
    if (c != <u32>load<u16>(sp + (<usize>k << 1))) return false;
  }
  return true;
}

/** hessianStringEquals for a chunked string (or a lead byte that starts no string: false). */
function chunkedStringEquals(base: usize, at: i32, end: i32, s: string): bool {
  if (!scanString(base, at, end)) return false;
  if (StringScan.units != s.length) return false;
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
  // Number reads use the reader's statics; save and restore them so this is safe at any time.
  const savedBase = HessianReader.base, savedPos = HessianReader.pos, savedEnd = HessianReader.end;
  const savedError = HessianReader.error, savedNum = HessianReader.num, savedDbl = HessianReader.dbl;
  HessianReader.base = base;
  HessianReader.pos = at;
  HessianReader.end = end;
  HessianReader.error = CodecError.None;
  let text: string | null = null;
  if (kind == ValueKind.Int || kind == ValueKind.Long) {
    if (HessianReader.readLong()) text = HessianReader.num.toString();
  } else if (kind == ValueKind.Double) {
    if (HessianReader.readDouble()) text = HessianReader.dbl.toString();
  }
  HessianReader.base = savedBase;
  HessianReader.pos = savedPos;
  HessianReader.end = savedEnd;
  HessianReader.error = savedError;
  HessianReader.num = savedNum;
  HessianReader.dbl = savedDbl;
  return text;
}
