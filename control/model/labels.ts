/**
 * Registry URL params become endpoint labels (ServiceEntry endpoints, subset selection). Kubernetes/Istio
 * label keys and values allow at most 63 characters of `[A-Za-z0-9_.-]`, starting and ending with a letter
 * or digit (values may be empty). The mapping, documented in docs/control.md:
 *
 * - every character outside `[A-Za-z0-9_.-]` becomes `_` (`methods=sayHello,greet` → `sayHello_greet`);
 * - leading and trailing characters that are not letters or digits are dropped (`delay=-1` → `1`);
 * - a result longer than 63 characters is cut to 54 and ends in `-` plus the first 8 hex digits of the
 *   SHA-256 of the original text, so distinct long values stay distinct;
 * - a key that sanitizes to nothing is dropped (reported by the model); a value may be empty.
 *
 * Subset labels in the rules go through the same function, so rules can be written with the raw values.
 */
import { createHash } from "node:crypto";

const MAX = 63;
const validLabel = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)?$/;

export function sanitizeLabel(raw: string): string {
  if (raw.length <= MAX && validLabel.test(raw)) return raw; // the common case: no allocation
  let s = raw.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  if (s.length > MAX) {
    const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
    s = `${s.slice(0, 54).replace(/[^A-Za-z0-9]+$/, "")}-${hash}`;
  }
  return s;
}

/** Sanitizes every key and value; keys that become empty are dropped and returned in `dropped`. */
export function sanitizeLabels(params: Iterable<[string, string]>): { labels: Record<string, string>; dropped: string[] } {
  const labels: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [k, v] of params) {
    const key = sanitizeLabel(k);
    if (key === "") {
      dropped.push(k);
      continue;
    }
    labels[key] = sanitizeLabel(v);
  }
  return { labels, dropped };
}
