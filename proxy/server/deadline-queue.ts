/**
 * Request deadlines without a timer per request: requests with the same timeout expire in the order they
 * were sent, so each distinct timeout keeps a FIFO (an intrusive doubly linked list — no allocation per
 * request) and one timer is armed for the earliest head.
 */
export interface DeadlineItem {
  deadline: number;
  dlPrev: DeadlineItem | null;
  dlNext: DeadlineItem | null;
  dlList: DeadlineList | null;
}

export class DeadlineList {
  head: DeadlineItem | null = null;
  tail: DeadlineItem | null = null;
  constructor(readonly timeoutMs: number) {}
}

export class DeadlineQueue<T extends DeadlineItem> {
  private readonly lists = new Map<number, DeadlineList>();
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Infinity;
  private readonly fire = (): void => this.expire();

  /** `onExpired` is called once for each item whose deadline passed; the item is already removed. */
  constructor(
    private readonly onExpired: (item: T) => void,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  add(item: T, timeoutMs: number): void {
    let list = this.lists.get(timeoutMs);
    if (list === undefined) {
      list = new DeadlineList(timeoutMs);
      this.lists.set(timeoutMs, list);
    }
    item.deadline = this.now() + timeoutMs;
    item.dlList = list;
    item.dlNext = null;
    item.dlPrev = list.tail;
    if (list.tail !== null) list.tail.dlNext = item;
    else list.head = item;
    list.tail = item;
    if (item.deadline < this.armedAt) this.arm(item.deadline);
  }

  remove(item: T): void {
    const list = item.dlList;
    if (list === null) return;
    if (item.dlPrev !== null) item.dlPrev.dlNext = item.dlNext;
    else list.head = item.dlNext;
    if (item.dlNext !== null) item.dlNext.dlPrev = item.dlPrev;
    else list.tail = item.dlPrev;
    item.dlPrev = item.dlNext = null;
    item.dlList = null;
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(at - this.now())));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    this.armedAt = Infinity;
    const now = this.now();
    let earliest = Infinity;
    for (const [timeoutMs, list] of this.lists) {
      while (list.head !== null && list.head.deadline <= now + 1) {
        const item = list.head as T;
        this.remove(item);
        this.onExpired(item);
      }
      if (list.head === null) this.lists.delete(timeoutMs);
      else if (list.head.deadline < earliest) earliest = list.head.deadline;
    }
    if (earliest !== Infinity && earliest < this.armedAt) this.arm(earliest);
  }
}
