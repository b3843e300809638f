// The router's view (RequestView) of a request frame the codec just decoded. Strings are read from the
// frame bytes on first use and cached for the rest of this request, so route(), metrics and properties
// share one copy of each. Service, version and method usually repeat from one request to the next: when
// the frame's bytes equal the previous request's string (compared without allocating), that same string
// object is reused, so the steady state allocates nothing for them and later comparisons are by identity.

import { Frame } from "../codec/index";
import { ATTACHMENT_VALUE_STRING } from "../codec/frame";
import { RequestView } from "../router/request-view";

export class FrameView extends RequestView {
  frame: Frame = new Frame();
  private serviceText: string | null = null;
  private versionText: string | null = null;
  private groupText: string | null = null;
  private methodText: string | null = null;
  private previousService: string = "";
  private previousVersion: string = "";
  private previousMethod: string = "";

  /** Points the view at a newly decoded frame (forgets the cached strings). */
  reset(frame: Frame): void {
    this.frame = frame;
    this.serviceText = null;
    this.versionText = null;
    this.groupText = null;
    this.methodText = null;
  }

  service(): string {
    let s = this.serviceText;
    if (s === null) {
      if (this.frame.serviceEquals(this.previousService)) {
        s = this.previousService;
      } else {
        s = this.frame.service();
        if (s === null) s = "";
        this.previousService = s;
      }
      this.serviceText = s;
    }
    return s;
  }

  version(): string {
    let s = this.versionText;
    if (s === null) {
      if (this.frame.versionEquals(this.previousVersion)) {
        s = this.previousVersion;
      } else {
        s = this.frame.version();
        if (s === null) s = "";
        this.previousVersion = s;
      }
      this.versionText = s;
    }
    return s;
  }

  group(): string {
    let s = this.groupText;
    if (s === null) {
      s = this.frame.group();
      if (s === null) s = "";
      this.groupText = s;
    }
    return s;
  }

  method(): string {
    let s = this.methodText;
    if (s === null) {
      if (this.frame.methodEquals(this.previousMethod)) {
        s = this.previousMethod;
      } else {
        s = this.frame.method();
        if (s === null) s = "";
        this.previousMethod = s;
      }
      this.methodText = s;
    }
    return s;
  }

  attachment(key: string): string | null {
    return this.frame.attachment(key);
  }

  attachmentEquals(key: string, value: string): bool {
    return this.frame.attachmentEquals(key, value);
  }

  argument(index: i32): string | null {
    return this.frame.argument(index);
  }

  /**
   * The `timeout` attachment in milliseconds: decimal text (Java sends a string) or a Hessian int or long
   * (dubbo2.js sends an int); 0 when absent, negative or not a number.
   */
  timeoutMs(): u32 {
    const f = this.frame;
    const i = f.attachmentIndex("timeout");
    if (i < 0) return 0;
    const at = f.attValueAt(i);
    if ((f.attFlags(i) & ATTACHMENT_VALUE_STRING) == 0) return hessianNumberAt(f.base + <usize>at);
    const lead = <u32>load<u8>(f.base + <usize>at);
    if (lead < 0x20) {
      // The usual compact string: read its digits in place (no string built). The decoder validated the
      // value, so its `lead` units take at least `lead` bytes after the lead byte; a byte that is not an
      // ASCII digit (a multi-byte unit included) means "not a number", as below.
      if (lead == 0 || lead > 10) return 0;
      const p = f.base + <usize>at + 1;
      let v: u64 = 0;
      for (let k: u32 = 0; k < lead; k++) {
        const d = <i32>load<u8>(p + <usize>k) - 0x30;
        if (d < 0 || d > 9) return 0;
        v = v * 10 + <u64>d;
      }
      return v > <u64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>v;
    }
    const t = f.attachmentValue(i);
    if (t === null || t.length == 0 || t.length > 10) return 0;
    let n: u64 = 0;
    for (let j = 0; j < t.length; j++) {
      const d = t.charCodeAt(j) - 0x30;
      if (d < 0 || d > 9) return 0;
      n = n * 10 + <u64>d;
    }
    return n > <u64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>n;
  }
}

/**
 * A Hessian int or long at `p` (the decoder validated the value, so its bytes are there), clamped to
 * 0..u32.MAX; 0 for any other kind of value.
 */
function hessianNumberAt(p: usize): u32 {
  const b = <i32>load<u8>(p);
  let v: i64;
  if (b >= 0x80 && b <= 0xbf) v = b - 0x90; // compact int
  else if (b >= 0xc0 && b <= 0xcf) v = ((b - 0xc8) << 8) | <i32>load<u8>(p + 1);
  else if (b >= 0xd0 && b <= 0xd7) v = ((b - 0xd4) << 16) | (<i32>load<u8>(p + 1) << 8) | <i32>load<u8>(p + 2);
  else if (b == 0x49 || b == 0x59) v = <i64><i32>bswap<u32>(load<u32>(p + 1)); // 'I' int, 'Y' long as int
  else if (b >= 0xd8 && b <= 0xef) v = b - 0xe0; // compact long
  else if (b >= 0xf0 && b <= 0xff) v = ((b - 0xf8) << 8) | <i32>load<u8>(p + 1);
  else if (b >= 0x38 && b <= 0x3f) v = ((b - 0x3c) << 16) | (<i32>load<u8>(p + 1) << 8) | <i32>load<u8>(p + 2);
  else if (b == 0x4c) v = <i64>bswap<u64>(load<u64>(p + 1)); // 'L'
  else return 0;
  if (v <= 0) return 0;
  return v > <i64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>v;
}
