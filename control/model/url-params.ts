/**
 * A provider URL's params as a compact read-only map: an array of keys and an array of values, in URL
 * order. Registries hold 10^5 providers with ~15 params each; a `Map` per provider costs several times the
 * memory, and lookups are linear, which is faster than hashing at these sizes. The registry's URL parser
 * makes them; endpoint labels (labels.ts) are one too, often the provider's own.
 */
export class UrlParams implements ReadonlyMap<string, string> {
  private constructor(
    readonly keyList: readonly string[],
    readonly valueList: readonly string[],
  ) {}

  /** From alternating keys and values; of duplicate keys the last wins (kept at its position). */
  static fromPairs(kv: readonly string[]): UrlParams {
    const keys: string[] = [];
    const values: string[] = [];
    for (let i = 0; i < kv.length; i += 2) {
      keys.push(kv[i]!);
      values.push(kv[i + 1]!);
    }
    return UrlParams.fromLists(keys, values);
  }

  /**
   * From keys and values of the same length; of duplicate keys the last wins, at the position of its last
   * occurrence. Neither array may be altered afterwards (they are kept when there are no duplicates).
   */
  static fromLists(keys: readonly string[], values: readonly string[]): UrlParams {
    if (keys.length !== values.length) throw new Error("UrlParams: keys and values differ in length");
    if (new Set(keys).size === keys.length) return new UrlParams(keys, values);
    const k: string[] = [];
    const v: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (keys.indexOf(keys[i]!, i + 1) >= 0) continue;
      k.push(keys[i]!);
      v.push(values[i]!);
    }
    return new UrlParams(k, v);
  }

  get size(): number {
    return this.keyList.length;
  }

  get(key: string): string | undefined {
    const i = this.keyList.indexOf(key);
    return i < 0 ? undefined : this.valueList[i];
  }

  has(key: string): boolean {
    return this.keyList.includes(key);
  }

  /** The pairs as a plain object (in its key order: array-index keys first). */
  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < this.keyList.length; i++) out[this.keyList[i]!] = this.valueList[i]!;
    return out;
  }

  *entries(): MapIterator<[string, string]> {
    for (let i = 0; i < this.keyList.length; i++) yield [this.keyList[i]!, this.valueList[i]!];
  }

  keys(): MapIterator<string> {
    return this.keyList.values();
  }

  values(): MapIterator<string> {
    return this.valueList.values();
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (let i = 0; i < this.keyList.length; i++) fn(this.valueList[i]!, this.keyList[i]!, this);
  }
}
