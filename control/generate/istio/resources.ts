/**
 * Istio resources for the model: a ServiceEntry per service, a DestinationRule per service that has a rule
 * (subsets, load balancer), and the filter wiring (envoy-filter.ts, wasm-plugin.ts). Plain objects in
 * Istio's YAML shape, built fresh on each call (istio/index.ts caches their YAML text per `Service`).
 */
import { DUBBO_PORT_NAME, type Service } from "../../model/model.js";
import type { UrlParams } from "../../registry/url-params.js";
import type { Subset } from "../../rules/types.js";
import { entryText, markFlow, toYamlText, yamlScalar, yamlUniqueString } from "./yaml-text.js";

export const SERVICE_ENTRY_API = "networking.istio.io/v1beta1";
export const DESTINATION_RULE_API = "networking.istio.io/v1beta1";

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export const GENERATED_BY = { "app.kubernetes.io/managed-by": "dubbo-mesh" };

function meta(name: string, namespace: string | undefined): Meta {
  return { name, ...(namespace ? { namespace } : {}), labels: { ...GENERATED_BY } };
}


/** ServiceEntry: the DNS host, one TCP port named for Dubbo, STATIC endpoints with their labels. */
export function serviceEntry(service: Service, namespace?: string): Record<string, unknown> {
  return {
    apiVersion: SERVICE_ENTRY_API,
    kind: "ServiceEntry",
    metadata: meta(service.host, namespace),
    spec: {
      hosts: [service.host],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: service.port, name: DUBBO_PORT_NAME, protocol: "TCP" }],
      endpoints: service.endpoints.map((e) => ({
        address: e.address,
        ports: { [DUBBO_PORT_NAME]: e.port },
        labels: markFlow(Object.fromEntries(e.labels)), // sorted by the model; one line per endpoint
        ...(e.weight > 0 ? { weight: e.weight } : {}),
      })),
    },
  };
}

/**
 * The ServiceEntry's YAML text, equal to `toYamlText(serviceEntry(service, namespace))` (tested), with the
 * endpoints (10^5 of them at scale) written straight from the model: no object per endpoint and no generic
 * walk. `endpoints` is the last field of the document, so the rest is the generic writer's text for the
 * document without it.
 */
export function serviceEntryText(service: Service, namespace?: string): string {
  const tail = "  endpoints: []\n";
  const head = withHost(`se\n${namespace ?? ""}\n${service.port}`, service.host, (host) =>
    toYamlText(serviceEntry({ ...service, host, endpoints: [] }, namespace)),
  );
  if (service.endpoints.length === 0) return head;
  if (!head.endsWith(tail)) throw new Error("serviceEntryText: endpoints is not the last field"); // cannot happen
  const parts = [head.slice(0, -tail.length), "  endpoints:\n"];
  for (const e of service.endpoints) {
    // an IPv4 address (digits and dots) is always single-quoted: no memo lookup for 10^5 distinct strings
    if (isDottedDigits(e.address)) parts.push("    - address: '", e.address, AFTER_QUOTED_ADDRESS, String(e.port), BEFORE_LABELS);
    else parts.push("    - address: ", yamlScalar(e.address), AFTER_ADDRESS, String(e.port), BEFORE_LABELS);
    pushLabelsText(parts, e.labels);
    if (e.weight > 0) parts.push(WEIGHT_LINE, String(e.weight), "\n");
  }
  return parts.join(""); // one flat string: cached per service, a rope would cost several times its size
}

/**
 * Generic-writer texts whose only per-service part is the host, by `kind` (the document's other inputs:
 * namespace, port, …) and the host's written length: pieces to join with the written host, or null when the
 * placeholder showed up elsewhere in the text.
 */
const hostTemplates = new Map<string, readonly string[] | null>();

/**
 * `make(host)`, the generic writer's text of a document in which `host` is written exactly twice
 * (metadata.name and the spec's host), from a template: `make` run once for a placeholder host of the same
 * written length, split where it went. The writer's layout choices (flow or block) depend on the written
 * lengths only, so joining the pieces with the written host gives exactly `make(host)` (tested), without a
 * generic walk per service.
 */
function withHost(kind: string, host: string, make: (host: string) => string): string {
  const written = yamlUniqueString(host);
  const key = `${kind}\n${written.length}`;
  let pieces = hostTemplates.get(key);
  if (pieces === undefined) {
    const placeholder = "_".repeat(written.length); // a plain scalar: written as itself
    const split = make(placeholder).split(placeholder);
    pieces = split.length === 3 ? split : null;
    hostTemplates.set(key, pieces);
  }
  return pieces === null ? make(host) : pieces.join(written);
}

const AFTER_ADDRESS = `\n      ports: {${yamlScalar(DUBBO_PORT_NAME)}: `;
const AFTER_QUOTED_ADDRESS = `'${AFTER_ADDRESS}`;
const BEFORE_LABELS = "}\n      labels: ";
const WEIGHT_LINE = "      weight: ";

function isDottedDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 48 || c > 57) && c !== 46) return false;
  }
  return true;
}

/**
 * The previous endpoint's labels, by position: key, value and their `key: value` text. A service's endpoints
 * come one after the other and share most labels as the very same strings (the URL parser and the label
 * sanitizer reuse them), so most pieces are found here by identity, without quoting or hashing.
 */
const pieceKey: string[] = [];
const pieceValue: string[] = [];
const pieceText: string[] = [];
/** `{k: ` or `, k: ` of the key at a position */
const pieceKeyText: string[] = [];
/**
 * The last few values seen at a position (under its current key) and their pieces: values that change
 * between a service's endpoints cycle through a few (pid, revision), the same from one service to the next.
 */
