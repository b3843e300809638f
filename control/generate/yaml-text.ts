/**
 * A small deterministic YAML writer for JSON-shaped data (objects, arrays, strings, numbers, booleans,
 * null), used for the generated Istio manifests. The `yaml` package writes the same documents about fifty
 * times slower (it builds a full document tree first), which decides whether 10k services regenerate in
 * seconds or in a minute; the tests parse everything written here back with the `yaml` package and compare.
 *
 * Output rules: block style; maps of scalars and such maps (no lists) that fit in 100 characters are
 * written in flow style (`{revision: v1, weight: "100"}`, `name: {safe_regex: {regex: '.*'}}`); strings are plain only when they cannot be read as
 * anything else by a YAML 1.1 or 1.2 parser (letters first, no indicators), otherwise single-quoted, or
 * JSON-quoted (a valid YAML double-quoted scalar) when they hold control characters; keys keep their insertion order.
 */

const plain = /^[A-Za-z_/][A-Za-z0-9_./|@-]*$/;
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;
const reserved = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/;

function yamlString(value: string): string {
  if (plain.test(value) && !reserved.test(value)) return value;
  // single-quoted ('' stands for ') when there is nothing to escape, else JSON's double-quoted form
  return controlChars.test(value) ? JSON.stringify(value) : `'${value.replace(/'/g, "''")}'`;
}

export function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") {
    return yamlString(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as YAML`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  throw new Error(`not a YAML scalar: ${typeof value}`);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

/**
 * Maps marked `markFlow` are written on one line whatever their length (e.g. endpoint labels: 10^5 of
 * them, one line each instead of one line per label).
 */
const alwaysFlow = new WeakSet<object>();

export function markFlow<T extends object>(obj: T): T {
  alwaysFlow.add(obj);
  return obj;
}

/** `{k: v, ...}` when every value is a scalar or such a map (no lists) and it fits in 100 characters. */
function flowMap(obj: Record<string, unknown>, budget = 100): string | undefined {
  if (budget <= 100 && alwaysFlow.has(obj)) budget = Number.MAX_SAFE_INTEGER;
  // a list anywhere among the values rules flow style out: find it before building any text
  for (const k in obj) if (Array.isArray(obj[k])) return undefined;
  let out = "{";
  let first = true;
  let n = 0;
  for (const k in obj) {
    if (++n > 6 && budget <= 100) return undefined; // never fits in 100 characters anyway: skip building it
    const v = obj[k];
    if (v === undefined) continue;
    // a string longer than what is left never fits (quoting never shortens): no quoting of a megabyte
    // configuration just to find that out
    if (typeof v === "string" && v.length > budget - out.length) return undefined;
    let text: string | undefined;
    if (isScalar(v)) text = yamlScalar(v);
    else if (Array.isArray(v)) return undefined;
    else text = flowMap(v as Record<string, unknown>, budget - out.length);
    if (text === undefined) return undefined;
    out += (first ? "" : ", ") + yamlScalar(k) + ": " + text;
    first = false;
    if (out.length > budget) return undefined;
  }
  return out + "}";
}

function writeValue(out: string[], value: unknown, indent: string): void {
  // `value` is a map or a list, written on the following lines at `indent`
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isScalar(item)) out.push(`${indent}- ${yamlScalar(item)}\n`);
      else if (Array.isArray(item)) {
        if (item.length === 0) out.push(`${indent}- []\n`);
        else {
          out.push(`${indent}-\n`);
          writeValue(out, item, indent + "  ");
        }
      } else {
        // each map item joined on its own: a document of 10^5 items keeps 10^5 pieces, not millions
        const local: string[] = [];
        writeMapEntries(local, item as Record<string, unknown>, indent + "  ", `${indent}- `);
        out.push(local.join(""));
      }
    }
  } else writeMapEntries(out, value as Record<string, unknown>, indent, indent);
}

/** Strings at least this long are written as literal block scalars when they can be (see `blockSafe`). */
export const LONG_STRING = 16384;

/**
 * Characters a one-line literal block scalar cannot hold as they are: line breaks (YAML 1.1 and 1.2), C0
 * and C1 controls but tab, DEL, BOM, noncharacters, lone surrogates.
 */
// eslint-disable-next-line no-control-regex
const notBlockSafe = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A long one-line string that `|-` keeps exactly: printable, starting with neither a space nor a tab. */
function blockSafe(value: string): boolean {
  const c = value.charCodeAt(0);
  return c !== 32 && c !== 9 && !notBlockSafe.test(value);
}

function writeMapEntries(out: string[], obj: Record<string, unknown>, indent: string, firstPrefix: string): void {
  let prefix = firstPrefix;
  let any = false;
  for (const k in obj) {
    const v = obj[k];
    if (v === undefined) continue;
    any = true;
    const key = yamlScalar(k);
    if (typeof v === "string" && v.length >= LONG_STRING && blockSafe(v)) {
      // e.g. a plugin configuration of 10^4 services (megabytes of JSON): written as it is, not escaped
      out.push(prefix, key, ": |-\n", indent, "  ", v, "\n");
    } else if (isScalar(v)) out.push(prefix, key, ": ", yamlScalar(v), "\n");
    else if (Array.isArray(v)) {
      if (v.length === 0) out.push(prefix, key, ": []\n");
      else {
        out.push(prefix, key, ":\n");
        writeValue(out, v, indent + "  ");
      }
    } else {
      const o = v as Record<string, unknown>;
      const flow = flowMap(o);
      if (flow !== undefined && Object.keys(o).length > 0) out.push(prefix, key, ": ", flow, "\n");
      else if (flow !== undefined) out.push(prefix, key, ": {}\n");
      else {
        out.push(prefix, key, ":\n");
        writeMapEntries(out, o, indent + "  ", indent + "  ");
      }
    }
    prefix = indent;
  }
  if (!any) out.push(`${firstPrefix}{}\n`);
}

/** One YAML document (without the `---` line) for a JSON-shaped object. */
export function toYamlText(doc: Record<string, unknown>): string {
  const out: string[] = [];
  writeMapEntries(out, doc, "", "");
  return out.join("");
}
