/**
 * MurmurHash3 (x86, 32-bit) over bytes: the hash of consistent-hash keys and ring points. Keys arrive as
 * UTF-8 bytes from the filter's route report, so hashing them needs no string.
 */
export function murmur3(buf: Uint8Array, start: number, end: number, seed = 0): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let i = start;
  const blocksEnd = start + ((end - start) & ~3);
  for (; i < blocksEnd; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = (end - start) & 3;
  if (tail !== 0) {
    let k = buf[i];
    if (tail > 1) k ^= buf[i + 1] << 8;
    if (tail > 2) k ^= buf[i + 2] << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= end - start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3 of a string's UTF-8 bytes (configuration time only: ring points, Maglev permutations). */
export function murmur3String(s: string, seed = 0): number {
  const b = Buffer.from(s, "utf8");
  return murmur3(b, 0, b.length, seed);
}
