/**
 * Splits a byte stream into whole Dubbo frames by their 16-byte headers (magic 0xdabb, body length at
 * offset 12): framing only, no decoding. Throws, naming the offset, on a stream that does not start
 * each frame with the magic or that ends inside a frame.
 */
export function splitFrames(bytes: Uint8Array): Buffer[] {
  const buf = Buffer.from(bytes);
  const frames: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 16 || buf.readUInt16BE(pos) !== 0xdabb) throw new Error(`no frame header at ${pos}`);
    const end = pos + 16 + buf.readInt32BE(pos + 12);
    if (end > buf.length) throw new Error(`frame at ${pos} runs past the end (${end} > ${buf.length})`);
    frames.push(buf.subarray(pos, end));
    pos = end;
  }
  return frames;
}
