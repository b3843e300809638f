/**
 * The outcome of the last load of each source the proxy follows — its configuration file, the rules file and
 * the registry — good or bad, with its time and the error text. Shown in /config_dump (`reloads`, and
 * `lastReload`, the most recent of them).
 */
export type ReloadSource = "config" | "rules" | "registry";

export interface ReloadResult {
  source: ReloadSource;
  ok: boolean;
  /** The error that kept the last good state in force (only when ok is false). */
  error?: string;
  /** ISO 8601 time of the outcome. */
  at: string;
}

export class ReloadStatus {
  private readonly last = new Map<ReloadSource, ReloadResult>();
  private latest: ReloadResult | null = null;

  record(source: ReloadSource, error: string | null): ReloadResult {
    const result: ReloadResult = error === null ? { source, ok: true, at: new Date().toISOString() } : { source, ok: false, error, at: new Date().toISOString() };
    this.last.set(source, result);
    this.latest = result;
    return result;
  }

  get(source: ReloadSource): ReloadResult | undefined {
    return this.last.get(source);
  }

  /** The most recent outcome of any source. */
  get mostRecent(): ReloadResult | null {
    return this.latest;
  }

  /** Per source, in a fixed order: {config: {...}, rules: {...}, registry: {...}} (sources never loaded are absent). */
  toJSON(): Partial<Record<ReloadSource, ReloadResult>> {
    const out: Partial<Record<ReloadSource, ReloadResult>> = {};
    for (const source of ["config", "rules", "registry"] as const) {
      const r = this.last.get(source);
      if (r !== undefined) out[source] = r;
    }
    return out;
  }
}
