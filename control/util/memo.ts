/**
 * A memo of a pure function: results by argument in a Map emptied when it holds `max` entries (for inputs
 * that repeat a lot among 10^4–10^5 calls — versions, weights, rule names, package segments — without
 * growing with the ones that do not).
 */
export function boundedMemo<K, V>(max: number, make: (key: K) => V): (key: K) => V {
  const results = new Map<K, V>();
  return (key: K): V => {
    let out = results.get(key);
    if (out === undefined) {
      out = make(key);
      if (results.size >= max) results.clear();
      results.set(key, out);
    }
    return out;
  };
}
