/**
 * Least request by the power of two choices: draw two endpoints (weighted) and keep the one with fewer
 * requests in flight, scaled by weight. Cheap, and avoids the herd that always-pick-the-minimum causes.
 */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";
import { pickWeighted } from "./lb-random.js";

export class LeastRequestLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private endpoints: readonly E[] = [];
  private cumulative = new Float64Array(0);

  constructor(private readonly random: Random = Math.random) {}

  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints;
    this.cumulative = new Float64Array(endpoints.length);
    let sum = 0;
    endpoints.forEach((e, i) => {
      sum += e.weight;
      this.cumulative[i] = sum;
    });
  }

  pick(): E | undefined {
    const a = pickWeighted(this.endpoints, this.cumulative, this.random());
    if (a === undefined || this.endpoints.length === 1) return a;
    const b = pickWeighted(this.endpoints, this.cumulative, this.random()) as E;
    // Fewer in flight per unit of weight wins; ties keep the first draw.
    return (b.active + 1) / b.weight < (a.active + 1) / a.weight ? b : a;
  }
}
