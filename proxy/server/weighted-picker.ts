/**
 * Weighted draw over a fixed endpoint list: update() builds the cumulative weights once, pick(r) maps
 * r in [0, 1) to the endpoint whose cumulative-weight slot holds r * total (binary search, no garbage).
 * Shared by the random and least-request load balancers.
 */
import type { LbEndpoint } from "./load-balancer.js";

export class WeightedPicker<E extends LbEndpoint> {
  private list: readonly E[] = [];
  private cumulative = new Float64Array(0);

  /** The endpoints of the last update(). */
  get endpoints(): readonly E[] {
    return this.list;
  }

  update(endpoints: readonly E[]): void {
    this.list = endpoints;
    this.cumulative = new Float64Array(endpoints.length);
    let sum = 0;
    endpoints.forEach((e, i) => {
      sum += e.weight;
      this.cumulative[i] = sum;
    });
  }

  /** The endpoint r (in [0, 1)) lands on with probability weight / sum(weights); undefined when empty. */
  pick(r: number): E | undefined {
    const endpoints = this.list;
    const cumulative = this.cumulative;
    const n = endpoints.length;
    if (n === 0) return undefined;
    const target = r * cumulative[n - 1];
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return endpoints[lo];
  }
}
