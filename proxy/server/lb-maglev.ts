/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M filled by each
 * endpoint's permutation (offset, skip from two hashes of its address) in turns, weighted by repeating an
 * endpoint's turn. Lookups are one array read; endpoint changes move little more than the minimum.
 */
import type { LbEndpoint, LoadBalancer, Random } from "./load-balancer.js";
import { murmur3String } from "./murmur3.js";

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

export class MaglevLb<E extends LbEndpoint> implements LoadBalancer<E> {
  private table: E[] = [];
  private endpoints: readonly E[] = [];

  constructor(
    private readonly tableSize = DEFAULT_MAGLEV_TABLE_SIZE,
    private readonly random: Random = Math.random,
  ) {}

  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints;
    const m = this.tableSize;
    const table: (E | undefined)[] = new Array(m).fill(undefined);
    // Stable input: sort by address so the table does not depend on the endpoints' order.
    const es = [...endpoints].filter((e) => e.weight > 0).sort((a, b) => (a.address < b.address ? -1 : 1));
    if (es.length === 0) {
      this.table = [];
      return;
    }
    const offsets = es.map((e) => murmur3String(e.address, 0x9747b28c) % m);
    const skips = es.map((e) => (murmur3String(e.address, 0x5bd1e995) % (m - 1)) + 1);
    const next = new Array<number>(es.length).fill(0);
    const maxWeight = Math.max(...es.map((e) => e.weight));
    // Weighted turns: an endpoint fills a slot when its accumulated weight reaches the largest weight.
    const credit = new Array<number>(es.length).fill(0);
    let filled = 0;
    for (let round = 0; filled < m; round++) {
      for (let i = 0; i < es.length && filled < m; i++) {
        credit[i] += es[i].weight;
        if (credit[i] < maxWeight) continue;
        credit[i] -= maxWeight;
        let c = (offsets[i] + next[i] * skips[i]) % m;
        while (table[c] !== undefined) {
          next[i]++;
          c = (offsets[i] + next[i] * skips[i]) % m;
        }
        table[c] = es[i];
        next[i]++;
        filled++;
      }
    }
    this.table = table as E[];
  }

  pick(hasHash: boolean, hash: number): E | undefined {
    if (this.table.length === 0) return undefined;
    if (!hasHash) return this.endpoints[Math.floor(this.random() * this.endpoints.length)];
    return this.table[hash % this.tableSize];
  }
}
