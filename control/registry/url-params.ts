/**
 * A provider URL's params as a compact read-only map: one flat array [key0, value0, key1, value1, ...].
 * Registries hold 10^5 providers with ~15 params each; a `Map` per provider costs several times the
 * memory. Lookups are linear, which is faster than hashing at these sizes. Duplicate keys: the last wins.
 */
export class UrlParams implements ReadonlyMap<string, string> {
  /**
   * `replaced`/`replacement`: the value at that index is `replacement` instead of the array's, so a map that
   * differs from another in one value shares its array (endpoint labels whose only change from the
   * provider's params is `methods=a,b` → `a_b`, labels.ts); -1 = none.
   */
  private constructor(
    private readonly kv: readonly string[],
    private readonly replaced = -1,
    private readonly replacement = "",
  ) {}

  /** From alternating keys and values (duplicates allowed: `get` answers the last). */
  static fromPairs(kv: string[]): UrlParams {
    // drop earlier duplicates so iteration shows each key once, in URL order of its last occurrence;
    // keys in ascending order (what Java Dubbo writes) have none: one comparison per key instead of all pairs
    let ascending = true;
    for (let i = 2; i < kv.length && ascending; i += 2) ascending = kv[i - 2]! < kv[i]!;
    if (ascending) return new UrlParams(kv);
    let dup = false;
    for (let i = 0; i < kv.length && !dup; i += 2) for (let j = i + 2; j < kv.length; j += 2) if (kv[i] === kv[j]) dup = true;
    if (!dup) return new UrlParams(kv);
    const out: string[] = [];
    for (let i = 0; i < kv.length; i += 2) {
      let later = false;
      for (let j = i + 2; j < kv.length; j += 2) if (kv[i] === kv[j]) later = true;
      if (!later) out.push(kv[i]!, kv[i + 1]!);
    }
    return new UrlParams(out);
  }

  /** The same keys and values but the i-th value, sharing the array when nothing else was replaced. */
  withValueAt(i: number, value: string): UrlParams {
    if (this.replaced < 0 || this.replaced === i) return new UrlParams(this.kv, i, value);
    const kv = this.kv.slice();
    kv[2 * this.replaced + 1] = this.replacement;
    kv[2 * i + 1] = value;
    return new UrlParams(kv);
  }

  get size(): number {
    return this.kv.length / 2;
  }

  /** The i-th key (0 ≤ i < size), in URL order. */
  keyAt(i: number): string {
    return this.kv[2 * i]!;
  }

  /** The i-th value. */
  valueAt(i: number): string {
    return i === this.replaced ? this.replacement : this.kv[2 * i + 1]!;
  }

  get(key: string): string | undefined {
    for (let i = 0; i < this.kv.length; i += 2) if (this.kv[i] === key) return this.valueAt(i / 2);
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *entries(): MapIterator<[string, string]> {
    for (let i = 0; i < this.kv.length; i += 2) yield [this.kv[i]!, this.valueAt(i / 2)];
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i < this.kv.length; i += 2) yield this.kv[i]!;
  }

  *values(): MapIterator<string> {
    for (let i = 0; i < this.kv.length; i += 2) yield this.valueAt(i / 2);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (let i = 0; i < this.kv.length; i += 2) fn(this.valueAt(i / 2), this.kv[i]!, this);
  }
}
