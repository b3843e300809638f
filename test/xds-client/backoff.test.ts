import { describe, expect, it } from "vitest";
import { Backoff } from "../../proxy/xds/backoff.js";

describe("Backoff", () => {
  it("draws uniformly below a ceiling that doubles from base to max, and starts over after reset", () => {
    const draws = [0.999, 0.5, 0, 0.25, 0.999, 0.999, 0.5];
    let i = 0;
    const b = new Backoff({ baseMs: 250, maxMs: 1000, random: () => draws[i++]! });
    // ceilings 250, 500, 1000, 1000, 1000
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([249, 250, 0, 250, 999]);
    b.reset();
    expect([b.next(), b.next()]).toEqual([249, 250]);
  });

  it("defaults to 250 ms and 30 s", () => {
    const b = new Backoff({ random: () => 0.999999 });
    const delays = Array.from({ length: 12 }, () => b.next());
    expect(delays.slice(0, 3)).toEqual([249, 499, 999]);
    expect(delays.at(-1)).toBe(29_999);
  });

  it("rejects settings that make no sense, naming them", () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow("backoff: expected 0 < baseMs <= maxMs, got baseMs 0, maxMs 30000");
    expect(() => new Backoff({ baseMs: 500, maxMs: 100 })).toThrow(/got baseMs 500, maxMs 100/);
  });
});
