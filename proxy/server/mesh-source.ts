/**
 * The filter configuration from a registry and a rules file (`filter.registry` + `filter.rules`): the control
 * plane's compiler turns them into the plugin configuration, and the proxy builds one cluster per service and
 * per subset, named as the compiler names them (Istio's outbound|PORT|SUBSET|HOST), with the registry's
 * endpoints, weights and labels. Both files (or the ZooKeeper tree) are followed; every change produces a new
 * snapshot, and a bad rules edit keeps the last good rules.
 */
import { compilePluginConfig, defaultClusterName } from "../../control/generate/plugin-config.js";
import { buildModel, endpointInSubset, type MeshModel } from "../../control/model/model.js";
import { createRegistry, type Provider, type Registry } from "../../control/registry/index.js";
import { RulesFile } from "../../control/rules/load.js";
import type { DubboRoute } from "../../control/rules/types.js";
import type { ClusterConfig, ClusterSettings, EndpointConfig } from "./config.js";
import type { LbPolicy } from "./load-balancer.js";

export interface MeshSnapshot {
  pluginConfig: Record<string, unknown>;
  clusters: ClusterConfig[];
}

/** Clusters for every service of the model and each of its subsets. */
export function clustersFromModel(model: MeshModel, defaults: ClusterSettings): ClusterConfig[] {
  const out: ClusterConfig[] = [];
  for (const service of model.services) {
    const rule = service.rule;
    let lbPolicy: LbPolicy = defaults.lbPolicy;
    const lb = rule?.loadBalancer;
    if (lb !== undefined) lbPolicy = "simple" in lb ? lb.simple : defaults.lbPolicy === "MAGLEV" ? "MAGLEV" : "RING_HASH";
    const settings: ClusterSettings = { ...defaults, lbPolicy, requestTimeoutMs: rule?.timeoutMs ?? defaults.requestTimeoutMs };
    const endpoint = (e: (typeof service.endpoints)[number]): EndpointConfig => ({
      address: { host: e.address, port: e.port },
      weight: Math.max(1, e.weight),
      labels: Object.fromEntries(e.labels),
    });
    out.push({ ...settings, name: defaultClusterName(service, ""), endpoints: service.endpoints.map(endpoint) });
    for (const subset of service.subsets) {
      out.push({
        ...settings,
        name: defaultClusterName(service, subset.name),
        endpoints: service.endpoints.filter((e) => endpointInSubset(e, subset)).map(endpoint),
      });
    }
  }
  return out;
}

export class MeshSource {
  private registry: Registry | null = null;
  private rulesFile: RulesFile | null = null;
  private current: MeshSnapshot = { pluginConfig: {}, clusters: [] };

  private constructor(
    private readonly defaults: ClusterSettings,
    private readonly onChange: (snapshot: MeshSnapshot) => void,
    private readonly log: (message: string) => void,
  ) {}

  /** Load both sources (throws when either cannot be loaded now) and follow them. */
  static async start(
    registryUri: string,
    rulesPath: string,
    defaults: ClusterSettings,
    onChange: (snapshot: MeshSnapshot) => void,
    log: (message: string) => void,
  ): Promise<MeshSource> {
    const src = new MeshSource(defaults, onChange, log);
    src.rulesFile = new RulesFile(rulesPath, {
      onRules: () => src.rebuild(),
      onError: (err) => log(`rules ${rulesPath}: ${err.message} (keeping the last good rules)`),
    });
    let started = false;
    src.registry = createRegistry(registryUri, {
      onUpdate: () => {
        if (started) src.rebuild();
      },
      onWarning: (m) => log(`registry ${registryUri}: ${m}`),
    });
    try {
      await src.registry.start();
    } catch (err) {
      src.close();
      throw err;
    }
    started = true;
    src.current = src.build(src.registry.providers(), src.rulesFile.rules);
    return src;
  }

  get snapshot(): MeshSnapshot {
    return this.current;
  }

  private build(providers: readonly Provider[], rules: readonly DubboRoute[]): MeshSnapshot {
    const model = buildModel(providers, rules, { warn: (m) => this.log(m) });
    return {
      pluginConfig: compilePluginConfig(model) as unknown as Record<string, unknown>,
      clusters: clustersFromModel(model, this.defaults),
    };
  }

  private rebuild(): void {
    if (this.registry === null || this.rulesFile === null) return;
    try {
      this.current = this.build(this.registry.providers(), this.rulesFile.rules);
      this.onChange(this.current);
    } catch (err) {
      this.log(`cannot rebuild the configuration from the registry and rules: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.rulesFile?.close();
    void this.registry?.close();
    this.rulesFile = null;
    this.registry = null;
  }
}
