/**
 * Least request by the power of two choices: draw two endpoints (weighted) and keep the one with fewer
 * requests in flight, scaled by weight. Cheap, and avoids the herd that always-pick-the-minimum causes.
 */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";
import { WeightedPicker } from "./weighted-picker.js";

export class LeastRequestLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private readonly weighted = new WeightedPicker<E>();

  constructor(private readonly random: Random = Math.random) {}

  update(endpoints: readonly E[]): void {
    this.weighted.update(endpoints);
  }

  pick(): E | undefined {
    const a = this.weighted.pick(this.random());
    if (a === undefined || this.weighted.endpoints.length === 1) return a;
    const b = this.weighted.pick(this.random()) as E;
    // Fewer in flight per unit of weight wins; ties keep the first draw.
    return (b.active + 1) / b.weight < (a.active + 1) / a.weight ? b : a;
  }
}
