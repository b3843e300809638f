/**
 * `zookeeper://HOST:PORT[,HOST:PORT...][/ROOT]` — providers from a ZooKeeper registry, through
 * node-zookeeper-client.
 *
 * Layouts read (the root defaults to both `/dubbo` and `/sofa-rpc` when the URI names none):
 *   /dubbo/{urlencoded interface}/providers/{urlencoded provider URL}      (Java Dubbo, interface level)
 *   /sofa-rpc/{interface}/providers/{urlencoded URL without a path segment} (sofa-rpc-node; interface in the query)
 *
 * Every path read is watched (children watches on the root and on each `providers` node, an existence watch
 * where a `providers` node does not exist yet); ZooKeeper watches fire once, so each is re-armed by the read
 * that follows its event. On disconnect the last known providers stay; on reconnect (same session) and after
 * a session expiry (a new client and session) the whole tree is read again and the result replaces the state
 * (reconciliation), re-arming every watch.
 */
import zookeeper from "node-zookeeper-client";
import type { Client, Event } from "node-zookeeper-client";
import type { Provider } from "./provider-url.js";
import { ProviderSet } from "./provider-set.js";
import type { Registry, RegistryListener, RegistryState } from "./registry.js";

export interface ZookeeperRegistryOptions {
  /** requested session timeout, ms (the server clamps it to 2..20 ticks) */
  sessionTimeoutMs?: number;
  /** delay between connection attempts, ms */
  spinDelayMs?: number;
  /** how long `start()` waits for the first complete read, ms */
  startTimeoutMs?: number;
}

export const DEFAULT_ZOOKEEPER_ROOTS = ["/dubbo", "/sofa-rpc"] as const;

