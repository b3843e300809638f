/**
 * Request statistics kept on the hot path without label hashing or strings: one `RouteStats` record per
 * (service, method, route, cluster), found through nested maps of interned names, holding a count per
 * result and a latency histogram. `/stats` turns them into Prometheus text at scrape time.
 */
import { Status } from "./dubbo-wire.js";

/** Result of a request: the upstream's response status, or why the proxy answered it itself. */
export const Result = {
  OK: 0,
  UPSTREAM_ERROR_STATUS: 1, // a non-20 status from the provider (refined by `statusName`)
  NO_ROUTE: 2,
  NO_CLUSTER: 3,
  NO_ENDPOINT: 4,
  OVERFLOW: 5,
  TIMEOUT: 6,
  UPSTREAM_RESET: 7,
  CONNECT_FAILURE: 8,
  ONE_WAY: 9,
  DENIED: 10, // a deny rule of the filter matched; the proxy answered with a Dubbo error
} as const;
export const RESULT_NAMES = [
  "ok", "upstream_error", "no_route", "no_cluster", "no_endpoint", "overflow", "timeout", "upstream_reset",
  "connect_failure", "one_way", "denied",
] as const;
const RESULT_COUNT = RESULT_NAMES.length;

/** Upper bounds of the latency histogram, seconds. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class RouteStats {
  readonly results = new Float64Array(RESULT_COUNT);
  /** Upstream statuses other than OK, by status code. */
  readonly statuses = new Float64Array(256);
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly route: string,
    readonly cluster: string,
  ) {}

  record(result: number, status: number, seconds: number): void {
    this.results[result]++;
    if (result === Result.UPSTREAM_ERROR_STATUS) this.statuses[status & 0xff]++;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.buckets[i]++;
    this.sum += seconds;
    this.count++;
  }
}

const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Status).map(([name, code]) => [code, name.toLowerCase()]),
);

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status_${code}`;
}

/** The table of route statistics; bounded (past `limit` records, new combinations share one overflow record). */
export class RequestStatsTable {
  private readonly byService = new Map<string, Map<string, Map<string, Map<string, RouteStats>>>>();
  private readonly all: RouteStats[] = [];
  private readonly overflow = new RouteStats("_other", "_other", "_other", "_other");

  constructor(private readonly limit = 10_000) {}

  get(service: string, method: string, route: string, cluster: string): RouteStats {
    let m = this.byService.get(service);
    if (m === undefined) this.byService.set(service, (m = new Map()));
    let r = m.get(method);
    if (r === undefined) m.set(method, (r = new Map()));
    let c = r.get(route);
    if (c === undefined) r.set(route, (c = new Map()));
    let s = c.get(cluster);
    if (s === undefined) {
      if (this.all.length >= this.limit) return this.overflow;
      s = new RouteStats(service, method, route, cluster);
      c.set(cluster, s);
      this.all.push(s);
    }
    return s;
  }

  records(): readonly RouteStats[] {
    return this.overflow.count > 0 ? [...this.all, this.overflow] : this.all;
  }
}
