/** The clusters by name; applying a new configuration keeps clusters (and their pools) that stay. */
import { Cluster, type ClusterEnv } from "./cluster.js";
import type { ClusterConfig } from "./config.js";

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();

  constructor(private readonly env: ClusterEnv) {}

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
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
