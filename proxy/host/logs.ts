// Log lines of a plugin: what the module writes through proxy_log or WASI fd_write (stdout → info,
// stderr → error, as cpp-host does), and what the host itself reports (traps, failed configuration).
// Kept in a bounded ring for tests and admin pages, and optionally streamed to a callback.

import { LOG_LEVEL_NAMES, LogLevel } from "./abi.js";

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** The context the line was written from (0 = the host itself). */
  contextId: number;
  /** "module" for lines the guest wrote, "host" for the host's own reports. */
  source: "module" | "host";
}

export type LogSink = (entry: LogEntry) => void;

export function logLevelName(level: LogLevel): string {
  return LOG_LEVEL_NAMES[level] ?? String(level);
}

/** Parses "trace" | "debug" | "info" | "warn" | "error" | "critical" (or a number 0-5). */
export function parseLogLevel(value: unknown): LogLevel {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 5) return value as LogLevel;
  if (typeof value === "string") {
    const i = LOG_LEVEL_NAMES.indexOf(value.toLowerCase());
    if (i >= 0) return i as LogLevel;
  }
  throw new Error(`logLevel must be one of ${LOG_LEVEL_NAMES.join(", ")} (or 0-5), got ${JSON.stringify(value)}`);
}

export class LogBuffer {
  private readonly entries: LogEntry[] = [];
  private dropped = 0;
  /** Exceptions thrown by the sink (swallowed). */
  sinkFailures = 0;

  constructor(
    /** Lines below this level are discarded before any string is kept (Envoy's logger level). */
    public level: LogLevel,
    private readonly capacity: number,
    private readonly sink: LogSink | undefined,
  ) {}

  enabled(level: LogLevel): boolean {
    return level >= this.level;
  }

  add(level: LogLevel, message: string, contextId: number, source: "module" | "host"): void {
    if (level < this.level) return;
    const entry: LogEntry = { level, message, contextId, source };
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.dropped++;
    }
    this.entries.push(entry);
    if (this.sink !== undefined) {
      // A failing sink must not turn into a trap of the module that logged.
      try {
        this.sink(entry);
      } catch {
        this.sinkFailures++;
      }
    }
  }

  /** Retained lines at or above minLevel, oldest first. */
  list(minLevel: LogLevel = LogLevel.Trace): LogEntry[] {
    return this.entries.filter((e) => e.level >= minLevel);
  }

  /** How many lines fell out of the ring. */
  get droppedCount(): number {
    return this.dropped;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
