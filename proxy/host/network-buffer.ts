// One direction's read buffer of a connection, with the edits Envoy allows a network filter: drain a prefix
// and prepend (replace-prefix), append. A chunk that arrives on an empty buffer is held without copying while
// the filter leaves it untouched, so a filter that only reads and continues costs no copy on the host side.
// Chunks that arrive while the filter holds the buffer (Pause) are kept as a list, each copied once at its own
// size, and joined only when the filter looks at the buffer: a filter waiting for a large frame to complete
// costs one copy per chunk, with no garbage from growing one array (memory held stays close to the bytes held).

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
  /** Chunks after storage[start, end), not joined yet; the last one may still be the caller's array. */
  private chunks: Uint8Array[] = [];
  private chunkBytes = 0;
  private lastChunkBorrowed = false;

  get length(): number {
    return this.borrowed !== null ? this.borrowed.length : this.end - this.start + this.chunkBytes;
  }

  /** The current content as a view (valid until the next edit). */
  content(): Uint8Array {
    if (this.borrowed !== null) return this.borrowed;
    this.join();
    return this.storage.subarray(this.start, this.end);
  }

  /** Bytes read from the network: borrowed when the buffer is empty, else added to the chunk list. */
  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      this.start = this.end = 0;
      this.borrowed = chunk;
      return;
    }
    this.own();
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    this.lastChunkBorrowed = true;
  }

  /** Copies what is still the caller's into owned storage, so the caller may reuse its array (done when the filter pauses). */
  own(): void {
    if (this.lastChunkBorrowed) {
      this.lastChunkBorrowed = false;
      const last = this.chunks.length - 1;
      this.chunks[last] = this.chunks[last]!.slice();
    }
    const b = this.borrowed;
    if (b === null) return;
    this.borrowed = null;
    this.start = this.end = 0;
    this.reserveTail(b.length);
    this.storage.set(b, this.end);
    this.end += b.length;
  }

  /** Joins the chunk list into storage (exactly the size of the content). */
  private join(): void {
    if (this.chunks.length === 0) return;
    const head = this.end - this.start;
    const next = freshStorage(head + this.chunkBytes);
    next.set(this.storage.subarray(this.start, this.end), 0);
    let at = head;
    for (const c of this.chunks) {
      next.set(c, at);
      at += c.length;
    }
    this.storage = next;
    this.start = 0;
    this.end = at;
    this.chunks = [];
    this.chunkBytes = 0;
    this.lastChunkBorrowed = false;
  }

  append(data: Uint8Array): void {
    this.own();
    this.join();
    if (data.length === 0) return;
    this.reserveTail(data.length);
    this.storage.set(data, this.end);
    this.end += data.length;
  }

  prepend(data: Uint8Array): void {
    this.own();
    this.join();
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
    this.join();
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
    this.join();
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
    this.chunks = [];
    this.chunkBytes = 0;
    this.lastChunkBorrowed = false;
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
