/**
 * The proxy's metrics in Prometheus text: prom-client's registry renders them (and the standard process
 * metrics, `process_*` and `nodejs_*`), while the values come from the proxy's own garbage-free records,
 * read only at scrape time. Counters and gauges are prom-client `Counter`s and `Gauge`s whose `collect()`
 * callback (prom-client's documented hook, run when the registry is scraped) copies the records in.
 * prom-client's `Histogram` counts its own observations and has no way to set bucket counts, so the latency
 * histogram, already counted per route by RouteStats, is a `Histogram` subclass that reports those counts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Cluster } from "./cluster.js";
import { LATENCY_BUCKETS, RESULT_NAMES, Result, type RouteStats, statusName } from "./request-stats.js";

export interface FilterMetric {
  name: string;
  kind: "counter" | "gauge" | "histogram";
  value: number;
  histogram?: { count: number; sum: number };
}

export interface MetricsSources {
  routes(): readonly RouteStats[];
  clusters(): readonly Cluster[];
  filterMetrics(): readonly FilterMetric[];
  downstreamConnections(): number;
  downstreamBuffered(): number;
  downstreamShed(): number;
}

type Labels = Record<string, string | number>;
interface Sample {
  labels: Labels;
  value: number;
}
interface HistogramSample extends Sample {
  metricName: string;
}

/**
 * A histogram whose buckets, sum and count are counted elsewhere. prom-client's registry reads a
 * histogram through `getForPromString()` (text) or `get()` (JSON); both return the recorded samples.
 */
class RecordedHistogram extends Histogram<string> {
  constructor(
    private readonly metricName: string,
    private readonly help: string,
    registry: Registry,
    private readonly samples: () => HistogramSample[],
  ) {
    super({ name: metricName, help, labelNames: [], registers: [registry] });
  }

  private snapshot() {
    return { name: this.metricName, help: this.help, type: "histogram", aggregator: "sum", values: this.samples() };
  }

  async getForPromString() {
    return this.snapshot();
  }

  override async get() {
    return this.snapshot() as unknown as Awaited<ReturnType<Histogram<string>["get"]>>;
  }
}

/** A counter, or gauge, whose samples are read from `read()` at scrape time. */
function recorded(kind: "counter" | "gauge", registry: Registry, name: string, help: string, labelNames: string[], read: () => Sample[]): void {
  const collect = function (this: Counter<string> | Gauge<string>): void {
    this.reset();
    for (const s of read()) {
      if (this instanceof Gauge) this.set(s.labels, s.value);
      else this.inc(s.labels, s.value);
    }
  };
  const config = { name, help, labelNames, registers: [registry], collect };
  if (kind === "counter") new Counter(config);
  else new Gauge(config);
}

