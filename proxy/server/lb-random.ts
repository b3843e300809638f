/** Weighted random: an endpoint is picked with probability weight / sum(weights). */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";

export class RandomLb<E extends LbEndpoint> implements LoadBalancer<E> {
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
    return pickWeighted(this.endpoints, this.cumulative, this.random());
  }
}

/** The endpoint whose cumulative-weight slot holds `r * total` (binary search). */
export function pickWeighted<E>(endpoints: readonly E[], cumulative: Float64Array, r: number): E | undefined {
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
