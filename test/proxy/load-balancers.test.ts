import { describe, expect, it } from "vitest";
import { LeastRequestLb } from "../../proxy/server/lb-least-request.js";
import { MaglevLb } from "../../proxy/server/lb-maglev.js";
import { RandomLb } from "../../proxy/server/lb-random.js";
import { RingHashLb } from "../../proxy/server/lb-ring-hash.js";
import { RoundRobinLb } from "../../proxy/server/lb-round-robin.js";
import type { LoadBalancer } from "../../proxy/server/load-balancer.js";
import { murmur3String } from "../../proxy/server/murmur3.js";
import { prng } from "../support/prng.js";

interface Ep {
  address: string;
  weight: number;
  active: number;
}
const ep = (address: string, weight = 1, active = 0): Ep => ({ address, weight, active });

function counts(lb: LoadBalancer<Ep>, n: number, key?: (i: number) => number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = key ? lb.pick(true, key(i)) : lb.pick(false, 0);
    if (!e) throw new Error("no pick");
    m.set(e.address, (m.get(e.address) ?? 0) + 1);
  }
  return m;
}

describe("weighted round robin", () => {
  it("gives each endpoint exactly its weight in every window of sum(weights) picks, interleaved", () => {
    const lb = new RoundRobinLb<Ep>();
    lb.update([ep("a", 5), ep("b", 1), ep("c", 1)]);
    const seq = Array.from({ length: 14 }, () => lb.pick()!.address);
    for (const window of [seq.slice(0, 7), seq.slice(7)]) {
      expect(window.filter((x) => x === "a")).toHaveLength(5);
      expect(window.filter((x) => x === "b")).toHaveLength(1);
      expect(window.filter((x) => x === "c")).toHaveLength(1);
    }
    // smooth: plain WRR would send the heavy endpoint's 5 picks in a row (aaaaabc); smooth WRR interleaves
    expect(seq.join("")).not.toContain("aaaaa");
  });

  it("returns nothing without endpoints and the only one with one", () => {
    const lb = new RoundRobinLb<Ep>();
    lb.update([]);
    expect(lb.pick()).toBeUndefined();
    lb.update([ep("x", 3)]);
    expect(lb.pick()!.address).toBe("x");
  });
});

describe("weighted random", () => {
  it("follows the weights (90/10 within 2 points over 20000 picks)", () => {
    const lb = new RandomLb<Ep>(prng(7));
    lb.update([ep("a", 90), ep("b", 10)]);
    const c = counts(lb, 20000);
    expect(Math.abs(c.get("a")! / 20000 - 0.9)).toBeLessThan(0.02);
  });
});

describe("least request (two choices)", () => {
  it("steers away from the busy endpoint", () => {
    const busy = ep("busy", 1, 50);
    const idle = ep("idle", 1, 0);
    const lb = new LeastRequestLb<Ep>(prng(3));
    lb.update([busy, idle]);
    const c = counts(lb, 4000);
    // Only a draw of "busy" twice picks it: about a quarter.
    expect(c.get("idle")!).toBeGreaterThan(2700);
    expect(c.get("busy")!).toBeGreaterThan(700);
  });
  it("spreads evenly when loads are equal", () => {
    const lb = new LeastRequestLb<Ep>(prng(5));
    lb.update([ep("a"), ep("b"), ep("c")]);
    const c = counts(lb, 6000);
    for (const v of c.values()) expect(Math.abs(v - 2000)).toBeLessThan(200);
  });
});

// Ring hash moves exactly the keys the changed endpoint gains or loses; Maglev trades a little extra
// movement for O(1) lookups (its paper: near-minimal disruption), so it gets a tolerance.
for (const [name, make, tolerance] of [
  ["ring hash", () => new RingHashLb<Ep>(160, prng(1)), 0],
  ["maglev", () => new MaglevLb<Ep>(65537, prng(1)), 0.03],
] as const) {
  describe(`consistent hashing: ${name}`, () => {
    const keys = Array.from({ length: 5000 }, (_, i) => murmur3String(`user-${i}`));
    const five = ["10.0.0.1:20880", "10.0.0.2:20880", "10.0.0.3:20880", "10.0.0.4:20880", "10.0.0.5:20880"].map((a) => ep(a));

    it("sends the same key to the same endpoint, whatever the order of endpoints", () => {
      const a = make();
      a.update(five);
      const b = make();
      b.update([...five].reverse());
      for (const k of keys) expect(b.pick(true, k)!.address).toBe(a.pick(true, k)!.address);
    });

    it("spreads keys over endpoints roughly evenly", () => {
      const lb = make();
      lb.update(five);
      const c = counts(lb, keys.length, (i) => keys[i]);
      expect(c.size).toBe(5);
      for (const v of c.values()) expect(v / keys.length).toBeGreaterThan(0.12);
    });

    it("moves only about 1/n of the keys when one endpoint is added", () => {
      const before = make();
      before.update(five);
      const after = make();
      const added = ep("10.0.0.6:20880");
      after.update([...five, added]);
      let moved = 0;
      let elsewhere = 0;
      for (const k of keys) {
        const x = before.pick(true, k)!.address;
        const y = after.pick(true, k)!.address;
        if (x !== y) {
          moved++;
          if (y !== added.address) elsewhere++; // a key moved between endpoints that stayed
        }
      }
      expect(moved / keys.length).toBeGreaterThan(0.08);
      expect(moved / keys.length).toBeLessThan(1 / 6 + 0.06);
      expect(elsewhere / keys.length).toBeLessThanOrEqual(tolerance);
    });

    it("moves only the removed endpoint's keys when one is removed", () => {
      const before = make();
      before.update(five);
      const after = make();
      after.update(five.slice(1));
      let elsewhere = 0;
      for (const k of keys) {
        const x = before.pick(true, k)!.address;
        if (x !== five[0].address && after.pick(true, k)!.address !== x) elsewhere++;
      }
      expect(elsewhere / keys.length).toBeLessThanOrEqual(tolerance);
    });

    it("honours weights", () => {
      const lb = make();
      lb.update([ep("heavy:1", 3), ep("light:1", 1)]);
      const c = counts(lb, keys.length, (i) => keys[i]);
      const share = c.get("heavy:1")! / keys.length;
      expect(share).toBeGreaterThan(0.65);
      expect(share).toBeLessThan(0.85);
    });

    it("picks at random without a key", () => {
      const lb = make();
      lb.update(five);
      const c = counts(lb, 2000);
      expect(c.size).toBe(5);
    });
  });
}
