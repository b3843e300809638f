/**
 * Consistent hashing on a ring (Karger et al.): each endpoint owns points on a 32-bit ring in proportion to
 * its weight; a key goes to the first point clockwise of its hash. An endpoint's points depend only on its
 * address and its weight (divided by the weights' common divisor), so adding or removing one endpoint of n
 * moves only the keys it gains or loses, about 1/n of them.
 */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";
import { murmur3String } from "./murmur3.js";

const MAX_POINTS_PER_ENDPOINT = 1 << 16;

function gcd(a: number, b: number): number {
  while (b > 0) [a, b] = [b, a % b];
  return a;
}

export class RingHashLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private hashes = new Uint32Array(0);
  private owners: E[] = [];
  private endpoints: readonly E[] = [];

  constructor(
    /** Points per unit of (reduced) weight. */
    private readonly pointsPerUnit = 160,
    private readonly random: Random = Math.random,
  ) {}

  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints;
    const unit = endpoints.reduce((g, e) => gcd(g, e.weight), 0) || 1;
    const points: { hash: number; owner: E }[] = [];
    for (const e of endpoints) {
      if (e.weight <= 0) continue;
      const n = Math.min(MAX_POINTS_PER_ENDPOINT, Math.round((e.weight / unit) * this.pointsPerUnit));
      for (let i = 0; i < n; i++) points.push({ hash: murmur3String(`${e.address}_${i}`), owner: e });
    }
    // Ties (rare) are broken by address so the ring does not depend on the endpoints' order.
    points.sort((a, b) => a.hash - b.hash || (a.owner.address < b.owner.address ? -1 : 1));
    this.hashes = Uint32Array.from(points, (p) => p.hash);
    this.owners = points.map((p) => p.owner);
  }

  pick(hasHash: boolean, hash: number): E | undefined {
    const n = this.hashes.length;
    if (n === 0) return undefined;
    if (!hasHash) return this.endpoints[Math.floor(this.random() * this.endpoints.length)];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }
}
