/**
 * Exponential backoff with full jitter, as Envoy's `JitteredExponentialBackOffStrategy`
 * (`source/common/common/backoff_strategy.cc`): the n-th delay in a row is uniform in [0, min(max, base × 2^n)).
 * Envoy's xDS stream resets it when a response arrives (`source/extensions/config_subscription/grpc/grpc_stream.h`,
 * `onReceiveMessage`); the ADS client does the same.
 */
export interface BackoffOptions {
  /** first ceiling, ms (default 250) */
  baseMs?: number;
  /** largest ceiling, ms (default 30 000) */
  maxMs?: number;
  /** a number in [0, 1) (default Math.random); tests pass a fixed one */
  random?: () => number;
}

export class Backoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.maxMs >= this.baseMs)) {
      throw new Error(`backoff: expected 0 < baseMs <= maxMs, got baseMs ${this.baseMs}, maxMs ${this.maxMs}`);
    }
  }

  /** The next delay in ms; each call doubles the ceiling up to `maxMs`. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** Back to the first ceiling (after a stream that received a response). */
  reset(): void {
    this.attempt = 0;
  }
}
