/**
 * Load balancers pick one endpoint of a cluster for each request. They are given the cluster's usable
 * endpoints (healthy ones, or all of them in panic) whenever that set changes, and pick in O(1) or
 * O(log n) with no allocation. Consistent-hash balancers use the hash of the key the filter reported;
 * without a key they fall back to a random pick.
 */
export interface LbEndpoint {
  readonly address: string;
  readonly weight: number;
  /** Requests in flight on this endpoint (least-request). */
  readonly active: number;
}

export interface LoadBalancer<E extends LbEndpoint> {
  update(endpoints: readonly E[]): void;
  pick(hasHash: boolean, hash: number): E | undefined;
}

export type LbPolicy = "ROUND_ROBIN" | "RANDOM" | "LEAST_REQUEST" | "RING_HASH" | "MAGLEV";
export const LB_POLICIES: readonly LbPolicy[] = ["ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "RING_HASH", "MAGLEV"];

export type Random = () => number;
