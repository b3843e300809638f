// A strict, bounded JSON reader for the plugin configuration.
//
// Why not a package: the AssemblyScript JSON packages on npm (`assemblyscript-json`, `json-as`) report
// malformed input with `assert`/`throw`, which in AssemblyScript is an abort and therefore a trap of the
// whole VM. The filter must answer a bad configuration with `proxy_on_configure` = 0 and a message, so
// this reader never aborts: it returns null and leaves a message in `error` naming the line and column.
//
// Strict RFC 8259: one value, no comments, no trailing commas, no leading zeros, escapes checked,
// unpaired surrogates rejected, duplicate object keys rejected. Nesting is bounded by MAX_DEPTH so that
// recursion cannot exhaust the stack.

export const MAX_DEPTH: i32 = 32;

export const enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** One parsed JSON value. Objects keep their members in document order. */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  numberValue: f64 = 0;
  stringValue: string = "";
  /** Array elements, or object member values (parallel to `keys`). */
  items: JsonValue[] = [];
  /** Object member names. */
  keys: string[] = [];

  /** The member named `key`, or null. */
  member(key: string): JsonValue | null {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (unchecked(keys[i]) == key) return unchecked(this.items[i]);
    }
    return null;
  }

  /** A short description of the value's type for error messages ("a string", "an object", ...). */
  describe(): string {
    switch (this.kind) {
      case JsonKind.Null:
        return "null";
      case JsonKind.Bool:
        return this.boolValue ? "true" : "false";
      case JsonKind.Number:
        return "the number " + this.numberValue.toString();
      case JsonKind.String:
        return this.stringValue.length <= 40 ? 'the string "' + this.stringValue + '"' : "a string";
      case JsonKind.Array:
        return "an array";
      default:
        return "an object";
    }
  }
}

/** Parses one JSON document. On failure returns null and sets `error`. */
export class JsonReader {
  error: string = "";
  private text: string = "";
  private pos: i32 = 0;

  parse(text: string): JsonValue | null {
    this.text = text;
    this.pos = 0;
    this.error = "";
    this.skipSpace();
    const value = this.parseValue(0);
    if (value === null) return null;
    this.skipSpace();
    if (this.pos < text.length) return this.fail("unexpected data after the end of the JSON document");
    return value;
  }

  private fail(message: string): JsonValue | null {
    if (this.error.length == 0) {
      // Line and column (1-based) of the offending character.
      let line = 1;
      let column = 1;
      const end = min(this.pos, this.text.length);
      for (let i = 0; i < end; i++) {
        if (this.text.charCodeAt(i) == 0x0a) {
          line++;
          column = 1;
        } else {
          column++;
        }
      }
      this.error = "invalid JSON at line " + line.toString() + " column " + column.toString() + ": " + message;
    }
    return null;
  }

