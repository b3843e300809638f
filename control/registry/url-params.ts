/**
 * A provider URL's params as a compact read-only map: one flat array [key0, value0, key1, value1, ...].
 * Registries hold 10^5 providers with ~15 params each; a `Map` per provider costs several times the
 * memory. Lookups are linear, which is faster than hashing at these sizes. Duplicate keys: the last wins.
 */
export class UrlParams implements ReadonlyMap<string, string> {
  private constructor(private readonly kv: readonly string[]) {}

  /** From alternating keys and values (duplicates allowed: `get` answers the last). */
  static fromPairs(kv: string[]): UrlParams {
    // drop earlier duplicates so iteration shows each key once, in URL order of its last occurrence
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

  get size(): number {
    return this.kv.length / 2;
  }

  /** The i-th key (0 ≤ i < size), in URL order. */
  keyAt(i: number): string {
    return this.kv[2 * i]!;
  }

  /** The i-th value. */
  valueAt(i: number): string {
    return this.kv[2 * i + 1]!;
  }

  get(key: string): string | undefined {
    for (let i = 0; i < this.kv.length; i += 2) if (this.kv[i] === key) return this.kv[i + 1];
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *entries(): MapIterator<[string, string]> {
    for (let i = 0; i < this.kv.length; i += 2) yield [this.kv[i]!, this.kv[i + 1]!];
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i < this.kv.length; i += 2) yield this.kv[i]!;
  }

  *values(): MapIterator<string> {
    for (let i = 1; i < this.kv.length; i += 2) yield this.kv[i]!;
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (let i = 0; i < this.kv.length; i += 2) fn(this.kv[i + 1]!, this.kv[i]!, this);
  }
}
