// One direction's read buffer of a connection, with the edits Envoy allows a network filter: drain a prefix
// and prepend (replace-prefix), append. A chunk that arrives on an empty buffer is held without copying while
// the filter leaves it untouched, so a filter that only reads and continues costs no copy on the host side.

const EMPTY = new Uint8Array(0);

// Fresh storage for small buffers is carved from a shared slab instead of one ArrayBuffer each: a typed array
// with its own backing store costs an off-heap allocation, zeroing and GC bookkeeping (microseconds), which
// dominated a read-replace edit. A slab region is handed out once and never reused by the host, so the array
// `take()` hands over still belongs to the caller alone.
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_REQUEST = 8 * 1024;
let slab: Uint8Array = EMPTY;
let slabUsed = 0;

function freshStorage(size: number): Uint8Array {
  if (size > SLAB_MAX_REQUEST) return new Uint8Array(size);
  const rounded = (size + 7) & ~7;
  if (slabUsed + rounded > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += rounded;
  return out;
}

export class NetworkBuffer {
  private storage: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  /** The caller's chunk, held as-is while nothing has modified it. */
  private borrowed: Uint8Array | null = null;

  get length(): number {
    return this.borrowed !== null ? this.borrowed.length : this.end - this.start;
  }

  /** The current content as a view (valid until the next edit). */
  content(): Uint8Array {
    if (this.borrowed !== null) return this.borrowed;
    return this.storage.subarray(this.start, this.end);
  }

  /** Bytes read from the network: borrowed when the buffer is empty, else appended (copied). */
  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      this.start = this.end = 0;
      this.borrowed = chunk;
      return;
    }
    this.append(chunk);
  }

  /** Copies a borrowed chunk into owned storage, so the caller may reuse its array (done when the filter pauses). */
  own(): void {
    const b = this.borrowed;
    if (b === null) return;
    this.borrowed = null;
    this.start = this.end = 0;
    this.reserveTail(b.length);
    this.storage.set(b, this.end);
    this.end += b.length;
  }

  append(data: Uint8Array): void {
    this.own();
    if (data.length === 0) return;
    this.reserveTail(data.length);
    this.storage.set(data, this.end);
    this.end += data.length;
  }

  prepend(data: Uint8Array): void {
    this.own();
    if (data.length === 0) return;
    if (this.start === this.end) {
      // Empty (the usual replace-everything edit drained it): prepending is appending, storage is reused.
      this.start = this.end = 0;
      if (this.storage.length === 0) {
        // Nothing owned yet: storage of exactly this size, which take() then hands over without a subarray.
        this.storage = freshStorage(data.length);
        this.storage.set(data, 0);
        this.end = data.length;
        return;
      }
      this.append(data);
      return;
    }
    if (this.start < data.length) {
      const len = this.end - this.start;
      const headroom = data.length + 64;
      if (headroom + len <= this.storage.length) {
        this.storage.copyWithin(headroom, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(1024, (headroom + len) * 2));
        next.set(this.storage.subarray(this.start, this.end), headroom);
        this.storage = next;
      }
      this.start = headroom;
      this.end = headroom + len;
    }
    this.start -= data.length;
    this.storage.set(data, this.start);
  }

  /** Removes up to n bytes from the front. */
  drain(n: number): void {
    const b = this.borrowed;
    if (b !== null) {
      // Still the caller's chunk: narrow the view instead of copying.
      this.borrowed = n >= b.length ? null : b.subarray(n);
      return;
    }
    this.start += Math.min(n, this.end - this.start);
    if (this.start === this.end) this.start = this.end = 0;
  }

  /**
   * Hands the whole content to the caller and empties the buffer: the borrowed chunk itself when untouched,
   * otherwise the owned storage (handed over without a copy; the next edit allocates afresh).
   */
  take(): Uint8Array {
    const b = this.borrowed;
    if (b !== null) {
      this.borrowed = null;
      return b;
    }
    if (this.end === this.start) return EMPTY;
    const s = this.storage;
    const out = this.start === 0 && this.end === s.length ? s : s.subarray(this.start, this.end);
    this.storage = EMPTY;
    this.start = this.end = 0;
    return out;
  }

  /** Empties the buffer and lets its storage go (a held partial frame can be megabytes). */
  clear(): void {
    this.borrowed = null;
    this.storage = EMPTY;
    this.start = this.end = 0;
  }

  private reserveTail(n: number): void {
    if (this.end + n <= this.storage.length) return;
    const len = this.end - this.start;
    if (len + n <= this.storage.length && this.start > 0) {
      this.storage.copyWithin(0, this.start, this.end);
    } else {
      // From empty: room for this write plus a quarter; growing: double.
      const size = len === 0 ? Math.max(256, n + (n >> 2)) : Math.max(1024, (len + n) * 2);
      const next = freshStorage(size);
      if (len > 0) next.set(this.storage.subarray(this.start, this.end), 0);
      this.storage = next;
    }
    this.start = 0;
    this.end = len;
  }
}
