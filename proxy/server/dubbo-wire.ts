/**
 * The little of the Dubbo wire format the proxy itself needs: the 16-byte frame header (to split a byte
 * stream into frames and to rewrite request ids) and the frames it builds on its own: a heartbeat reply, an
 * error response and the readonly event. Bodies are never parsed here — decoding lives in the .wasm filter.
 *
 *   0-1 magic 0xdabb | 2 flags (0x80 request, 0x40 two-way, 0x20 event, & 0x1f serialization)
 *   3 status | 4-11 request id (int64) | 12-15 body length (int32)
 */
export const HEADER_LENGTH = 16;
export const MAGIC_HIGH = 0xda;
export const MAGIC_LOW = 0xbb;
export const FLAGS_OFFSET = 2;
export const STATUS_OFFSET = 3;
export const ID_OFFSET = 4;
export const BODY_LENGTH_OFFSET = 12;

export const FLAG_REQUEST = 0x80;
export const FLAG_TWO_WAY = 0x40;
export const FLAG_EVENT = 0x20;
export const SERIALIZATION_MASK = 0x1f;
export const SERIALIZATION_HESSIAN2 = 2;

/** Response status codes (Dubbo's Response.java). */
export const Status = {
  OK: 20,
  CLIENT_TIMEOUT: 30,
  SERVER_TIMEOUT: 31,
  CHANNEL_INACTIVE: 35,
  BAD_REQUEST: 40,
  BAD_RESPONSE: 50,
  SERVICE_NOT_FOUND: 60,
  SERVICE_ERROR: 70,
  SERVER_ERROR: 80,
  CLIENT_ERROR: 90,
  SERVER_THREADPOOL_EXHAUSTED: 100,
} as const;

/** Hessian2 null, the body of heartbeat requests and replies. */
const HESSIAN_NULL = 0x4e;

/** True when the header at `off` starts with the Dubbo magic (the caller checked 2 bytes are there). */
export function hasMagic(buf: Uint8Array, off: number): boolean {
  return buf[off] === MAGIC_HIGH && buf[off + 1] === MAGIC_LOW;
}

/** The body length of the frame whose header starts at `off` (signed, as on the wire). */
export function bodyLength(buf: Buffer, off: number): number {
  return buf.readInt32BE(off + BODY_LENGTH_OFFSET);
}

/** A heartbeat reply for the heartbeat request whose header is at `off` of `req`: same id, status 20, body N. */
export function heartbeatReply(req: Uint8Array, off: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + 1);
  out[0] = MAGIC_HIGH;
  out[1] = MAGIC_LOW;
  out[2] = FLAG_EVENT | (req[off + FLAGS_OFFSET] & SERIALIZATION_MASK);
  out[3] = Status.OK;
  for (let i = 0; i < 8; i++) out[ID_OFFSET + i] = req[off + ID_OFFSET + i];
  out.writeInt32BE(1, BODY_LENGTH_OFFSET);
  out[HEADER_LENGTH] = HESSIAN_NULL;
  return out;
}

/**
 * Dubbo's readonly event, which a server sends on every client connection when it shuts down (Apache Dubbo
 * `HeaderExchangeServer.sendChannelReadOnlyEvent`, `DubboGracefulShutdown.readonly`): a request frame with
 * the event flag, one-way, hessian2, whose body is the string `READONLY_EVENT` = "R". A Dubbo consumer marks
 * the channel read-only (`HeaderExchangeHandler.handlerEvent`) and sends no new request on it. The id is
 * unused by receivers (Dubbo sends one request object, one id, on every channel); 0 here.
 */
export function readonlyEvent(): Buffer {
  const body = hessianString("R");
  const out = Buffer.alloc(HEADER_LENGTH + body.length);
  out[0] = MAGIC_HIGH;
  out[1] = MAGIC_LOW;
  out[2] = FLAG_REQUEST | FLAG_EVENT | SERIALIZATION_HESSIAN2;
  out.writeInt32BE(body.length, BODY_LENGTH_OFFSET);
  body.copy(out, HEADER_LENGTH);
  return out;
}

/**
 * An error response: `status` (not 20), the request id given as its two big-endian 32-bit halves, and a
 * hessian2 body holding one string, the message — what Dubbo peers read as the error text.
 */
export function errorResponse(idHigh: number, idLow: number, status: number, message: string): Buffer {
  const body = hessianString(message);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out[0] = MAGIC_HIGH;
  out[1] = MAGIC_LOW;
  out[2] = SERIALIZATION_HESSIAN2;
  out[3] = status;
  out.writeUInt32BE(idHigh >>> 0, ID_OFFSET);
  out.writeUInt32BE(idLow >>> 0, ID_OFFSET + 4);
  out.writeInt32BE(body.length, BODY_LENGTH_OFFSET);
  body.copy(out, HEADER_LENGTH);
  return out;
}

/** Longest chunk a hessian2 string chunk may hold (u16 length). */
const MAX_CHUNK_UNITS = 0xffff;

/**
 * A hessian2 string. Lengths count UTF-16 code units; each unit is written as 1-3 UTF-8 bytes (surrogates
 * of a supplementary character are written one by one, as Java does). Short strings use the compact
 * forms (0x00-0x1f, 0x30-0x33); longer ones are split into 'R' chunks ending with an 'S' chunk.
 */
export function hessianString(s: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  do {
    const units = Math.min(s.length - start, MAX_CHUNK_UNITS);
    const last = start + units >= s.length;
    const chars = encodeUnits(s, start, units);
    let head: Buffer;
    if (last && start === 0 && units <= 31) head = Buffer.of(units);
    else if (last && start === 0 && units <= 1023) head = Buffer.of(0x30 + (units >> 8), units & 0xff);
    else head = Buffer.of(last ? 0x53 : 0x52, units >> 8, units & 0xff);
    parts.push(head, chars);
    start += units;
  } while (start < s.length);
  return Buffer.concat(parts);
}

function encodeUnits(s: string, start: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(count * 3);
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}
