/** Weighted random: an endpoint is picked with probability weight / sum(weights). */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";
import { WeightedPicker } from "./weighted-picker.js";

export class RandomLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private readonly weighted = new WeightedPicker<E>();

  constructor(private readonly random: Random = Math.random) {}

  update(endpoints: readonly E[]): void {
    this.weighted.update(endpoints);
  }

  pick(): E | undefined {
    return this.weighted.pick(this.random());
  }
}
