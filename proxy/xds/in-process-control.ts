/**
 * The control plane's snapshot builder run inside the standalone proxy (`--config` with `filter.registry` and
 * `filter.rules`): the registry and the rules followed by `MeshWatch`, each model published by the `Publisher`
 * into a `SnapshotCache` — what `dubbo-mesh control` serves over ADS, without the gRPC server. The proxy reads
 * the snapshot through a `SnapshotSource`, so it is configured from exactly the Envoy resources an Envoy
 * sidecar of `dubbo-mesh control` would receive.
 */
import type { ClusterFieldOptions } from "../../control/live/cluster-fields.js";
import type { DebounceOptions } from "../../control/live/debounce.js";
import { MeshWatch, type SourceStatus } from "../../control/live/mesh-watch.js";
import { Publisher } from "../../control/live/publisher.js";
import { encodeEnvoy, envoyResourceSets } from "../../control/live/resource-sets.js";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import type { MeshModel } from "../../control/model/model.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";

export interface InProcessControlOptions {
  registry: string;
  rules: string;
  /** the settings the Clusters are generated with */
  clusters: ClusterFieldOptions;
  debounce?: DebounceOptions;
  log(level: "info" | "warn" | "error", message: string): void;
  /** each reload outcome of the rules or the registry after start */
  onSourceStatus(source: "rules" | "registry", status: SourceStatus): void;
}

export class InProcessControlPlane {
  readonly snapshot = new SnapshotCache();
  private readonly publisher = new Publisher(this.snapshot, encodeEnvoy);
  private readonly wasm = parseWasmSource();
  private mesh: MeshWatch | undefined;

  private constructor(private readonly options: InProcessControlOptions) {}

  /** Loads the registry and the rules and publishes the first snapshot; throws when either cannot be loaded. */
  static async start(options: InProcessControlOptions): Promise<InProcessControlPlane> {
    const cp = new InProcessControlPlane(options);
    cp.mesh = await MeshWatch.start({
      registry: options.registry,
      rules: options.rules,
      ...(options.debounce ? { debounce: options.debounce } : {}),
      onModel: (model) => {
        try {
          cp.publish(model);
        } catch (err) {
          options.log("error", `cannot generate the resources of the new model: ${(err as Error).message} (keeping the last good ones)`);
        }
      },
      log: (m) => options.log("warn", m),
      onSourceStatus: options.onSourceStatus,
    });
    try {
      cp.publish(cp.mesh.model);
    } catch (err) {
      cp.close();
      throw new Error(`cannot generate the resources: ${(err as Error).message}`, { cause: err });
    }
    return cp;
  }

  private publish(model: MeshModel): void {
    this.publisher.publish(envoyResourceSets(model, { mode: "dubbo-proxy", wasm: this.wasm, clusters: this.options.clusters }));
  }

  /** Re-reads the rules file and a re-readable registry (SIGHUP); outcomes come through onSourceStatus. */
  reload(): Promise<void> {
    return this.mesh?.reload() ?? Promise.resolve();
  }

  close(): void {
    this.mesh?.close();
    this.mesh = undefined;
  }
}
