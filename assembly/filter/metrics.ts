// The filter's metrics (Envoy stat names, tags written into the name; see docs/filter.md). Fixed
// metrics are defined at configure time; the per-request counters are defined on first use and cached
// in nested maps keyed by strings the request already carries (no string building once defined), up to
// MAX_REQUEST_METRICS names per root context, past which requests count in `requests_overflow`.

import { defineMetric, incrementMetric, MetricType } from "../hostcalls";

export const MAX_REQUEST_METRICS: i32 = 1024;
export const PREFIX = "dubbo_mesh.";

/** Dots separate Envoy stat name segments: anything but [A-Za-z0-9_-] in a tag value becomes '_'. */
export function statSegment(s: string): string {
  if (s.length == 0) return "_";
  let clean = true;
  for (let i = 0; i < s.length; i++) {
    if (!isStatChar(s.charCodeAt(i))) {
      clean = false;
      break;
    }
  }
  if (clean) return s;
  const codes = new Array<i32>(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    codes[i] = isStatChar(c) ? c : 0x5f;
  }
  return String.fromCharCodes(codes);
}

function isStatChar(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2d;
}

/** A metric id, or a no-op when the host refused to define it. */
export class Metric {
  /** Counted but not yet handed to the host (see FilterMetrics.flush). */
  pending: i64 = 0;

  constructor(public id: i64) {}

  add(delta: i64): void {
    if (this.id >= 0) incrementMetric(<u32>this.id, delta);
  }
}

function define(type: MetricType, name: string): Metric {
  return new Metric(defineMetric(type, PREFIX + name));
}

/** Response status codes that get a metric of their own; others count as `other`. */
const KNOWN_STATUSES: i32[] = [20, 25, 30, 31, 35, 40, 50, 60, 70, 80, 90, 100];

export class FilterMetrics {
  cxTotal: Metric = define(MetricType.Counter, "cx_total");
  cxActive: Metric = define(MetricType.Gauge, "cx_active");
  downstreamBytes: Metric = define(MetricType.Counter, "downstream_bytes");
  upstreamBytes: Metric = define(MetricType.Counter, "upstream_bytes");
  denied: Metric = define(MetricType.Counter, "denied");
  noDestination: Metric = define(MetricType.Counter, "no_destination");
  decodeErrors: Metric = define(MetricType.Counter, "decode_errors");
  truncatedFrames: Metric = define(MetricType.Counter, "truncated_frames");
  nonDubbo: Metric = define(MetricType.Counter, "non_dubbo");
  heartbeats: Metric = define(MetricType.Counter, "heartbeats");
  events: Metric = define(MetricType.Counter, "events");
  filterStateFailures: Metric = define(MetricType.Counter, "filter_state_failures");
  requestsOverflow: Metric = define(MetricType.Counter, "requests_overflow");
  responseStatus: Metric[] = [];
  responseStatusOther: Metric = define(MetricType.Counter, "responses.status.other");

  private deniedByRule: Map<string, Metric> = new Map();
  /** route name -> service -> method -> metric */
  private requests: Map<string, Map<string, Map<string, Metric>>> = new Map();
  private requestMetricCount: i32 = 0;
  // The last request's counter, reused while route, service and method are the very same string objects.
  private lastRoute: string = "";
  private lastService: string = "";
  private lastMethod: string = "";
  private lastRequests: Metric | null = null;
  /** Request counters with a pending count: incremented in the host once per callback (flush), not per request. */
  private dirty: Metric[] = [];

  constructor() {
    for (let i = 0; i < KNOWN_STATUSES.length; i++) {
      this.responseStatus.push(define(MetricType.Counter, "responses.status." + KNOWN_STATUSES[i].toString()));
    }
  }

  /** Defines `denied.rule.<name>` for a configured deny rule (configure time). */
  defineDenyRule(name: string): void {
    if (!this.deniedByRule.has(name)) this.deniedByRule.set(name, define(MetricType.Counter, "denied.rule." + statSegment(name)));
  }

  countDenied(rule: string): void {
    this.denied.add(1);
    if (this.deniedByRule.has(rule)) this.deniedByRule.get(rule).add(1);
  }

  countResponse(status: i32): void {
    for (let i = 0; i < KNOWN_STATUSES.length; i++) {
      if (unchecked(KNOWN_STATUSES[i]) == status) {
        unchecked(this.responseStatus[i]).add(1);
        return;
      }
    }
    this.responseStatusOther.add(1);
  }

  /** Counts one request in `requests.service.<service>.method.<method>.route.<route>`. */
  countRequest(service: string, method: string, route: string): void {
    const last = this.lastRequests;
    if (
      last !== null &&
      changetype<usize>(route) == changetype<usize>(this.lastRoute) &&
      changetype<usize>(service) == changetype<usize>(this.lastService) &&
      changetype<usize>(method) == changetype<usize>(this.lastMethod)
    ) {
      this.addLater(last);
      return;
    }
    const m = this.requestMetric(service, method, route);
    if (m === null) {
      this.requestsOverflow.add(1);
      return;
    }
    this.lastRoute = route;
    this.lastService = service;
    this.lastMethod = method;
    this.lastRequests = m;
    this.addLater(m);
  }

  /** Counts one in `m`, handed to the host by the next flush(). */
  private addLater(m: Metric): void {
    if (m.pending == 0) this.dirty.push(m);
    m.pending++;
  }

  /**
   * Hands the pending request counts to the host: called at the end of every data callback, so the
   * host's counters are exact whenever it can read them, with one host call per counter per callback.
   */
  flush(): void {
    const dirty = this.dirty;
    const n = dirty.length;
    if (n == 0) return;
    for (let i = 0; i < n; i++) {
      const m = unchecked(dirty[i]);
      const delta = m.pending;
      m.pending = 0;
      m.add(delta);
    }
    dirty.length = 0;
  }

  /** The counter of (service, method, route), defined on first use; null past MAX_REQUEST_METRICS. */
  private requestMetric(service: string, method: string, route: string): Metric | null {
    const byService = this.requests.has(route) ? this.requests.get(route) : null;
    const byMethod = byService !== null && byService.has(service) ? byService.get(service) : null;
    if (byMethod !== null && byMethod.has(method)) return byMethod.get(method);
    if (this.requestMetricCount >= MAX_REQUEST_METRICS) {
      // Nothing is created past the bound: names chosen by clients cannot grow memory.
      return null;
    }
    this.requestMetricCount++;
    let services = byService;
    if (services === null) {
      services = new Map<string, Map<string, Metric>>();
      this.requests.set(route, services);
    }
    let methods = byMethod;
    if (methods === null) {
      methods = new Map<string, Metric>();
      services.set(service, methods);
    }
    const m = define(
      MetricType.Counter,
      "requests.service." + statSegment(service) + ".method." + statSegment(method) + ".route." + statSegment(route),
    );
    methods.set(method, m);
    return m;
  }
}
