/**
 * Validation of `DubboRoute` documents from `unknown` (what a YAML parser returns). Every problem is
 * reported with the document (file, index and metadata.name when known), the path inside it, the bad value
 * and the expected shape, e.g.
 *
 *   rules.yaml document 1 (demo): spec.routes[0].route[1].weight: expected a positive integer, got -5
 *
 * All problems of a file are collected; `RulesError.problems` holds one line each (its message: one per line).
 */
import { sanitizeLabel } from "../util/k8s-label.js";
import type { DenyRule, Destination, DubboRoute, LoadBalancer, RequestMatch, Route, StringMatch, Subset } from "./types.js";

export const DUBBO_ROUTE_API_VERSION = "dubbo-mesh.io/v1alpha1";
export const DUBBO_ROUTE_KIND = "DubboRoute";

export class RulesError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "RulesError";
  }
}

type Obj = Record<string, unknown>;

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list ${JSON.stringify(value).slice(0, 60)}`;
  if (typeof value === "object") return `a mapping ${JSON.stringify(value).slice(0, 60)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** Collects problems for one document. */
class Checker {
  readonly problems: string[] = [];
  constructor(public where: string) {}

  fail(path: string, expected: string, value: unknown): void {
    this.problems.push(`${this.where}: ${path}: expected ${expected}, got ${show(value)}`);
  }

  obj(value: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(path, `a mapping with keys ${allowed.join(", ")}`, value);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.problems.push(`${this.where}: ${path}: unknown field '${key}' (allowed: ${allowed.join(", ")})`);
      }
    }
    return value as Obj;
  }

  list(value: unknown, path: string, what: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.fail(path, `a list of ${what}`, value);
      return undefined;
    }
    return value;
  }

  str(value: unknown, path: string, opts: { nonEmpty?: boolean; pattern?: RegExp; shape?: string } = {}): string | undefined {
    const shape = opts.shape ?? (opts.nonEmpty ? "a non-empty string" : "a string");
    if (typeof value !== "string" || (opts.nonEmpty && value === "") || (opts.pattern && !opts.pattern.test(value))) {
      const hint = typeof value === "number" ? " (quote numbers that are names, e.g. version: \"1.0\")" : "";
      this.fail(path, shape + hint, value);
      return undefined;
    }
    return value;
  }

  int(value: unknown, path: string, min: number, shape: string): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 0x7fffffff) {
      this.fail(path, shape, value);
      return undefined;
    }
    return value;
  }

  stringMatch(value: unknown, path: string): StringMatch | undefined {
    const shape = "a string match: exactly one of {exact: S}, {prefix: S}, {suffix: S}, {present: true}";
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(path, shape, value);
      return undefined;
    }
    const keys = Object.keys(value);
    if (keys.length !== 1) {
      this.fail(path, shape, value);
      return undefined;
    }
    const key = keys[0]!;
    const v = (value as Obj)[key];
    switch (key) {
      case "exact": {
        const s = this.str(v, `${path}.exact`);
        return s === undefined ? undefined : { exact: s };
      }
      case "prefix":
      case "suffix": {
        const s = this.str(v, `${path}.${key}`, { nonEmpty: true });
        if (s === undefined) return undefined;
        return key === "prefix" ? { prefix: s } : { suffix: s };
      }
      case "present":
        if (v !== true) {
          this.fail(`${path}.present`, "true", v);
          return undefined;
        }
        return { present: true };
      default:
        this.problems.push(`${this.where}: ${path}: unknown field '${key}' (allowed: exact, prefix, suffix, present)`);
        return undefined;
    }
  }

  match(value: unknown, path: string, extra: readonly string[] = []): RequestMatch | undefined {
    const o = this.obj(value, path, ["method", "attachments", "arguments", ...extra]);
    if (!o) return undefined;
    const out: RequestMatch = {};
    if (o["method"] !== undefined) {
      const m = this.stringMatch(o["method"], `${path}.method`);
      if (m) out.method = m;
    }
    for (const kind of ["attachments", "arguments"] as const) {
      const raw = o[kind];
      if (raw === undefined) continue;
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        this.fail(`${path}.${kind}`, kind === "attachments" ? "a mapping attachment name → string match" : "a mapping argument index → string match", raw);
        continue;
      }
      const entries: Record<string, StringMatch> = {};
      for (const [key, m] of Object.entries(raw as Obj)) {
        if (kind === "arguments" && !/^(0|[1-9]\d{0,2})$/.test(key)) {
          this.fail(`${path}.arguments`, "argument indexes 0..999", key);
          continue;
        }
        if (kind === "attachments" && key === "") {
          this.fail(`${path}.attachments`, "non-empty attachment names", key);
          continue;
        }
        const sm = this.stringMatch(m, `${path}.${kind}.${key}`);
        if (sm) entries[key] = sm;
      }
      out[kind] = entries;
    }
    return out;
  }
}

