import type { LogEntry } from "./logs.js";

/**
 * A VM could not be created or configured: a bad module, a missing export, an import Envoy does not provide,
 * a trap during start, or proxy_on_vm_start / proxy_on_configure returning failure. `logs` holds what the
 * module logged while it was being set up (its explanation of a bad configuration, typically).
 */
export class WasmVmError extends Error {
  constructor(
    message: string,
    readonly logs: readonly LogEntry[] = [],
  ) {
    const detail = logs
      .filter((e) => e.level >= 3)
      .map((e) => e.message)
      .join("; ");
    super(detail ? `${message}: ${detail}` : message);
    this.name = "WasmVmError";
  }
}
