/**
 * The proxy's metrics in Prometheus text: prom-client's registry renders them (and the process metrics),
 * while the values come from the proxy's own garbage-free records, read only at scrape time through custom
 * metric objects (`get()` returns the samples prom-client formats).
 */
import { Registry, collectDefaultMetrics } from "prom-client";
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
  metricName?: string;
}
type MetricType = "counter" | "gauge" | "histogram";

function custom(name: string, help: string, type: MetricType, collect: () => Sample[]) {
  return {
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, aggregator: "sum", values: collect() }),
    reset: () => undefined,
  };
}

/** Prometheus metric names allow [a-zA-Z0-9_:]. */
export function metricName(raw: string): string {
  const s = raw.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

export function createRegistry(src: MetricsSources): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg, prefix: "dubbo_mesh_proxy_process_" });
  const add = (m: ReturnType<typeof custom>): void => reg.registerMetric(m as never);

  add(custom("dubbo_mesh_requests_total", "Requests by service, method, route, cluster and result", "counter", () => {
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
  }));

  add(custom("dubbo_mesh_request_duration_seconds", "Request latency through the proxy", "histogram", () => {
    const out: Sample[] = [];
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
  }));

  const perCluster = (name: string, help: string, type: MetricType, value: (c: Cluster) => number) =>
    add(custom(name, help, type, () => src.clusters().map((c) => ({ labels: { cluster: c.name }, value: value(c) }))));
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
  add(custom("dubbo_mesh_endpoint_healthy", "1 unless the endpoint is ejected", "gauge", () =>
    src.clusters().flatMap((c) => c.endpoints.map((e) => ({ labels: { cluster: c.name, endpoint: e.address }, value: e.ejected ? 0 : 1 })))));
  add(custom("dubbo_mesh_endpoint_requests_active", "Requests in flight per endpoint", "gauge", () =>
    src.clusters().flatMap((c) => c.endpoints.map((e) => ({ labels: { cluster: c.name, endpoint: e.address }, value: e.active })))));
  add(custom("dubbo_mesh_endpoint_requests_total", "Requests sent per endpoint", "counter", () =>
    src.clusters().flatMap((c) => c.endpoints.map((e) => ({ labels: { cluster: c.name, endpoint: e.address }, value: e.requests })))));
  add(custom("dubbo_mesh_downstream_connections", "Client connections open", "gauge", () => [{ labels: {}, value: src.downstreamConnections() }]));
  add(custom("dubbo_mesh_downstream_buffered_bytes", "Bytes of unfinished frames held across client connections", "gauge", () => [{ labels: {}, value: src.downstreamBuffered() }]));
  add(custom("dubbo_mesh_downstream_shed_total", "Client connections closed because unfinished frames held more than maxBufferedBytes", "counter", () => [{ labels: {}, value: src.downstreamShed() }]));

  // The filter's own metrics (proxy_define_metric), one Prometheus metric each, as Envoy shows them.
  add(custom("dubbo_mesh_filter_metric", "Metrics the filter defines, by name (counters and gauges; histograms as count and sum)", "gauge", () => {
    const out: Sample[] = [];
    for (const m of src.filterMetrics()) {
      if (m.kind === "histogram") {
        out.push({ labels: { name: `${m.name}.count`, kind: m.kind }, value: m.histogram?.count ?? m.value });
        out.push({ labels: { name: `${m.name}.sum`, kind: m.kind }, value: m.histogram?.sum ?? 0 });
      } else out.push({ labels: { name: m.name, kind: m.kind }, value: m.value });
    }
    return out;
  }));
  return reg;
}
