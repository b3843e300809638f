/**
 * The filter configuration from a registry and a rules file (`filter.registry` + `filter.rules`): the control
 * plane's compiler turns them into the plugin configuration, and the proxy builds one cluster per service and
 * per subset, named as the compiler names them (Istio's outbound|PORT|SUBSET|HOST), with the registry's
 * endpoints, weights and labels. Both files (or the ZooKeeper tree) are followed; every change produces a new
 * snapshot, and a bad rules edit keeps the last good rules. Each source's outcome is reported: a new snapshot
 * names the source it came from; a source that could not be read (or re-read unchanged) goes to `onOutcome`.
 */
import { compilePluginConfig, defaultClusterName } from "../../control/generate/plugin-config.js";
import { buildModel, endpointInSubset, type MeshModel } from "../../control/model/model.js";
import { createRegistry, type Provider, type Registry } from "../../control/registry/index.js";
import { RulesFile } from "../../control/rules/load.js";
import type { DubboRoute } from "../../control/rules/types.js";
import type { ClusterConfig, ClusterSettings, EndpointConfig } from "./config.js";
import type { LbPolicy } from "./load-balancer.js";

export type MeshSourceName = "rules" | "registry";

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
    private readonly onChange: (snapshot: MeshSnapshot, source: MeshSourceName) => void,
    private readonly log: (message: string) => void,
    private readonly onOutcome: (source: MeshSourceName, error: string | null) => void,
  ) {}

  /** Load both sources (throws when either cannot be loaded now) and follow them. */
  static async start(
    registryUri: string,
    rulesPath: string,
    defaults: ClusterSettings,
    onChange: (snapshot: MeshSnapshot, source: MeshSourceName) => void,
    log: (message: string) => void,
    onOutcome: (source: MeshSourceName, error: string | null) => void,
  ): Promise<MeshSource> {
    const src = new MeshSource(defaults, onChange, log, onOutcome);
    src.rulesFile = new RulesFile(rulesPath, {
      onRules: () => src.rebuild("rules"),
      onError: (err) => onOutcome("rules", err.message),
    });
    let started = false;
    let updated = false; // the re-read in progress changed the providers: its outcome comes with the rebuild
    src.registry = createRegistry(registryUri, {
      onUpdate: () => {
        updated = true;
        if (started) src.rebuild("registry");
      },
      onWarning: (m) => log(`registry ${registryUri}: ${m}`),
      onReload: (err) => {
        if (err !== null) onOutcome("registry", err.message);
        else if (!updated) onOutcome("registry", null);
        updated = false;
      },
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

  private rebuild(source: MeshSourceName): void {
    if (this.registry === null || this.rulesFile === null) return;
    let next: MeshSnapshot;
    try {
      next = this.build(this.registry.providers(), this.rulesFile.rules);
    } catch (err) {
      this.onOutcome(source, `cannot rebuild the configuration from the registry and rules: ${(err as Error).message}`);
      return;
    }
    this.current = next;
    this.onChange(next, source);
  }

  /** Re-read the rules file and a re-readable registry (file:) now, as SIGHUP asks; outcomes are reported as for changes. */
  reload(): void {
    this.rulesFile?.reload();
    this.registry?.reload?.();
  }

  close(): void {
    this.rulesFile?.close();
    void this.registry?.close();
    this.rulesFile = null;
    this.registry = null;
  }
}
