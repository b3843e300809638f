/**
 * Turns raw provider URLs into the sorted provider list adapters publish, warning once per malformed URL,
 * and tells whether the list changed. A URL seen before keeps its `Provider` object (same identity), so
 * the model can tell unchanged services without comparing strings.
 */
import { compareProviders, parseProviderUrl, type Provider } from "./provider-url.js";

export class ProviderSet {
  private list: Provider[] = [];
  private byUrl = new Map<string, Provider>();
  private readonly warned = new Set<string>();

  constructor(private readonly warn: (message: string) => void) {}

  /** The current providers, sorted. The returned array must not be altered. */
  get providers(): readonly Provider[] {
    return this.list;
  }

  /** Replaces the state with `urls`; returns true when the providers changed. */
  replace(urls: Iterable<string>): boolean {
    const next: Provider[] = [];
    const byUrl = new Map<string, Provider>();
    for (const url of urls) {
      if (byUrl.has(url)) continue;
      let provider = this.byUrl.get(url);
      if (!provider) {
        const parsed = parseProviderUrl(url);
        if (!parsed.ok) {
          if (!this.warned.has(url)) {
            this.warned.add(url);
            this.warn(parsed.error);
          }
          continue;
        }
        provider = parsed.provider;
      }
      byUrl.set(url, provider);
      next.push(provider);
    }
    next.sort(compareProviders);
    this.byUrl = byUrl;
    const same = next.length === this.list.length && next.every((p, i) => p === this.list[i]);
    if (same) return false;
    this.list = next;
    return true;
  }
}
