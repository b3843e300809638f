/**
 * A provider URL's params as a compact read-only map: an array of keys and an array of values, in URL
 * order. Registries hold 10^5 providers with ~15 params each; a `Map` per provider costs several times the
 * memory. A service's providers usually have the very same keys: they share one keys array (`fromLists`),
 * and what is known of a keys array (sorted, valid as labels) is worked out once for all of them. Lookups
 * are linear, which is faster than hashing at these sizes. Duplicate keys: the last wins.
 */
export class UrlParams implements ReadonlyMap<string, string> {
  /**
   * `replaced`/`replacement`: the value at that index is `replacement` instead of the array's, so a map that
   * differs from another in one value shares its arrays (endpoint labels whose only change from the
   * provider's params is `methods=a,b` → `a_b`, labels.ts); -1 = none.
   */
  private constructor(
    /** read-only, possibly shared with other maps */
    readonly keyList: readonly string[],
    private readonly valueList: readonly string[],
    private readonly replaced = -1,
    private readonly replacement = "",
  ) {}

  /** From alternating keys and values (duplicates allowed: `get` answers the last). */
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
   * From keys and values of the same length (duplicate keys allowed: `get` answers the last). Neither array
   * may be altered afterwards; `keys` may be shared with other maps (it is when it has no duplicates).
   */
  static fromLists(keys: readonly string[], values: readonly string[]): UrlParams {
    if (keys.length !== values.length) throw new Error("UrlParams: keys and values differ in length");
    if (!hasDuplicates(keys)) return new UrlParams(keys, values);
    // drop earlier duplicates so iteration shows each key once, in URL order of its last occurrence
    const k: string[] = [];
    const v: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (keys.indexOf(keys[i]!, i + 1) >= 0) continue;
      k.push(keys[i]!);
      v.push(values[i]!);
    }
    return new UrlParams(k, v);
  }

  /** The same keys and values but the i-th value, sharing the arrays when nothing else was replaced. */
  withValueAt(i: number, value: string): UrlParams {
    if (this.replaced < 0 || this.replaced === i) return new UrlParams(this.keyList, this.valueList, i, value);
    const values = this.valueList.slice();
    values[this.replaced] = this.replacement;
    values[i] = value;
    return new UrlParams(this.keyList, values);
  }

  get size(): number {
    return this.keyList.length;
  }

  /** The i-th key (0 ≤ i < size), in URL order. */
  keyAt(i: number): string {
    return this.keyList[i]!;
  }

  /** The i-th value. */
  valueAt(i: number): string {
    return i === this.replaced ? this.replacement : this.valueList[i]!;
  }

  get(key: string): string | undefined {
    const i = this.keyList.indexOf(key);
    return i < 0 ? undefined : this.valueAt(i);
  }

  has(key: string): boolean {
    return this.keyList.includes(key);
  }

  *entries(): MapIterator<[string, string]> {
    for (let i = 0; i < this.keyList.length; i++) yield [this.keyList[i]!, this.valueAt(i)];
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i < this.keyList.length; i++) yield this.keyList[i]!;
  }

  *values(): MapIterator<string> {
    for (let i = 0; i < this.keyList.length; i++) yield this.valueAt(i);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (let i = 0; i < this.keyList.length; i++) fn(this.valueAt(i), this.keyList[i]!, this);
  }
}

/** The keys array checked last, and its answer: providers of a service share one keys array. */
let lastChecked: readonly string[] | undefined;
let lastDuplicates = false;

function hasDuplicates(keys: readonly string[]): boolean {
  if (keys === lastChecked) return lastDuplicates;
  // keys in ascending order (what Java Dubbo writes) have none: one comparison per key instead of all pairs
  let ascending = true;
  for (let i = 1; i < keys.length && ascending; i++) ascending = keys[i - 1]! < keys[i]!;
  let dup = false;
  if (!ascending) for (let i = 0; i < keys.length && !dup; i++) dup = keys.indexOf(keys[i]!, i + 1) >= 0;
  lastChecked = keys;
  lastDuplicates = dup;
  return dup;
}
