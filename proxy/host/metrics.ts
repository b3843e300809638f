// Metrics defined by a module, kept the way Envoy keeps them: by name in the plugin's stats scope (so a name
// defined twice, or again by a recreated VM, is the same stat), addressed from the guest by ids that cpp-host
// hands out per VM with the metric type in the low two bits (counter 4, 8, …; gauge 5, 9, …; histogram 6, 10, …).

import { METRIC_ID_INCREMENT, METRIC_TYPE_MASK, MetricType, WasmResult } from "./abi.js";

export type MetricKind = "counter" | "gauge" | "histogram";

export interface HistogramValue {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface MetricSnapshot {
  name: string;
  kind: MetricKind;
  /** Counter or gauge value; for a histogram, the number of recorded values. */
  value: number;
  histogram?: HistogramValue;
}

/** One stat. Values are JS numbers: exact up to 2^53, which a counter does not reach in practice. */
export class Metric {
  value = 0;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  constructor(
    readonly name: string,
    readonly kind: MetricKind,
  ) {}

  snapshot(): MetricSnapshot {
    if (this.kind !== "histogram") return { name: this.name, kind: this.kind, value: this.value };
    const histogram = { count: this.count, sum: this.sum, min: this.count ? this.min : 0, max: this.count ? this.max : 0 };
    return { name: this.name, kind: this.kind, value: this.count, histogram };
  }
}

const KIND_OF_TYPE: readonly MetricKind[] = ["counter", "gauge", "histogram"];

/** The plugin's stats scope: metrics by name, shared by every VM the plugin runs. */
export class MetricRegistry {
  private readonly byName = new Map<string, Metric>();

  /** The stat `name` of `kind`, created at zero on first use. A name keeps the kind it was first defined with. */
  get(name: string, kind: MetricKind): Metric {
    let m = this.byName.get(name);
    if (m === undefined) {
      m = new Metric(name, kind);
      this.byName.set(name, m);
    }
    return m;
  }

  find(name: string): Metric | undefined {
    return this.byName.get(name);
  }

  all(): Metric[] {
    return [...this.byName.values()];
  }
}

/** The ids one VM has handed out, mapped to stats of the registry. */
export class MetricIds {
  private readonly byId = new Map<number, Metric>();
  private next: [number, number, number] = [MetricType.Counter, MetricType.Gauge, MetricType.Histogram];

  constructor(private readonly registry: MetricRegistry) {}

  define(type: number, name: string): { result: WasmResult; id: number } {
    if (type < 0 || type > 2) return { result: WasmResult.BadArgument, id: 0 };
    const kind = KIND_OF_TYPE[type]!;
    const existing = this.registry.find(name);
    // Envoy's stats scope would reject a name reused with another type; do the same instead of aliasing.
    if (existing !== undefined && existing.kind !== kind) return { result: WasmResult.BadArgument, id: 0 };
    const id = (this.next[type] += METRIC_ID_INCREMENT) >>> 0;
    this.byId.set(id, this.registry.get(name, kind));
    return { result: WasmResult.Ok, id };
  }

  /** proxy_increment_metric: counters take only positive offsets; gauges go up or down; histograms refuse. */
  increment(id: number, offset: bigint): WasmResult {
    const type = id & METRIC_TYPE_MASK;
    if (type === MetricType.Counter || type === MetricType.Gauge) {
      const m = this.byId.get(id);
      if (m === undefined) return WasmResult.NotFound;
      if (type === MetricType.Counter && offset <= 0n) return WasmResult.BadArgument;
      m.value += Number(offset);
      if (type === MetricType.Gauge && m.value < 0) m.value = 0;
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  /** proxy_record_metric: adds to a counter, sets a gauge, records into a histogram. */
  record(id: number, value: bigint): WasmResult {
    const m = this.byId.get(id);
    if (m === undefined || (id & METRIC_TYPE_MASK) === 3) return WasmResult.NotFound;
    const v = Number(BigInt.asUintN(64, value));
    if (m.kind === "counter") m.value += v;
    else if (m.kind === "gauge") m.value = v;
    else {
      m.count++;
      m.sum += v;
      if (v < m.min) m.min = v;
      if (v > m.max) m.max = v;
    }
    return WasmResult.Ok;
  }

  /** proxy_get_metric: counters and gauges; a histogram id is BadArgument, as in Envoy. */
  get(id: number): { result: WasmResult; value: number } {
    const type = id & METRIC_TYPE_MASK;
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return { result: WasmResult.BadArgument, value: 0 };
    const m = this.byId.get(id);
    if (m === undefined) return { result: WasmResult.NotFound, value: 0 };
    return { result: WasmResult.Ok, value: m.value };
  }
}
