/**
 * One watch interface for every registry, chosen by URI scheme (`file:PATH`, `zookeeper://HOST:PORT[/ROOT]`).
 * Adapters register a factory with `registerRegistry(scheme, factory)`; `createRegistry(uri, listener)` picks
 * one. (Pattern of grpc-js' resolver registry.)
 *
 * Timing guarantees every adapter keeps:
 * - `start()` resolves after the first complete read; `providers()` then holds it. `onUpdate` is not called
 *   for that first read.
 * - `onUpdate` is called asynchronously (never inside `start()` or `close()`), with the complete, sorted
 *   provider list, only when it differs from the previous one.
 * - When the source is unreachable the last known providers are kept; nothing is removed until the source
 *   answers again and the state is reconciled.
 * - Malformed entries are skipped and reported through `onWarning` with the entry quoted; one bad entry
 *   never hides the good ones.
 * - After `close()` no callback is called.
 */
import type { Provider } from "./provider-url.js";

export type RegistryState = "connected" | "disconnected" | "expired";

export interface RegistryListener {
  onUpdate?(providers: readonly Provider[]): void;
  onWarning?(message: string): void;
  onState?(state: RegistryState): void;
  /**
   * Sources that are re-read (the file registry) call this after each re-read, after any `onUpdate` it caused:
   * null when the source was read, else the error (the last known providers stay).
   */
  onReload?(error: Error | null): void;
}

export interface Registry {
  readonly uri: string;
  start(): Promise<void>;
  /** The current providers, sorted (`compareProviders`). The returned array must not be altered. */
  providers(): readonly Provider[];
  /** Re-read the source now, for sources that are re-read (the file registry); pushed ones (ZooKeeper) have none. */
  reload?(): void;
  close(): Promise<void>;
}

/** `target` is the URI without its scheme and colon, e.g. `examples/registry.yaml` or `//127.0.0.1:2181/dubbo`. */
export type RegistryFactory = (target: string, uri: string, listener: RegistryListener) => Registry;

const factories = new Map<string, RegistryFactory>();

export function registerRegistry(scheme: string, factory: RegistryFactory): void {
  factories.set(scheme.toLowerCase(), factory);
}

export function registeredSchemes(): string[] {
  return [...factories.keys()].sort();
}

export function createRegistry(uri: string, listener: RegistryListener = {}): Registry {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m) throw new Error(`registry URI ${JSON.stringify(uri)} has no scheme (expected file:PATH or zookeeper://HOST:PORT[/ROOT])`);
  const factory = factories.get(m[1]!.toLowerCase());
  if (!factory) {
    throw new Error(`registry URI ${JSON.stringify(uri)}: unknown scheme '${m[1]}' (known: ${registeredSchemes().join(", ")})`);
  }
  return factory(m[2]!, uri, listener);
}
