/**
 * Coalesces bursts of changes into one call: `fn` runs `quietMs` after the last `trigger()`, and no later than
 * `maxMs` after the first trigger of a burst (so a source that never goes quiet still gets through). Istio's
 * push debounce works the same way (100 ms quiet; its maximum is 10 s, ours 1 s). `fn` runs on the event loop,
 * never inside `trigger()`; `flush()` runs a pending call now; `cancel()` drops it.
 */
export interface DebounceOptions {
  quietMs: number;
  maxMs: number;
}

export class Debouncer {
  private timer: NodeJS.Timeout | undefined;
  private firstAt = 0;

  constructor(
    private readonly fn: () => void,
    private readonly options: DebounceOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get pending(): boolean {
    return this.timer !== undefined;
  }

  trigger(): void {
    const t = this.now();
    if (this.timer === undefined) this.firstAt = t;
    else clearTimeout(this.timer);
    const due = Math.min(t + this.options.quietMs, this.firstAt + this.options.maxMs);
    this.timer = setTimeout(() => this.run(), Math.max(0, due - t));
  }

  flush(): void {
    if (this.timer !== undefined) this.run();
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    this.cancel();
    this.fn();
  }
}
