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

  /**
   * Replaces the state with `urls`; returns true when the providers changed. The providers kept stay in their
   * sorted order and only new ones are sorted in (a registry change touches a few of 10^5 providers: the
   * sort then finds one long sorted run, linear time, whatever order the registry listed them in).
   */
  replace(urls: Iterable<string>): boolean {
    const byUrl = new Map<string, Provider>();
    const added: Provider[] = [];
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
        added.push(provider);
      }
      byUrl.set(url, provider);
    }
    const kept = new Set(byUrl.values());
    const next = this.list.filter((p) => kept.has(p));
    this.byUrl = byUrl;
    if (added.length === 0 && next.length === this.list.length) return false;
    for (const p of added) next.push(p);
    next.sort(compareProviders);
    this.list = next;
    return true;
  }
}
