/**
 * Splits a Dubbo byte stream into frames using only the 16-byte header (magic + body length). Complete
 * frames are handed to the sink as (buffer, start, end) without copying; only a frame that spans reads is
 * assembled, once, when its last byte arrives. A bad magic or an impossible length is reported once and
 * the reader stops (the caller closes the connection).
 */
import { BODY_LENGTH_OFFSET, HEADER_LENGTH, MAGIC_HIGH, MAGIC_LOW } from "./dubbo-wire.js";

export interface FrameSink {
  /** One complete frame: `buf[start, end)`. The bytes may be rewritten in place; keep them only by reference. */
  frame(buf: Buffer, start: number, end: number): void;
  /** The stream is not Dubbo or announces a frame over the limit; nothing more will be delivered. */
  malformed(reason: string): void;
}

export class FrameReader {
  private parts: Buffer[] = [];
  private held = 0;
  /** Total size of the frame being assembled (0 until its header is complete). */
  private need = 0;
  private failed = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameBytes: number,
  ) {}

  /** Bytes received but not yet delivered as a frame. */
  get buffered(): number {
    return this.held;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (this.held === 0) {
      this.scan(chunk, 0);
      return;
    }
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.need === 0) {
      if (this.held < HEADER_LENGTH) return;
      const joined = Buffer.concat(this.parts, this.held);
      this.parts.length = 0;
      this.held = 0;
      this.scan(joined, 0);
      return;
    }
    if (this.held < this.need) return;
    const joined = Buffer.concat(this.parts, this.held);
    this.parts.length = 0;
    this.held = 0;
    this.need = 0;
    this.scan(joined, 0);
  }

  private scan(buf: Buffer, off: number): void {
    const len = buf.length;
    while (len - off >= HEADER_LENGTH) {
      if (buf[off] !== MAGIC_HIGH || buf[off + 1] !== MAGIC_LOW) {
        this.fail(`not a Dubbo frame: magic 0x${buf.readUInt16BE(off).toString(16).padStart(4, "0")}, expected 0xdabb`);
        return;
      }
      const body = buf.readInt32BE(off + BODY_LENGTH_OFFSET);
      if (body < 0 || body > this.maxFrameBytes) {
        this.fail(`Dubbo frame body length ${body} outside 0..${this.maxFrameBytes}`);
        return;
      }
      const end = off + HEADER_LENGTH + body;
      if (end > len) {
        this.need = HEADER_LENGTH + body;
        break;
      }
      this.sink.frame(buf, off, end);
      if (this.failed) return;
      off = end;
    }
    if (off < len) {
      if (len - off >= 2 && (buf[off] !== MAGIC_HIGH || buf[off + 1] !== MAGIC_LOW)) {
        this.fail(`not a Dubbo frame: magic 0x${buf.readUInt16BE(off).toString(16).padStart(4, "0")}, expected 0xdabb`);
        return;
      }
      this.parts.push(off === 0 ? buf : buf.subarray(off));
      this.held = len - off;
    }
  }

  private fail(reason: string): void {
    this.failed = true;
    this.parts.length = 0;
    this.held = 0;
    this.sink.malformed(reason);
  }
}
