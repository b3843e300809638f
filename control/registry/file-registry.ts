/**
 * `file:PATH` — a YAML file listing provider URLs (the same strings Dubbo writes into ZooKeeper, decoded):
 *
 *   providers:
 *     - dubbo://127.0.0.1:20881/org.apache.dubbo.demo.DemoService?version=1.0.0&revision=v1
 *
 * The file is watched (debounced). A file that cannot be read or parsed keeps the last good providers and is
 * reported through `onWarning`; at start it is an error.
 */
import { readFileSync } from "node:fs";
import { parseYamlFile } from "../../common/yaml-file.js";
import { watchFile, type FileWatch } from "../../common/watch-file.js";
import type { Provider } from "./provider-url.js";
import { ProviderSet } from "./provider-set.js";
import type { Registry, RegistryListener } from "./registry.js";

export class FileRegistryError extends Error {
  override name = "FileRegistryError";
}

/** Reads and checks the YAML; throws `FileRegistryError` naming the file and the bad part. */
export function readRegistryFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new FileRegistryError(`${path}: cannot read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYamlFile(text, path);
  } catch (err) {
    throw new FileRegistryError((err as Error).message);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new FileRegistryError(`${path}: expected a mapping {providers: [URL, ...]}, got ${Array.isArray(doc) ? "a list" : typeof doc}`);
  }
  for (const key of Object.keys(doc)) {
    if (key !== "providers") throw new FileRegistryError(`${path}: (document): unknown field '${key}' (allowed: providers)`);
  }
  const list = (doc as Record<string, unknown>)["providers"];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new FileRegistryError(`${path}: providers: expected a list of provider URLs`);
  return list.map((item, i) => {
    if (typeof item !== "string") {
      throw new FileRegistryError(`${path}: providers[${i}]: expected a provider URL string, got ${JSON.stringify(item)}`);
    }
    return item;
  });
}

export class FileRegistry implements Registry {
  private readonly set: ProviderSet;
  private watch: FileWatch | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    readonly uri: string,
    private readonly listener: RegistryListener,
    private readonly debounceMs = 100,
  ) {
    this.set = new ProviderSet((m) => this.listener.onWarning?.(m));
  }

  async start(): Promise<void> {
    this.set.replace(readRegistryFile(this.path));
    this.watch = watchFile(this.path, () => this.reload(), this.debounceMs);
  }

  /** Re-read the file now (the watch does it on every change; SIGHUP asks for it). */
  reload(): void {
    if (this.closed) return;
    let urls: string[];
    try {
      urls = readRegistryFile(this.path);
    } catch (err) {
      this.listener.onWarning?.(`${(err as Error).message} (keeping the last good providers)`);
      this.listener.onReload?.(err as Error);
      return;
    }
    if (this.set.replace(urls)) this.listener.onUpdate?.(this.set.providers);
    this.listener.onReload?.(null);
  }

  providers(): readonly Provider[] {
    return this.set.providers;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
  }
}
