/** Unit tests of the proxy's small parts: route reports (contract §2), interning, deadlines. */
import { describe, expect, it, vi } from "vitest";
import { DeadlineQueue, type DeadlineItem, type DeadlineList } from "../../proxy/server/deadline-queue.js";
import { Interner } from "../../proxy/server/interner.js";
import { murmur3, murmur3String } from "../../proxy/server/murmur3.js";
import { RouteReports } from "../../proxy/server/route-reports.js";

/** Encode route_request arguments as docs/contracts.md §2 lays them out. */
function routeArgs(id: bigint, timeout: number, flags: number, strings: string[]): Buffer {
  const parts = [Buffer.alloc(16)];
  parts[0].writeBigUInt64LE(id, 0);
  parts[0].writeUInt32LE(timeout, 8);
  parts[0].writeUInt32LE(flags, 12);
  for (const s of strings) {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length, 0);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

describe("route reports", () => {
  it("decodes every field of the contract", () => {
    const r = new RouteReports();
    expect(r.add(routeArgs(0x1_0000_0002n, 250, 3, ["outbound|20880|v2|demo", "gray", "user-7", "com.example.Demo", "sayHello"]))).toBe(true);
    const rep = r.take(1, 2)!;
    expect(rep).toMatchObject({ idHigh: 1, idLow: 2, timeoutMs: 250, flags: 3, cluster: "outbound|20880|v2|demo", route: "gray", hasHash: true, service: "com.example.Demo", method: "sayHello" });
    expect(rep.hash).toBe(murmur3String("user-7"));
  });

  it("matches reports to frames by id, in order, with duplicates of an id taken in turn", () => {
    const r = new RouteReports();
    r.add(routeArgs(5n, 0, 1, ["a", "", "", "s", "m"]));
    r.add(routeArgs(5n, 0, 1, ["b", "", "", "s", "m"]));
    r.add(routeArgs(9n, 0, 1, ["c", "", "", "s", "m"]));
    expect(r.take(0, 5)!.cluster).toBe("a");
    expect(r.take(0, 5)!.cluster).toBe("b");
    expect(r.take(0, 9)!.cluster).toBe("c");
    expect(r.take(0, 77)).toBeUndefined();
    r.reset();
    expect(r.take(0, 9)).toBeUndefined();
  });

  it("rejects truncated or overlong arguments without recording anything", () => {
    const r = new RouteReports();
    const good = routeArgs(1n, 0, 0, ["c", "r", "h", "s", "m"]);
    for (let cut = 0; cut < good.length; cut++) expect(r.add(good.subarray(0, cut))).toBe(false);
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0xffffffff, 16); // cluster length far past the end
    expect(r.add(bad)).toBe(false);
    expect(r.size).toBe(0);
    expect(r.malformed).toBe(good.length + 1);
  });

  it("reports no hash key as such", () => {
    const r = new RouteReports();
    r.add(routeArgs(1n, 0, 0, ["c", "r", "", "s", "m"]));
    expect(r.take(0, 1)!.hasHash).toBe(false);
  });
});

describe("interner", () => {
  it("returns the same string object for the same bytes and decodes UTF-8", () => {
    const i = new Interner();
    const b = Buffer.from("xx名前yy");
    const a1 = i.get(b, 2, b.length - 2);
    const a2 = i.get(Buffer.from("名前"), 0, 6);
    expect(a1).toBe("名前");
    expect(a2).toBe(a1);
    expect(i.get(b, 0, 0)).toBe("");
  });
  it("keeps working past its limit", () => {
    const i = new Interner(2);
    for (const s of ["a", "b", "c", "d"]) expect(i.get(Buffer.from(s), 0, 1)).toBe(s);
  });
});

describe("murmur3", () => {
  it("matches the reference vectors", () => {
    expect(murmur3(Buffer.alloc(0), 0, 0)).toBe(0);
    expect(murmur3String("hello")).toBe(0x248bfa47);
    expect(murmur3String("The quick brown fox jumps over the lazy dog")).toBe(0x2e4ff723);
    expect(murmur3String("", 1)).toBe(0x514e28b7);
  });
});

class Item implements DeadlineItem {
  deadline = 0;
  dlPrev: DeadlineItem | null = null;
  dlNext: DeadlineItem | null = null;
  dlList: DeadlineList | null = null;
  constructor(readonly name: string) {}
}

describe("deadline queue", () => {
  it("expires items in deadline order across timeouts, and never a removed one", () => {
    // fake timers and a clock that moves with them: the expiry times are exact, whatever the machine's load
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const expired: string[] = [];
      const q = new DeadlineQueue<Item>((i) => expired.push(i.name), () => Date.now());
      const a = new Item("a60");
      const b = new Item("b20");
      const c = new Item("c60");
      const d = new Item("d40-removed");
      q.add(a, 60);
      q.add(b, 20);
      q.add(c, 60);
      q.add(d, 40);
      q.remove(d);
      vi.advanceTimersByTime(18);
      expect(expired).toEqual([]);
      vi.advanceTimersByTime(2);
      expect(expired).toEqual(["b20"]);
      vi.advanceTimersByTime(38);
      expect(expired).toEqual(["b20"]);
      vi.advanceTimersByTime(2);
      expect(expired).toEqual(["b20", "a60", "c60"]);
      expect(vi.getTimerCount()).toBe(0); // nothing left to expire: no timer armed
      q.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
