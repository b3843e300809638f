/**
 * Registers Dubbo providers in a real ZooKeeper the way Java Dubbo's ZookeeperRegistry does: persistent
 * `/dubbo/{urlencoded interface}/providers` parents and one ephemeral node per provider named after its
 * URL-encoded URL (java.net.URLEncoder). For end-to-end tests and the xDS benchmark.
 *
 *   const w = await DubboZkWriter.connect(zk.connectString);
 *   await w.register(url);            // parents created as needed
 *   await w.registerMany(urls);       // fresh interfaces, in batched transactions (the benchmark's 100k znodes)
 *   await w.unregister(url);
 *   w.close();
 */
import zookeeper from "node-zookeeper-client";
import type { Client } from "node-zookeeper-client";

/** java.net.URLEncoder.encode(s, "UTF-8"), as Dubbo's URL.encode uses it for node names. */
export function javaUrlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, "+")
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The providers folder of a provider URL and its node. */
export function providerPath(url: string, root = "/dubbo"): { dir: string; node: string } {
  const u = new URL(url);
  const iface = u.searchParams.get("interface") ?? u.pathname.slice(1);
  const dir = `${root}/${javaUrlEncode(iface)}/providers`;
  return { dir, node: `${dir}/${javaUrlEncode(url)}` };
}

const NODE_EXISTS = -110;

type ZkError = { message?: string; toString(): string; code?: number } | null;

function call(what: string, run: (done: (err: ZkError) => void) => void, ms = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ZooKeeper ${what}: no answer within ${ms} ms`)), ms);
    run((err) => {
      clearTimeout(timer);
      if (err) reject(new Error(`ZooKeeper ${what}: ${err.message ?? String(err)}`, { cause: err }));
      else resolve();
    });
  });
}

export class DubboZkWriter {
  /** providers folders known to exist */
  private readonly dirs = new Set<string>();

  private constructor(private readonly client: Client) {}

  static async connect(connectString: string): Promise<DubboZkWriter> {
    const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, spinDelay: 100, retries: 1 });
    await call("connect", (done) => {
      client.once("connected", () => done(null));
      client.connect();
    });
    return new DubboZkWriter(client);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await call(`mkdirp ${dir}`, (done) => this.client.mkdirp(dir, (err) => done(err)));
    this.dirs.add(dir);
  }

  /** Registers one provider (ephemeral, as Dubbo's `dynamic=true`). */
  async register(url: string): Promise<void> {
    const { dir, node } = providerPath(url);
    await this.ensureDir(dir);
    await call(`create ${node}`, (done) =>
      this.client.create(node, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, (err) => done(err && (err as ZkError)?.code === NODE_EXISTS ? null : err)),
    );
  }

  /**
   * Registers many providers of interfaces not registered yet, quickly: parents and provider nodes are
   * created in multi-op transactions of `batch` creates, `inFlight` transactions outstanding.
   */
  async registerMany(urls: readonly string[], options: { batch?: number; inFlight?: number } = {}): Promise<void> {
    const batch = options.batch ?? 200;
    const ops: { path: string; mode: number }[] = [];
    const roots = new Set<string>();
    for (const url of urls) {
      const { dir, node } = providerPath(url);
      if (!this.dirs.has(dir)) {
        this.dirs.add(dir);
        const service = dir.slice(0, dir.lastIndexOf("/"));
        roots.add(service.slice(0, service.lastIndexOf("/")));
        ops.push({ path: service, mode: zookeeper.CreateMode.PERSISTENT }, { path: dir, mode: zookeeper.CreateMode.PERSISTENT });
      }
      ops.push({ path: node, mode: zookeeper.CreateMode.EPHEMERAL });
    }
    for (const root of roots) await call(`mkdirp ${root}`, (done) => this.client.mkdirp(root, (err) => done(err)));
    let next = 0;
    const worker = async () => {
      while (next < ops.length) {
        const chunk = ops.slice(next, (next += batch));
        const t = this.client.transaction();
        for (const op of chunk) t.create(op.path, Buffer.alloc(0), op.mode);
        await call(`a transaction of ${chunk.length} creates from ${chunk[0]!.path}`, (done) => t.commit((err) => done(err)));
      }
    };
    await Promise.all(Array.from({ length: options.inFlight ?? 16 }, worker));
  }

  async unregister(url: string): Promise<void> {
    const { node } = providerPath(url);
    await call(`remove ${node}`, (done) => this.client.remove(node, (err) => done(err)));
  }

  close(): void {
    this.client.close();
  }
}
