/** The clusters by name; applying a new configuration keeps clusters (and their pools) that stay. */
import { Cluster, type ClusterEnv } from "./cluster.js";
import type { ClusterConfig } from "./config.js";

/** How often idle upstream connections get a heartbeat (Dubbo's default heartbeat is 60 s; Node peers close after 90 s idle). */
export const KEEPALIVE_INTERVAL_MS = 30_000;

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();
  private readonly keepAlive: NodeJS.Timeout;

  constructor(private readonly env: ClusterEnv) {
    this.keepAlive = setInterval(() => {
      for (const c of this.clusters.values()) for (const e of c.endpoints) for (const conn of e.pool.conns) conn.keepAlive();
    }, KEEPALIVE_INTERVAL_MS);
    this.keepAlive.unref();
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  update(configs: readonly ClusterConfig[]): void {
    const keep = new Set<string>();
    for (const cfg of configs) {
      keep.add(cfg.name);
      const existing = this.clusters.get(cfg.name);
      if (existing) existing.update(cfg);
      else this.clusters.set(cfg.name, new Cluster(cfg, this.env));
    }
    for (const [name, c] of this.clusters) {
      if (!keep.has(name)) {
        c.remove();
        this.clusters.delete(name);
      }
    }
  }

  destroy(): void {
    clearInterval(this.keepAlive);
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
