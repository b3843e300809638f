/**
 * Weighted round robin, the smooth variant: every pick adds each endpoint's weight to its running score and
 * takes the highest, which then pays back the total. Over any window of sum(weights) picks each endpoint is
 * chosen exactly weight times, interleaved rather than in bursts.
 */
import type { LbEndpoint, LoadBalancer } from "./load-balancer.js";

export class RoundRobinLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private endpoints: readonly E[] = [];
  private scores = new Float64Array(0);
  private total = 0;

  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints;
    this.scores = new Float64Array(endpoints.length);
    this.total = 0;
    for (const e of endpoints) this.total += e.weight;
  }

  pick(): E | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return this.endpoints[0];
    let best = 0;
    const scores = this.scores;
    for (let i = 0; i < n; i++) {
      scores[i] += this.endpoints[i].weight;
      if (scores[i] > scores[best]) best = i;
    }
    scores[best] -= this.total;
    return this.endpoints[best];
  }
}
