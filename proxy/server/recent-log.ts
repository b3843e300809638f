/**
 * The proxy's recent log lines for the admin API's /logs: its own lines (reloads and their errors, listeners,
 * drains, connection problems) from info up (debug too at log level debug), and the filter's lines at the
 * filter's level, each
 * with its time, in the order written. A ring: the oldest lines fall out past `capacity`.
 */
export interface RecentLogLine {
  /** ISO 8601 time. */
  at: string;
  level: string;
  /** "proxy" for the proxy's own lines; "filter" for the filter module's, "filter-host" for the Wasm host's. */
  source: "proxy" | "filter" | "filter-host";
  message: string;
}

export class RecentLog {
  private readonly lines: RecentLogLine[] = [];

  constructor(private readonly capacity = 200) {}

  add(source: RecentLogLine["source"], level: string, message: string): void {
    if (this.lines.length >= this.capacity) this.lines.shift();
    this.lines.push({ at: new Date().toISOString(), level, source, message });
  }

  /** Oldest first. The returned array is a copy. */
  list(): RecentLogLine[] {
    return this.lines.slice();
  }
}