  private peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  private skipSpace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  private parseValue(depth: i32): JsonValue | null {
    const c = this.peek();
    if (c == 0x7b /* { */) return this.parseObject(depth);
    if (c == 0x5b /* [ */) return this.parseArray(depth);
    if (c == 0x22 /* " */) {
      const s = this.parseString();
      if (s === null) return null;
      const v = new JsonValue();
      v.kind = JsonKind.String;
      v.stringValue = s;
      return v;
    }
    if (c == 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    if (this.matchWord("true")) {
      const v = new JsonValue();
      v.kind = JsonKind.Bool;
      v.boolValue = true;
      return v;
    }
    if (this.matchWord("false")) {
      const v = new JsonValue();
      v.kind = JsonKind.Bool;
      return v;
    }
    if (this.matchWord("null")) return new JsonValue();
    if (c < 0) return this.fail("unexpected end of input, expected a value");
    return this.fail("unexpected character '" + String.fromCharCode(c) + "', expected a value");
  }

  private matchWord(word: string): bool {
    const text = this.text;
    if (this.pos + word.length > text.length) return false;
    for (let i = 0; i < word.length; i++) {
      if (text.charCodeAt(this.pos + i) != word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  private parseObject(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString() + " levels");
    this.pos++; // {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.skipSpace();
    if (this.peek() == 0x7d /* } */) {
      this.pos++;
      return v;
    }
    while (true) {
      if (this.peek() != 0x22) return this.fail("expected a member name in double quotes");
      const keyStart = this.pos;
      const key = this.parseString();
      if (key === null) return null;
      if (v.member(key) !== null) {
        this.pos = keyStart;
        return this.fail('duplicate member name "' + key + '"');
      }
      this.skipSpace();
      if (this.peek() != 0x3a /* : */) return this.fail("expected ':' after a member name");
      this.pos++;
      this.skipSpace();
      const value = this.parseValue(depth + 1);
      if (value === null) return null;
      v.keys.push(key);
      v.items.push(value);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c /* , */) {
        this.pos++;
        this.skipSpace();
        continue;
      }
      if (c == 0x7d) {
        this.pos++;
        return v;
      }
      return this.fail("expected ',' or '}' after an object member");
    }
    return null;
  }

  private parseArray(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString() + " levels");
    this.pos++; // [
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.skipSpace();
    if (this.peek() == 0x5d /* ] */) {
      this.pos++;
      return v;
    }
    while (true) {
      const item = this.parseValue(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        this.skipSpace();
        continue;
      }
      if (c == 0x5d) {
        this.pos++;
        return v;
      }
      return this.fail("expected ',' or ']' after an array element");
    }
    return null;
  }

  private parseNumber(): JsonValue | null {
    const text = this.text;
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let c = this.peek();
    if (c == 0x30) {
      this.pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    } else {
      return this.fail("expected a digit");
    }
    if (this.peek() == 0x2e /* . */) {
      this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("expected a digit after '.'");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    c = this.peek();
    if (c == 0x65 || c == 0x45 /* e E */) {
      this.pos++;
      c = this.peek();
      if (c == 0x2b || c == 0x2d) this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("expected a digit in the exponent");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.numberValue = parseFloat(text.substring(start, this.pos));
    return v;
  }

  private hexDigit(c: i32): i32 {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    return -1;
  }

  /** Reads \uXXXX after the backslash-u; -1 on a bad digit. */
  private readHex4(): i32 {
    if (this.pos + 4 > this.text.length) return -1;
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const d = this.hexDigit(this.text.charCodeAt(this.pos + i));
      if (d < 0) return -1;
      value = (value << 4) | d;
    }
    this.pos += 4;
    return value;
  }

  private parseString(): string | null {
    const text = this.text;
    this.pos++; // opening quote
    let segmentStart = this.pos;
    let out: string[] | null = null;
    while (true) {
      if (this.pos >= text.length) {
        this.fail("unterminated string");
        return null;
      }
      const c = text.charCodeAt(this.pos);
      if (c == 0x22) {
        let result = text.substring(segmentStart, this.pos);
        if (out !== null) {
          out.push(result);
          result = out.join("");
        }
        this.pos++;
        return result;
      }
      if (c < 0x20) {
        this.fail("control character in a string (escape it)");
        return null;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // The document was decoded from UTF-8, so surrogates arrive only in valid pairs; keep them.
        this.pos++;
        continue;
      }
      if (c != 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      if (out === null) out = [];
      out.push(text.substring(segmentStart, this.pos));
      this.pos++;
      const e = this.peek();
      let decoded = "";
      if (e == 0x22) decoded = '"';
      else if (e == 0x5c) decoded = "\\";
      else if (e == 0x2f) decoded = "/";
      else if (e == 0x62) decoded = "\b";
      else if (e == 0x66) decoded = "\f";
      else if (e == 0x6e) decoded = "\n";
      else if (e == 0x72) decoded = "\r";
      else if (e == 0x74) decoded = "\t";
      else if (e == 0x75 /* u */) {
        this.pos++;
        const unit = this.readHex4();
        if (unit < 0) {
          this.fail("bad \\u escape (expected 4 hex digits)");
          return null;
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          this.fail("unpaired low surrogate in a \\u escape");
          return null;
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (!(this.peek() == 0x5c && this.pos + 1 < text.length && text.charCodeAt(this.pos + 1) == 0x75)) {
            this.fail("unpaired high surrogate in a \\u escape");
            return null;
          }
          this.pos += 2;
          const low = this.readHex4();
          if (low < 0xdc00 || low > 0xdfff) {
            this.fail("a high surrogate \\u escape must be followed by a low surrogate");
            return null;
          }
          decoded = String.fromCharCodes([unit, low]);
        } else {
          decoded = String.fromCharCode(unit);
        }
        out.push(decoded);
        segmentStart = this.pos;
        continue;
      } else {
        this.fail("unknown escape in a string");
        return null;
      }
      out.push(decoded);
      this.pos++;
      segmentStart = this.pos;
    }
    return null;
  }
}

/**
 * Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or -1 when all of `bytes` is well-formed.
 */
export function firstInvalidUtf8(bytes: ArrayBuffer): i32 {
  const data = Uint8Array.wrap(bytes);
  const n = data.length;
  let i = 0;
  while (i < n) {
    const b = <u32>unchecked(data[i]);
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (i + need >= n) return i;
    const b1 = <u32>unchecked(data[i + 1]);
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = <u32>unchecked(data[i + k]);
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}
