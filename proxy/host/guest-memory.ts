// Bounds-checked access to a guest's linear memory. Every pointer and length that comes from the guest passes
// through here: a range that leaves memory (ptr + len > size, computed without 32-bit wrap-around) is refused,
// and the caller answers InvalidMemoryAccess, never a host exception. Views are cached and refreshed only when
// the memory grows (its ArrayBuffer changes).

import { WasmResult } from "./abi.js";

const utf8 = new TextDecoder("utf-8");
const EMPTY = new Uint8Array(0);
// Read once (an imported enum member can cost a getter call per access under tsx/esbuild).
const OK = WasmResult.Ok;
const INVALID_MEMORY_ACCESS = WasmResult.InvalidMemoryAccess;

export class GuestMemory {
  private buffer: ArrayBuffer;
  private readonly shared: boolean;
  private u8: Uint8Array;
  private dv: DataView;
  /** Allocates `size` bytes in the guest (its `malloc`); returns 0 on failure. Set once exports are known. */
  allocate: (size: number) => number = () => 0;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.buffer = memory.buffer;
    this.shared = !(this.buffer instanceof ArrayBuffer);
    this.u8 = new Uint8Array(this.buffer);
    this.dv = new DataView(this.buffer);
  }

  /**
   * Re-reads memory.buffer only when the cached one may be stale: growing a non-shared memory detaches its old
   * ArrayBuffer (byteLength 0), so a non-empty cached buffer is current. The memory.buffer getter costs a call
   * into the engine, which every import paid before. Shared memories never detach: those always re-read.
   */
  private refresh(): void {
    if (this.buffer.byteLength !== 0 && !this.shared) return;
    const b = this.memory.buffer;
    if (b !== this.buffer) {
      this.buffer = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  get size(): number {
    this.refresh();
    return this.u8.length;
  }

  /** True when [ptr, ptr + len) lies inside memory. Arguments are unsigned 32-bit values. */
  inBounds(ptr: number, len: number): boolean {
    this.refresh();
    return ptr + len <= this.u8.length;
  }

  /** A view of guest bytes (valid until the guest runs again), or null when out of bounds. */
  view(ptr: number, len: number): Uint8Array | null {
    this.refresh();
    if (ptr + len > this.u8.length) return null;
    if (len === 0) return EMPTY;
    return this.u8.subarray(ptr, ptr + len);
  }

  /** Guest bytes decoded as UTF-8, or null when out of bounds. */
  string(ptr: number, len: number): string | null {
    const v = this.view(ptr, len);
    return v === null ? null : utf8.decode(v);
  }

  readU32(ptr: number): number | null {
    this.refresh();
    if (ptr + 4 > this.u8.length) return null;
    return this.dv.getUint32(ptr, true);
  }

  writeU32(ptr: number, value: number): boolean {
    this.refresh();
    if (ptr + 4 > this.u8.length) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU16(ptr: number, value: number): boolean {
    this.refresh();
    if (ptr + 2 > this.u8.length) return false;
    this.dv.setUint16(ptr, value, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    this.refresh();
    if (ptr + 8 > this.u8.length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  /** Writes a non-negative safe integer as u64 without a BigInt. */
  writeU64Number(ptr: number, value: number): boolean {
    this.refresh();
    if (ptr + 8 > this.u8.length) return false;
    this.dv.setUint32(ptr, value % 0x1_0000_0000, true);
    this.dv.setUint32(ptr + 4, Math.floor(value / 0x1_0000_0000), true);
    return true;
  }

  writeBytes(ptr: number, data: Uint8Array): boolean {
    this.refresh();
    if (ptr + data.length > this.u8.length) return false;
    this.u8.set(data, ptr);
    return true;
  }

  /**
   * Copies `data` into a fresh guest allocation and stores its address and size at ptrPtr/sizePtr (cpp-host's
   * copyToPointerSize): empty data stores 0/0 without allocating. Both out-pointers are checked before the guest
   * allocates, so a bad pointer leaks nothing.
   */
  copyToGuest(data: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
    if (!this.inBounds(ptrPtr, 4) || !this.inBounds(sizePtr, 4)) return INVALID_MEMORY_ACCESS;
    let address = 0;
    if (data.length > 0) {
      address = this.allocate(data.length) >>> 0;
      if (address === 0 || !this.writeBytes(address, data)) return INVALID_MEMORY_ACCESS;
    }
    this.writeU32(ptrPtr, address);
    this.writeU32(sizePtr, data.length);
    return OK;
  }

  /** Like copyToGuest for a range of a larger array, without making a subarray first. */
  copyRangeToGuest(source: Uint8Array, start: number, length: number, ptrPtr: number, sizePtr: number): WasmResult {
    if (!this.inBounds(ptrPtr, 4) || !this.inBounds(sizePtr, 4)) return INVALID_MEMORY_ACCESS;
    let address = 0;
    if (length > 0) {
      address = this.allocate(length) >>> 0;
      this.refresh();
      if (address === 0 || address + length > this.u8.length) return INVALID_MEMORY_ACCESS;
      // The whole array (the usual read of a buffer) needs no subarray: on a Node Buffer that is a Buffer
      // construction through the species constructor.
      this.u8.set(start === 0 && length === source.length ? source : source.subarray(start, start + length), address);
    }
    this.writeU32(ptrPtr, address);
    this.writeU32(sizePtr, length);
    return OK;
  }
}