/** Prometheus metric names allow [a-zA-Z0-9_:]. */
export function metricName(raw: string): string {
  const s = raw.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

export function createRegistry(src: MetricsSources): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  const routeLabels = ["service", "method", "route", "cluster"];

  recorded("counter", reg, "dubbo_mesh_requests_total", "Requests by service, method, route, cluster and result", [...routeLabels, "result"], () => {
    const out: Sample[] = [];
    for (const r of src.routes()) {
      const base = { service: r.service, method: r.method, route: r.route, cluster: r.cluster };
      for (let i = 0; i < RESULT_NAMES.length; i++) {
        if (i === Result.UPSTREAM_ERROR_STATUS) continue;
        if (r.results[i] > 0) out.push({ labels: { ...base, result: RESULT_NAMES[i] }, value: r.results[i] });
      }
      for (let s = 0; s < 256; s++) {
        if (r.statuses[s] > 0) out.push({ labels: { ...base, result: statusName(s) }, value: r.statuses[s] });
      }
    }
    return out;
  });

  new RecordedHistogram("dubbo_mesh_request_duration_seconds", "Request latency through the proxy", reg, () => {
    const out: HistogramSample[] = [];
    for (const r of src.routes()) {
      const base = { service: r.service, method: r.method, route: r.route, cluster: r.cluster };
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += r.buckets[i];
        out.push({ metricName: "dubbo_mesh_request_duration_seconds_bucket", labels: { ...base, le: LATENCY_BUCKETS[i] }, value: cumulative });
      }
      out.push({ metricName: "dubbo_mesh_request_duration_seconds_bucket", labels: { ...base, le: "+Inf" }, value: r.count });
      out.push({ metricName: "dubbo_mesh_request_duration_seconds_sum", labels: base, value: r.sum });
      out.push({ metricName: "dubbo_mesh_request_duration_seconds_count", labels: base, value: r.count });
    }
    return out;
  });

  const perCluster = (name: string, help: string, kind: "counter" | "gauge", value: (c: Cluster) => number) =>
    recorded(kind, reg, name, help, ["cluster"], () => src.clusters().map((c) => ({ labels: { cluster: c.name }, value: value(c) })));
  perCluster("dubbo_mesh_cluster_endpoints", "Endpoints configured in the cluster", "gauge", (c) => c.endpoints.length);
  perCluster("dubbo_mesh_cluster_endpoints_healthy", "Endpoints not ejected by outlier detection", "gauge", (c) => c.healthyCount);
  perCluster("dubbo_mesh_cluster_requests_active", "Requests in flight", "gauge", (c) => c.active);
  perCluster("dubbo_mesh_cluster_requests_pending", "Requests waiting for a connection", "gauge", (c) => c.pending);
  perCluster("dubbo_mesh_cluster_connections_active", "Upstream connections open", "gauge", (c) => c.counters.connections);
  perCluster("dubbo_mesh_cluster_connections_total", "Upstream connections established", "counter", (c) => c.counters.connectionsTotal);
  perCluster("dubbo_mesh_cluster_connect_failures_total", "Failed upstream connection attempts", "counter", (c) => c.counters.connectFailures);
  perCluster("dubbo_mesh_cluster_requests_total", "Requests dispatched to the cluster", "counter", (c) => c.counters.requests);
  perCluster("dubbo_mesh_cluster_overflow_total", "Requests refused by a circuit breaker", "counter", (c) => c.counters.overflow);
  perCluster("dubbo_mesh_cluster_timeouts_total", "Requests that timed out", "counter", (c) => c.counters.timeouts);
  perCluster("dubbo_mesh_cluster_resets_total", "Requests lost with their upstream connection", "counter", (c) => c.counters.resets);
  perCluster("dubbo_mesh_cluster_retries_total", "Requests retried after a connection failure", "counter", (c) => c.counters.retries);
  perCluster("dubbo_mesh_cluster_ejections_total", "Outlier ejections", "counter", (c) => c.counters.ejections);
  const perEndpoint = (name: string, help: string, kind: "counter" | "gauge", value: (e: Cluster["endpoints"][number]) => number) =>
    recorded(kind, reg, name, help, ["cluster", "endpoint"], () =>
      src.clusters().flatMap((c) => c.endpoints.map((e) => ({ labels: { cluster: c.name, endpoint: e.address }, value: value(e) }))));
  perEndpoint("dubbo_mesh_endpoint_healthy", "1 unless the endpoint is ejected", "gauge", (e) => (e.ejected ? 0 : 1));
  perEndpoint("dubbo_mesh_endpoint_requests_active", "Requests in flight per endpoint", "gauge", (e) => e.active);
  perEndpoint("dubbo_mesh_endpoint_requests_total", "Requests sent per endpoint", "counter", (e) => e.requests);
  recorded("gauge", reg, "dubbo_mesh_downstream_connections", "Client connections open", [], () => [{ labels: {}, value: src.downstreamConnections() }]);
  recorded("gauge", reg, "dubbo_mesh_downstream_buffered_bytes", "Bytes of unfinished frames held across client connections", [], () => [{ labels: {}, value: src.downstreamBuffered() }]);
  recorded("counter", reg, "dubbo_mesh_downstream_shed_total", "Client connections closed because unfinished frames held more than maxBufferedBytes", [], () => [{ labels: {}, value: src.downstreamShed() }]);

  // The filter's own metrics (proxy_define_metric), one Prometheus metric each, as Envoy shows them.
  recorded("gauge", reg, "dubbo_mesh_filter_metric", "Metrics the filter defines, by name (counters and gauges; histograms as count and sum)", ["name", "kind"], () => {
    const out: Sample[] = [];
    for (const m of src.filterMetrics()) {
      if (m.kind === "histogram") {
        out.push({ labels: { name: `${m.name}.count`, kind: m.kind }, value: m.histogram?.count ?? m.value });
        out.push({ labels: { name: `${m.name}.sum`, kind: m.kind }, value: m.histogram?.sum ?? 0 });
      } else out.push({ labels: { name: m.name, kind: m.kind }, value: m.value });
    }
    return out;
  });
  return reg;
}