/** Splits `//host:port,host:port/root` (the URI after `zookeeper:`). */
export function parseZookeeperTarget(target: string): { connect: string; roots: string[] } {
  const m = /^\/\/([^/?#]+)(\/[^?#]*)?$/.exec(target);
  if (!m) throw new Error(`zookeeper registry URI must look like zookeeper://HOST:PORT[/ROOT], got 'zookeeper:${target}'`);
  const connect = m[1]!;
  for (const hp of connect.split(",")) {
    if (!/^[^:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(hp)) {
      throw new Error(`zookeeper registry URI: '${hp}' is not HOST:PORT`);
    }
  }
  const root = (m[2] ?? "").replace(/\/+$/, "");
  return { connect, roots: root === "" ? [...DEFAULT_ZOOKEEPER_ROOTS] : [root] };
}

const NO_NODE = -101;

function errorCode(err: unknown): number | undefined {
  const e = err as { getCode?: () => number; code?: number } | null;
  if (!e) return undefined;
  if (typeof e.getCode === "function") return e.getCode();
  return typeof e.code === "number" ? e.code : undefined;
}

export class ZookeeperRegistry implements Registry {
  private readonly connect: string;
  private readonly roots: string[];
  private readonly set: ProviderSet;
  /** providers path → decoded URLs */
  private readonly byPath = new Map<string, string[]>();
  /** root → interface node names seen */
  private readonly interfacesByRoot = new Map<string, Set<string>>();
  private client: Client | undefined;
  /** bumps with every new client; callbacks of older clients are ignored */
  private generation = 0;
  private readonly readSeq = new Map<string, number>();
  private readonly watchers = new Map<string, (event: Event) => void>();
  private publishScheduled = false;
  private closed = false;
  private firstSync: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private synced = false;
  /** > 0 while a full read is under way: partial states are not published */
  private resyncing = 0;

  constructor(
    target: string,
    readonly uri: string,
    private readonly listener: RegistryListener,
    private readonly options: ZookeeperRegistryOptions = {},
  ) {
    const parsed = parseZookeeperTarget(target);
    this.connect = parsed.connect;
    this.roots = parsed.roots;
    this.set = new ProviderSet((m) => this.listener.onWarning?.(m));
  }

  start(): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.firstSync = undefined;
        void this.close();
        reject(new Error(`zookeeper registry ${this.uri}: no complete read within ${timeoutMs} ms (is ZooKeeper running at ${this.connect}?)`));
      }, timeoutMs);
      this.firstSync = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.newClient();
    });
  }

  providers(): readonly Provider[] {
    return this.set.providers;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.close();
  }

  private setState(state: RegistryState): void {
    if (!this.closed) this.listener.onState?.(state);
  }

  private newClient(): void {
    if (this.closed) return;
    const gen = ++this.generation;
    this.watchers.clear();
    const client = zookeeper.createClient(this.connect, {
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      spinDelay: this.options.spinDelayMs ?? 200,
      retries: 1,
    });
    this.client = client;
    let lostTimer: NodeJS.Timeout | undefined;
    const expire = () => {
      if (gen !== this.generation) return;
      if (lostTimer) clearTimeout(lostTimer);
      lostTimer = undefined;
      this.setState("expired");
      client.removeAllListeners();
      client.close();
      // A new session: every watch is gone with the old one; the resync on connect re-arms them.
      setTimeout(() => this.newClient(), 0);
    };
    client.on("state", (state: { name: string }) => {
      if (gen !== this.generation) return;
      if (state === zookeeper.State.SYNC_CONNECTED) {
        if (lostTimer) clearTimeout(lostTimer);
        lostTimer = undefined;
        this.setState("connected");
        void this.resync(gen);
      } else if (state === zookeeper.State.DISCONNECTED) {
        this.setState("disconnected");
        // Like Curator: a session not resumed within its timeout is gone. This also covers a server that
        // restarted without its data: it refuses our session (we have seen a newer zxid) without ever
        // answering "expired", and the client would retry forever.
        const timeout = client.getSessionTimeout() || (this.options.sessionTimeoutMs ?? 10_000);
        if (!lostTimer) {
          lostTimer = setTimeout(expire, timeout);
          lostTimer.unref();
        }
      } else if (state === zookeeper.State.EXPIRED) {
        expire();
      }
    });
    client.connect();
  }

  // ---- promise wrappers bound to one client generation ----

  private children(gen: number, path: string, watch: boolean): Promise<string[] | null> {
    return new Promise((resolve, reject) => {
      const client = this.client;
      if (!client || gen !== this.generation) return reject(new Error("stale client"));
      const cb = (err: unknown, children: string[]) => {
        if (err) {
          if (errorCode(err) === NO_NODE) resolve(null);
          else reject(err as Error);
        } else resolve(children);
      };
      if (watch) client.getChildren(path, this.watcherFor(gen, path), cb);
      else client.getChildren(path, cb);
    });
  }

  private watchExistence(gen: number, path: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const client = this.client;
      if (!client || gen !== this.generation) return reject(new Error("stale client"));
      client.exists(path, this.watcherFor(gen, path), (err, stat) => {
        if (err) reject(err as Error);
        else resolve(Boolean(stat));
      });
    });
  }

  /** One stable watcher function per path and client (node-zookeeper-client dedups by identity). */
  private watcherFor(gen: number, path: string): (event: Event) => void {
    let w = this.watchers.get(path);
    if (!w) {
      w = () => {
        if (gen !== this.generation || this.closed) return;
        if (this.roots.includes(path)) void this.readRoot(gen, path).catch(() => undefined);
        else void this.readProviders(gen, path).catch(() => undefined);
      };
      this.watchers.set(path, w);
    }
    return w;
  }

  // ---- reads ----

  /** Reads a root's interface nodes (watched) and each interface's providers. */
  private async readRoot(gen: number, root: string): Promise<void> {
    const names = await this.children(gen, root, true);
    if (names === null) {
      // No such root yet: watch for its creation, forget what was under it.
      const exists = await this.watchExistence(gen, root);
      if (exists) return this.readRoot(gen, root);
      this.dropRoot(root, new Set());
      return;
    }
    const current = new Set(names);
    this.dropRoot(root, current);
    this.interfacesByRoot.set(root, current);
    await Promise.all(names.map((name) => this.readProviders(gen, `${root}/${name}/providers`)));
  }

  private dropRoot(root: string, keep: Set<string>): void {
    const before = this.interfacesByRoot.get(root);
    if (!before) return;
    let changed = false;
    for (const name of before) {
      if (keep.has(name)) continue;
      changed = this.byPath.delete(`${root}/${name}/providers`) || changed;
    }
    if (!keep.size) this.interfacesByRoot.delete(root);
    if (changed) this.schedulePublish();
  }

  private async readProviders(gen: number, path: string): Promise<void> {
    const seq = (this.readSeq.get(path) ?? 0) + 1;
    this.readSeq.set(path, seq);
    let names = await this.children(gen, path, true);
    if (names === null) {
      const exists = await this.watchExistence(gen, path);
      if (exists) return this.readProviders(gen, path);
      names = [];
    }
    if (this.readSeq.get(path) !== seq || gen !== this.generation) return; // a newer read owns the path
    const urls: string[] = [];
    for (const name of names) {
      try {
        // java.net.URLEncoder writes spaces as '+'; sofa-rpc-node encodes '+' itself, so '+' is always a space
        urls.push(decodeURIComponent(name.replace(/\+/g, " ")));
      } catch {
        this.listener.onWarning?.(`malformed provider node ${JSON.stringify(`${path}/${name}`)}: bad URL encoding, skipped`);
      }
    }
    if (urls.length === 0) this.byPath.delete(path);
    else this.byPath.set(path, urls);
    this.schedulePublish();
  }

  /** Reads everything again and replaces the state: the reconciliation after (re)connecting. */
  private async resync(gen: number): Promise<void> {
    const before = new Map(this.byPath);
    this.resyncing++;
    try {
      this.readSeq.clear();
      this.byPath.clear();
      await Promise.all(this.roots.map((root) => this.readRoot(gen, root)));
    } catch {
      // Lost the connection half-way: keep what was known before; the next connect reads again.
      if (gen === this.generation) {
        this.byPath.clear();
        for (const [k, v] of before) this.byPath.set(k, v);
      }
      return;
    } finally {
      this.resyncing--;
    }
    if (gen !== this.generation || this.closed) return;
    const first = !this.synced;
    this.synced = true;
    this.publish(!first);
    this.firstSync?.resolve();
    this.firstSync = undefined;
  }

  private schedulePublish(): void {
    if (this.publishScheduled || !this.synced || this.resyncing > 0) return;
    this.publishScheduled = true;
    setImmediate(() => {
      this.publishScheduled = false;
      this.publish(true);
    });
  }

  private publish(notify: boolean): void {
    if (this.closed) return;
    const urls: string[] = [];
    for (const list of this.byPath.values()) urls.push(...list);
    const changed = this.set.replace(urls);
    if (changed && notify) {
      setImmediate(() => {
        if (!this.closed) this.listener.onUpdate?.(this.set.providers);
      });
    }
  }
}
