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

/** Keys and many values repeat across endpoints: remember results (bounded, emptied when full). */
const memo = new Map<string, string>();
const MEMO_MAX = 100_000;

export function sanitizeLabel(raw: string): string {
  let out = memo.get(raw);
  if (out === undefined) {
    out = sanitize(raw);
    if (raw.length <= 64) {
      if (memo.size >= MEMO_MAX) memo.clear();
      memo.set(raw, out);
    }
  }
  return out;
}

function sanitize(raw: string): string {
  if (raw.length <= MAX && validLabel.test(raw)) return raw; // the common case: no allocation
  let s = raw.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  if (s.length > MAX) {
    const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
    s = `${s.slice(0, 54).replace(/[^A-Za-z0-9]+$/, "")}-${hash}`;
  }
  return s;
}

/**
 * Sanitizes every key and value; keys that become empty are dropped and returned in `dropped`. The labels
 * come out sorted by key (so every output that lists them is deterministic without sorting again); when two
 * keys sanitize to the same key, the later param wins.
 */
export function sanitizeLabels(params: Iterable<[string, string]>): { labels: Record<string, string>; dropped: string[] } {
  let labels: Record<string, string> = {};
  const dropped: string[] = [];
  let last = "";
  let sorted = true;
  for (const [k, v] of params) {
    const key = sanitizeLabel(k);
    if (key === "") {
      dropped.push(k);
      continue;
    }
    if (key < last) sorted = false;
    last = key;
    labels[key] = sanitizeLabel(v);
  }
  if (!sorted) {
    // Java Dubbo writes params sorted; others (sofa-rpc-node) do not: sort once here
    const out: Record<string, string> = {};
    for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
    labels = out;
  }
  return { labels, dropped };
}
