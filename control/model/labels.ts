/**
 * A provider's URL params as its endpoint's labels (util/k8s-label.ts does the sanitizing; the mapping is
 * documented in docs/control.md).
 */
import { NONE, sanitizeLabel, sanitizeLabels } from "../util/k8s-label.js";
import { UrlParams } from "./url-params.js";

/**
 * A provider's labels: what `sanitizeLabels` gives, in the same order, as a compact read-only map. When
 * the keys are valid labels already and ascending (what Java Dubbo writes), the provider's keys array is
 * shared, and so is its whole params object when every value is valid too.
 */
export function endpointLabels(params: UrlParams): { labels: UrlParams; dropped: readonly string[] } {
  const keys = params.keyList;
  // ascending, valid, none that sorts as an array index (a JS object would put those first)
  const keysValid = keys.every((k, i) => sanitizeLabel(k) === k && (i === 0 || keys[i - 1]! < k) && !/^\d/.test(k));
  if (!keysValid) {
    const { labels, dropped } = sanitizeLabels(params);
    return { labels: UrlParams.fromLists(Object.keys(labels), Object.values(labels)), dropped };
  }
  const values = params.valueList.map(sanitizeLabel);
  const same = values.every((v, i) => v === params.valueList[i]);
  return { labels: same ? params : UrlParams.fromLists(keys, values), dropped: NONE };
}
