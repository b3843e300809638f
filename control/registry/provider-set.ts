/**
 * Turns raw provider URLs into the sorted provider list adapters publish, warning once per malformed URL,
 * and tells whether the list changed.
 */
import { compareProviders, parseProviderUrl, type Provider } from "./provider-url.js";

export class ProviderSet {
  private list: Provider[] = [];
  private signature = "";
  private readonly warned = new Set<string>();

  constructor(private readonly warn: (message: string) => void) {}

  get providers(): readonly Provider[] {
    return this.list;
  }

  /** Replaces the state with `urls`; returns true when the providers changed. */
  replace(urls: Iterable<string>): boolean {
    const next: Provider[] = [];
    const seen = new Set<string>();
    for (const url of urls) {
      if (seen.has(url)) continue;
      seen.add(url);
      const parsed = parseProviderUrl(url);
      if (parsed.ok) next.push(parsed.provider);
      else if (!this.warned.has(url)) {
        this.warned.add(url);
        this.warn(parsed.error);
      }
    }
    next.sort(compareProviders);
    const signature = next.map((p) => p.url).join("\n");
    if (signature === this.signature) return false;
    this.list = next;
    this.signature = signature;
    return true;
  }
}
