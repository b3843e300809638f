/**
 * A cache of a few entries (key → value) in one flat array [key0, value0, key1, value1, ...]. Per-service
 * caches (10^4 of them at scale) see one key, or two: an array costs a fraction of a `Map`. Keys are
 * compared with `===`.
 */
export type Few<V, K = string> = (K | V)[];

export function fewGet<V, K = string>(few: Few<V, K>, key: K): V | undefined {
  for (let i = 0; i < few.length; i += 2) if (few[i] === key) return few[i + 1] as V;
  return undefined;
}
