/**
 * Turns UTF-8 byte ranges into strings without allocating for names already seen (service, method, route
 * and cluster names repeat on every request). Bounded: past `limit` entries new names are decoded each time.
 */
import { murmur3 } from "./murmur3.js";

interface Entry {
  bytes: Buffer;
  value: string;
  next: Entry | undefined;
}

export class Interner {
  private readonly table = new Map<number, Entry>();
  private size = 0;

  constructor(private readonly limit = 8192) {}

  get(buf: Buffer, start: number, end: number): string {
    if (start === end) return "";
    const h = murmur3(buf, start, end);
    const len = end - start;
    let e = this.table.get(h);
    const head = e;
    while (e !== undefined) {
      if (e.bytes.length === len && buf.compare(e.bytes, 0, len, start, end) === 0) return e.value;
      e = e.next;
    }
    const value = buf.toString("utf8", start, end);
    if (this.size < this.limit) {
      this.table.set(h, { bytes: Buffer.from(buf.subarray(start, end)), value, next: head });
      this.size++;
    }
    return value;
  }
}
