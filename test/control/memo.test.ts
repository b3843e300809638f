import { describe, expect, it } from "vitest";
import { boundedMemo } from "../../control/util/memo.js";

describe("boundedMemo", () => {
  it("makes each result once, and starts over when it holds `max` entries", () => {
    const made: string[] = [];
    const upper = boundedMemo(3, (s: string) => {
      made.push(s);
      return s.toUpperCase();
    });
    expect(["a", "b", "a", "c", "b"].map(upper)).toEqual(["A", "B", "A", "C", "B"]);
    expect(made).toEqual(["a", "b", "c"]);
    expect(upper("d")).toBe("D"); // the fourth key: emptied, then remembered alone
    expect(upper("a")).toBe("A");
    expect(made).toEqual(["a", "b", "c", "d", "a"]);
  });
});
