/**
 * The per-request routing host extension (docs/contracts.md §2): the filter calls the foreign function
 * `dubbo_mesh.route_request` once per decoded request, in stream order, while it handles a downstream read.
 * The proxy collects those reports here during one `downstreamData` call and then matches them to the
 * request frames the filter forwarded, by request id.
 *
 * Argument bytes, little-endian: u64 request id, u32 timeout ms (0 = none), u32 flags (bit 0 two-way,
 * bit 1 no destination, bit 2 denied), then five (u32 length + UTF-8) strings: cluster, route name, hash key, service,
 * method. Report objects are reused from read to read; names are interned, hash keys are hashed straight
 * from the argument bytes.
 */
import { Interner } from "./interner.js";
import { murmur3 } from "./murmur3.js";

export const ROUTE_REQUEST_FUNCTION = "dubbo_mesh.route_request";

export const ROUTE_FLAG_TWO_WAY = 1;
export const ROUTE_FLAG_NO_DESTINATION = 2;
/** A deny rule matched (the route name is the rule's): the proxy answers the request with a Dubbo error. */
export const ROUTE_FLAG_DENIED = 4;

export class RouteReport {
  idHigh = 0;
  idLow = 0;
  timeoutMs = 0;
  flags = 0;
  cluster = "";
  route = "";
  hasHash = false;
  hash = 0;
  service = "";
  method = "";
}

/** Fixed part: id (8) + timeout (4) + flags (4). */
const FIXED_BYTES = 16;

export class RouteReports {
  private readonly items: RouteReport[] = [];
  private count = 0;
  private cursor = 0;
  /** Reports that could not be parsed since start (a filter/host contract mismatch; logged by the caller). */
  malformed = 0;

  constructor(private readonly interner: Interner = new Interner()) {}

  get size(): number {
    return this.count;
  }

  /** Forget the reports of the previous read. */
  reset(): void {
    this.count = 0;
    this.cursor = 0;
  }

  /** Parse one call's argument bytes; false (and nothing recorded) when they do not follow the contract. */
  add(args: Uint8Array): boolean {
    const buf = Buffer.isBuffer(args) ? args : Buffer.from(args.buffer, args.byteOffset, args.byteLength);
    if (buf.length < FIXED_BYTES + 20) {
      this.malformed++;
      return false;
    }
    let r = this.items[this.count];
    if (r === undefined) {
      r = new RouteReport();
      this.items.push(r);
    }
    r.idLow = buf.readUInt32LE(0);
    r.idHigh = buf.readUInt32LE(4);
    r.timeoutMs = buf.readUInt32LE(8);
    r.flags = buf.readUInt32LE(12);
    let off = FIXED_BYTES;
    const end = buf.length;
    // Five length-prefixed strings; each bound is checked before it is read.
    for (let field = 0; field < 5; field++) {
      if (off + 4 > end) {
        this.malformed++;
        return false;
      }
      const len = buf.readUInt32LE(off);
      off += 4;
      if (len > end - off) {
        this.malformed++;
        return false;
      }
      switch (field) {
        case 0:
          r.cluster = this.interner.get(buf, off, off + len);
          break;
        case 1:
          r.route = this.interner.get(buf, off, off + len);
          break;
        case 2:
          r.hasHash = len > 0;
          r.hash = len > 0 ? murmur3(buf, off, off + len) : 0;
          break;
        case 3:
          r.service = this.interner.get(buf, off, off + len);
          break;
        default:
          r.method = this.interner.get(buf, off, off + len);
      }
      off += len;
    }
    this.count++;
    return true;
  }

  /**
   * The report for the request with this id. Reports arrive in stream order, so the next unread one almost
   * always matches; otherwise the reports of this read are searched.
   */
  take(idHigh: number, idLow: number): RouteReport | undefined {
    if (this.cursor < this.count) {
      const r = this.items[this.cursor];
      if (r.idLow === idLow && r.idHigh === idHigh) {
        this.cursor++;
        return r;
      }
    }
    for (let i = 0; i < this.count; i++) {
      const r = this.items[i];
      if (r.idLow === idLow && r.idHigh === idHigh) return r;
    }
    return undefined;
  }
}