const seenValues: string[][] = [];
const seenTexts: string[][] = [];
const SEEN_MAX = 16;

function valuePiece(i: number, v: string): string {
  const values = seenValues[i]!;
  const texts = seenTexts[i]!;
  for (let j = 0; j < values.length; j++) if (values[j] === v) return texts[j]!;
  const text = pieceKeyText[i] + yamlScalar(v);
  if (values.length >= SEEN_MAX) {
    values.length = 0;
    texts.length = 0;
  }
  values.push(v);
  texts.push(text);
  return text;
}
/** `endpointCount` when the piece at a position last changed. */
const pieceChanged: number[] = [];
let endpointCount = 0;

/**
 * Runs of unchanged pieces joined, by their first position: [start, runEnd) as of `runMade`. Between two
 * endpoints of a service usually only a few labels change (pid, timestamp): the others are pushed as a few
 * joined runs instead of one piece each.
 */
const runText: string[] = [];
const runEnd: number[] = [];
const runMade: number[] = [];

/**
 * `{k: v, ...}` and the line's end for endpoint labels, exactly `flowMapText(Object.fromEntries(labels))`,
 * pushed in pieces (each piece carries its separator: `{k: v` first, `, k: v` after).
 */
function pushLabelsText(parts: string[], labels: UrlParams): void {
  const n = labels.size;
  const now = ++endpointCount;
  for (let i = 0; i < n; i++) {
    const k = labels.keyAt(i);
    const v = labels.valueAt(i);
    if (pieceText[i] === undefined || pieceKey[i] !== k || pieceValue[i] !== v) {
      // usually only the value changed (pid, revision): the key's text, with its separator, stays
      if (pieceKey[i] !== k || pieceKeyText[i] === undefined) {
        pieceKeyText[i] = `${i === 0 ? "{" : ", "}${yamlScalar(k)}: `;
        seenValues[i] = [];
        seenTexts[i] = [];
      }
      pieceKey[i] = k;
      pieceValue[i] = v;
      pieceText[i] = valuePiece(i, v);
      pieceChanged[i] = now;
    }
  }
  for (let i = 0; i < n; ) {
    if (pieceChanged[i] === now) {
      parts.push(pieceText[i]!);
      i++;
      continue;
    }
    // [i, j): unchanged since the previous endpoint; its joined text is reusable if made after its last change
    let j = i;
    let newest = 0;
    for (; j < n && pieceChanged[j] !== now; j++) if (pieceChanged[j]! > newest) newest = pieceChanged[j]!;
    if (j - i === 1) parts.push(pieceText[i]!);
    else {
      if (runEnd[i] !== j || runMade[i]! < newest) {
        runText[i] = pieceText.slice(i, j).join("");
        runEnd[i] = j;
        runMade[i] = now;
      }
      parts.push(runText[i]!);
    }
    i = j;
  }
  parts.push(n === 0 ? "{}\n" : "}\n");
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/**
 * DestinationRule with the rule's subsets and load balancer; null for a service without a rule or with
 * neither. consistentHash by attachment/argument has no Istio equivalent (Envoy's dubbo_proxy has no hash
 * policy): the DestinationRule then leaves Istio's default; the fallback proxy honours it.
 */
export function destinationRule(service: Service, namespace?: string): Record<string, unknown> | null {
  const rule = service.rule;
  if (!rule || (rule.subsets.length === 0 && !simpleLb(service))) return null;
  return destinationRuleDoc(service, namespace, rule.subsets.length > 0 ? subsetList(rule.subsets) : undefined);
}

function simpleLb(service: Service): string | undefined {
  const lb = service.rule?.loadBalancer;
  return lb && "simple" in lb ? lb.simple : undefined;
}

function subsetList(subsets: readonly Subset[]): Record<string, unknown>[] {
  return subsets.map((s) => ({ name: s.name, labels: sortedLabels(s.labels) }));
}

function destinationRuleDoc(service: Service, namespace: string | undefined, subsets: unknown[] | undefined): Record<string, unknown> {
  const lb = simpleLb(service);
  return {
    apiVersion: DESTINATION_RULE_API,
    kind: "DestinationRule",
    metadata: meta(service.host, namespace),
    spec: {
      host: service.host,
      ...(lb ? { trafficPolicy: { loadBalancer: { simple: lb } } } : {}),
      ...(subsets !== undefined ? { subsets } : {}),
    },
  };
}

/** A rule's subsets as the DestinationRule spec's last entry (`  subsets:` and the list), per subsets array. */
const subsetsText = new WeakMap<readonly Subset[], string>();

/**
 * The DestinationRule's YAML text, equal to `toYamlText(destinationRule(service, namespace))` (tested), or
 * null: the subsets, the same for every service under a rule, are written once per rule.
 */
export function destinationRuleText(service: Service, namespace?: string): string | null {
  const rule = service.rule;
  const lb = simpleLb(service);
  if (!rule || (rule.subsets.length === 0 && !lb)) return null;
  const kind = `dr\n${namespace ?? ""}\n${lb ?? ""}\n${rule.subsets.length > 0}`;
  if (rule.subsets.length === 0) return withHost(kind, service.host, (host) => toYamlText(destinationRule({ ...service, host }, namespace)!));
  const head = withHost(kind, service.host, (host) => toYamlText(destinationRuleDoc({ ...service, host }, namespace, [])));
  const tail = "  subsets: []\n";
  if (!head.endsWith(tail)) throw new Error("destinationRuleText: subsets is not the last field"); // cannot happen
  let text = subsetsText.get(rule.subsets);
  if (text === undefined) subsetsText.set(rule.subsets, (text = entryText("subsets", subsetList(rule.subsets), "  ", "  ")));
  return [head.slice(0, -tail.length), text].join(""); // flat: cached per service
}