const specKeys = ["interface", "version", "group", "subsets", "routes", "deny", "loadBalancer", "timeoutMs"] as const;

function validateSpec(c: Checker, spec: unknown, name: string, document: number): DubboRoute | undefined {
  const s = c.obj(spec, "spec", specKeys);
  if (!s) return undefined;
  const before = c.problems.length;
  const iface = c.str(s["interface"], "spec.interface", {
    pattern: /^[^\s*]+\*?$|^\*$/,
    shape: "an interface name (exact, or a prefix glob ending in '*')",
  });
  const version = s["version"] === undefined ? "" : c.str(s["version"], "spec.version");
  const group = s["group"] === undefined ? "" : c.str(s["group"], "spec.group");

  const subsets: Subset[] = [];
  // Names written in spec.subsets, valid or not: routes are checked against these, so one bad subset
  // does not also fail every route that names it.
  const declared = new Set<string>();
  let subsetsReadable = true;
  if (s["subsets"] !== undefined) {
    const list = c.list(s["subsets"], "spec.subsets", "{name, labels}");
    if (!list) subsetsReadable = false;
    list?.forEach((item, i) => {
      const p = `spec.subsets[${i}]`;
      const o = c.obj(item, p, ["name", "labels"]);
      if (!o) {
        subsetsReadable = false;
        return;
      }
      if (typeof o["name"] === "string") declared.add(o["name"]);
      const subsetName = c.str(o["name"], `${p}.name`, { pattern: dnsLabel, shape: "a subset name (lower-case letters, digits, '-', at most 63)" });
      const labelsRaw = o["labels"];
      if (typeof labelsRaw !== "object" || labelsRaw === null || Array.isArray(labelsRaw) || Object.keys(labelsRaw).length === 0) {
        c.fail(`${p}.labels`, "a non-empty mapping label → value (registry URL params)", labelsRaw);
        return;
      }
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(labelsRaw as Obj)) {
        const value = c.str(v, `${p}.labels.${k}`);
        if (value !== undefined) labels[sanitizeLabel(k)] = sanitizeLabel(value);
      }
      if (subsetName === undefined) return;
      if (subsets.some((x) => x.name === subsetName)) {
        c.fail(`${p}.name`, "a subset name not used before in this document", subsetName);
        return;
      }
      subsets.push({ name: subsetName, labels });
    });
  }

  const routes: Route[] = [];
  if (s["routes"] !== undefined) {
    const list = c.list(s["routes"], "spec.routes", "{name, match, route}");
    list?.forEach((item, i) => {
      const p = `spec.routes[${i}]`;
      const o = c.obj(item, p, ["name", "match", "route"]);
      if (!o) return;
      const routeName = o["name"] === undefined ? `route-${i}` : c.str(o["name"], `${p}.name`, { nonEmpty: true });
      if (routeName !== undefined && routes.some((r) => r.name === routeName)) {
        c.fail(`${p}.name`, "a route name not used before in this document", routeName);
      }
      const match = o["match"] === undefined ? undefined : c.match(o["match"], `${p}.match`);
      const dests = c.list(o["route"], `${p}.route`, "destinations {subset, weight}");
      if (dests && dests.length === 0) c.fail(`${p}.route`, "at least one destination {subset, weight}", dests);
      const destinations: Destination[] = [];
      dests?.forEach((d, j) => {
        const dp = `${p}.route[${j}]`;
        const od = c.obj(d, dp, ["subset", "weight"]);
        if (!od) return;
        const dest: Destination = { weight: 100 };
        if (od["subset"] !== undefined) {
          const sub = c.str(od["subset"], `${dp}.subset`, { nonEmpty: true });
          if (sub !== undefined && subsetsReadable && !declared.has(sub)) {
            c.fail(`${dp}.subset`, `one of the subsets defined in spec.subsets (${[...declared].join(", ") || "none"})`, sub);
          }
          if (sub !== undefined) dest.subset = sub;
        }
        if (od["weight"] !== undefined) {
          const w = c.int(od["weight"], `${dp}.weight`, 1, "a positive integer");
          if (w !== undefined) dest.weight = w;
        } else if (dests.length > 1) {
          c.fail(`${dp}.weight`, "a positive integer (required when a route has several destinations)", undefined);
        }
        destinations.push(dest);
      });
      if (routeName !== undefined) routes.push({ name: routeName, ...(match ? { match } : {}), route: destinations });
    });
  }

  const deny: DenyRule[] = [];
  if (s["deny"] !== undefined) {
    const list = c.list(s["deny"], "spec.deny", "matches {method, attachments, arguments}");
    list?.forEach((item, i) => {
      const p = `spec.deny[${i}]`;
      const m = c.match(item, p, ["name"]);
      if (!m) return;
      const raw = (item as Obj)["name"];
      const denyName = raw === undefined ? `deny-${i}` : c.str(raw, `${p}.name`, { nonEmpty: true });
      if (Object.keys(m).length === 0) {
        c.fail(p, "at least one of method, attachments, arguments (an empty deny would refuse everything)", item);
        return;
      }
      if (denyName !== undefined) deny.push({ name: denyName, match: m });
    });
  }

  let loadBalancer: LoadBalancer | undefined;
  if (s["loadBalancer"] !== undefined) {
    const p = "spec.loadBalancer";
    const shape = "{simple: ROUND_ROBIN|RANDOM|LEAST_REQUEST} or {consistentHash: {attachment: K} | {argument: N}}";
    const o = c.obj(s["loadBalancer"], p, ["simple", "consistentHash"]);
    if (o) {
      const keys = Object.keys(o);
      if (keys.length !== 1) c.fail(p, shape, o);
      else if (keys[0] === "simple") {
        const v = o["simple"];
        if (v === "ROUND_ROBIN" || v === "RANDOM" || v === "LEAST_REQUEST") loadBalancer = { simple: v };
        else c.fail(`${p}.simple`, "ROUND_ROBIN, RANDOM or LEAST_REQUEST", v);
      } else if (keys[0] === "consistentHash") {
        const h = c.obj(o["consistentHash"], `${p}.consistentHash`, ["attachment", "argument"]);
        if (h) {
          if (Object.keys(h).length !== 1) c.fail(`${p}.consistentHash`, "exactly one of {attachment: K}, {argument: N}", h);
          else if (h["attachment"] !== undefined) {
            const a = c.str(h["attachment"], `${p}.consistentHash.attachment`, { nonEmpty: true });
            if (a !== undefined) loadBalancer = { consistentHash: { attachment: a } };
          } else if (h["argument"] !== undefined) {
            const n = c.int(h["argument"], `${p}.consistentHash.argument`, 0, "an argument index 0..999");
            if (n !== undefined && n <= 999) loadBalancer = { consistentHash: { argument: n } };
            else if (n !== undefined) c.fail(`${p}.consistentHash.argument`, "an argument index 0..999", n);
          }
        }
      }
    }
  }

  let timeoutMs: number | undefined;
  if (s["timeoutMs"] !== undefined) timeoutMs = c.int(s["timeoutMs"], "spec.timeoutMs", 1, "a positive integer number of milliseconds");

  if (c.problems.length > before || iface === undefined || version === undefined || group === undefined) return undefined;
  return {
    name,
    document,
    interface: iface,
    version,
    group,
    subsets,
    routes,
    deny,
    ...(loadBalancer ? { loadBalancer } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

/**
 * Validates parsed YAML documents (one entry per document; `null` entries are empty documents and are
 * skipped). `source` names the file in messages. Throws `RulesError` listing every problem.
 */
export function validateRules(documents: readonly unknown[], source = "rules"): DubboRoute[] {
  const problems: string[] = [];
  const rules: DubboRoute[] = [];
  const names = new Map<string, number>();
  documents.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    const c = new Checker(`${source} document ${index}`);
    const top = c.obj(doc, "(document)", ["apiVersion", "kind", "metadata", "spec"]);
    if (!top) {
      problems.push(...c.problems);
      return;
    }
    const meta = top["metadata"];
    const rawName = typeof meta === "object" && meta !== null ? (meta as Obj)["name"] : undefined;
    if (typeof rawName === "string") c.where = `${source} document ${index} (${rawName})`;
    if (top["apiVersion"] !== DUBBO_ROUTE_API_VERSION) c.fail("apiVersion", JSON.stringify(DUBBO_ROUTE_API_VERSION), top["apiVersion"]);
    if (top["kind"] !== DUBBO_ROUTE_KIND) c.fail("kind", JSON.stringify(DUBBO_ROUTE_KIND), top["kind"]);
    const m = c.obj(meta, "metadata", ["name", "namespace", "labels", "annotations"]);
    const name = m ? c.str(m["name"], "metadata.name", { pattern: dnsSubdomain, shape: "a DNS-1123 name (lower-case letters, digits, '-', '.')" }) : undefined;
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) c.fail("metadata.name", `a name not already used by document ${first}`, name);
      else names.set(name, index);
    }
    const rule = validateSpec(c, top["spec"], name ?? "", index);
    problems.push(...c.problems);
    if (rule && c.problems.length === 0) rules.push(rule);
  });
  if (problems.length > 0) throw new RulesError(problems);
  return rules;
}
