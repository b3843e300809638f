/**
 * Kubernetes label keys and values from any text: registry URL params become endpoint labels (ServiceEntry
 * endpoints, subset selection, model/labels.ts) and rules' subset labels go through the same function
 * (rules/validate.ts). Kubernetes/Istio
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

/** Keys and values that need changes repeat across endpoints: remember results (bounded, emptied when full). */
const memo = new Map<string, string>();
const MEMO_MAX = 100_000;

/** `[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?`, at most 63 characters, or empty: a loop, no allocation. */
function isValidLabel(s: string): boolean {
  const n = s.length;
  if (n === 0) return true;
  if (n > MAX) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) continue;
    if ((c === 95 || c === 46 || c === 45) && i > 0 && i < n - 1) continue; // _ . - inside
    return false;
  }
  return true;
}

export function sanitizeLabel(raw: string): string {
  if (isValidLabel(raw)) return raw; // the common case: no lookup, no allocation
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
export function sanitizeLabels(params: Iterable<[string, string]>): { labels: Record<string, string>; dropped: readonly string[] } {
  const state: LabelsState = { labels: {}, dropped: NONE, last: "", sorted: true };
  for (const [k, v] of params) addLabel(state, k, v);
  let labels = state.labels;
  if (!state.sorted) {
    // Java Dubbo writes params sorted; others (sofa-rpc-node) do not: sort once here
    const out: Record<string, string> = {};
    for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
    labels = out;
  }
  return { labels, dropped: state.dropped };
}

export const NONE: readonly string[] = Object.freeze([]);

interface LabelsState {
  labels: Record<string, string>;
  dropped: readonly string[];
  last: string;
  sorted: boolean;
}

function addLabel(state: LabelsState, k: string, v: string): void {
  const key = sanitizeLabel(k);
  if (key === "") {
    state.dropped = [...state.dropped, k];
    return;
  }
  if (key < state.last) state.sorted = false;
  state.last = key;
  state.labels[key] = sanitizeLabel(v);
}

