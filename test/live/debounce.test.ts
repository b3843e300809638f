import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Debouncer } from "../../control/live/debounce.js";

describe("Debouncer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs once, quietMs after the last trigger of a burst", () => {
    const calls: number[] = [];
    const d = new Debouncer(() => calls.push(Date.now()), { quietMs: 100, maxMs: 1000 });
    const start = Date.now();
    d.trigger();
    vi.advanceTimersByTime(60);
    d.trigger();
    vi.advanceTimersByTime(99);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([start + 160]);
    expect(d.pending).toBe(false);
  });

  it("runs no later than maxMs after the first trigger when the source never goes quiet", () => {
    const calls: number[] = [];
    const d = new Debouncer(() => calls.push(Date.now()), { quietMs: 100, maxMs: 1000 });
    const start = Date.now();
    for (let t = 0; t < 1500; t += 50) {
      d.trigger();
      vi.advanceTimersByTime(50);
    }
    expect(calls[0]).toBe(start + 1000);
    expect(calls.length).toBe(1); // the second burst started at 1000 and is still going
    vi.advanceTimersByTime(100);
    expect(calls.length).toBe(2);
  });

  it("flush runs a pending call now; cancel drops it", () => {
    let n = 0;
    const d = new Debouncer(() => n++, { quietMs: 100, maxMs: 1000 });
    d.flush();
    expect(n).toBe(0);
    d.trigger();
    d.flush();
    expect(n).toBe(1);
    d.trigger();
    d.cancel();
    vi.advanceTimersByTime(2000);
    expect(n).toBe(1);
  });
});
