/**
 * The long-running control plane (`dubbo-mesh control`): follows a registry and a rules file (MeshWatch),
 * rebuilds the model on every debounced change, publishes the generated resources into a snapshot cache
 * (each resource encoded once, unchanged ones reused), and serves the cache over ADS (SotW and Delta) to
 * Envoy, to `dubbo-mesh proxy --xds` and, with MCP on, to istiod. The admin API shows the connected nodes, the
 * configuration and its reloads, and Prometheus metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { AdminHttpServer, type AdminAddress } from "../../common/admin-http.js";
import type { Mode } from "../generate/istio/envoy-filter.js";
import type { WasmSource } from "../generate/xds/wasm-filter.js";
import type { MeshModel } from "../model/model.js";
import { AdsServer, type AdsTlsOptions } from "../xds/ads-server.js";
import { SnapshotCache } from "../xds/snapshot.js";
import type { DebounceOptions } from "./debounce.js";
import { MeshWatch } from "./mesh-watch.js";
import { Publisher } from "./publisher.js";
import { encodeEnvoy, encodeMcp, envoyResourceSets, mcpAnyTypeUrl, mcpResourceSets, newMcpReuse, type ListenerReuse } from "./resource-sets.js";

export interface ControlPlaneOptions {
  registry: string;
  rules: string;
  mode: Mode;
  wasm: WasmSource;
  /** the ADS server's address, HOST:PORT (port 0: a free one) */
  xds: string;
  /** the admin API's address, or null for none */
  admin: AdminAddress | null;
  tls?: AdsTlsOptions;
  /** serve the Istio objects over MCP too */
  mcp: boolean;
  /** namespace of the Istio objects served over MCP */
  namespace?: string;
  debounce?: DebounceOptions;
  log(line: string): void;
}

/** The metrics of the control plane, fed by the ADS server's hooks and the rebuilds. */
function controlMetrics(registry: Registry, snapshot: SnapshotCache, ads: () => AdsServer | undefined) {
  collectDefaultMetrics({ register: registry });
  const m = {
    pushes: new Counter({ name: "dubbo_mesh_control_pushes_total", help: "xDS responses sent, by type URL", labelNames: ["type_url"], registers: [registry] }),
    pushBytes: new Counter({ name: "dubbo_mesh_control_push_bytes_total", help: "Encoded bytes of the xDS responses sent, by type URL", labelNames: ["type_url"], registers: [registry] }),
    nacks: new Counter({ name: "dubbo_mesh_control_nacks_total", help: "xDS responses rejected by a node (NACK), by type URL", labelNames: ["type_url"], registers: [registry] }),
    pushLatency: new Histogram({
      name: "dubbo_mesh_control_push_latency_seconds",
      help: "Time from a snapshot change to each response it caused",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    rebuilds: new Counter({ name: "dubbo_mesh_control_rebuilds_total", help: "Model rebuilds published to the snapshot", registers: [registry] }),
    rebuildSeconds: new Histogram({
      name: "dubbo_mesh_control_rebuild_seconds",
      help: "Time to build the model and publish its resources (generation and encoding)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  new Gauge({
    name: "dubbo_mesh_control_connected_streams",
    help: "ADS streams open now, by variant",
    labelNames: ["variant"],
    registers: [registry],
    collect() {
      const c = ads()?.status().counters.connectedStreams ?? { sotw: 0, delta: 0 };
      this.set({ variant: "sotw" }, c.sotw);
      this.set({ variant: "delta" }, c.delta);
    },
  });
  new Gauge({
    name: "dubbo_mesh_control_resources",
    help: "Resources in the snapshot, by type URL",
    labelNames: ["type_url"],
    registers: [registry],
    collect() {
      this.reset();
      for (const typeUrl of snapshot.typeUrls()) this.set({ type_url: typeUrl }, snapshot.resources(typeUrl).size);
    },
  });
  return m;
}

export class ControlPlane {
  private readonly snapshot = new SnapshotCache();
  private readonly envoy: Publisher;
  private readonly mcp: Publisher | undefined;
  private readonly listenerReuse: ListenerReuse = {};
  private readonly mcpReuse = newMcpReuse();
  private readonly registry = new Registry();
  private readonly metrics: ReturnType<typeof controlMetrics>;
  private ads: AdsServer | undefined;
  private admin: AdminHttpServer | undefined;
  private mesh: MeshWatch | undefined;
  private lastPublish: { at: string; ms: number; encoded: number; changed: Record<string, { upserted: number; removed: number }>; error?: string } | undefined;
  /** the xDS port bound */
  xdsPort = 0;

  private constructor(private readonly options: ControlPlaneOptions) {
    this.envoy = new Publisher(this.snapshot, encodeEnvoy);
    this.mcp = options.mcp ? new Publisher(this.snapshot, encodeMcp, mcpAnyTypeUrl) : undefined;
    this.metrics = controlMetrics(this.registry, this.snapshot, () => this.ads);
  }

  /** Loads the sources, publishes the first snapshot and starts serving. Throws when a source cannot be loaded. */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const cp = new ControlPlane(options);
    try {
      cp.mesh = await MeshWatch.start({
        registry: options.registry,
        rules: options.rules,
        ...(options.debounce ? { debounce: options.debounce } : {}),
        onModel: (model) => cp.publish(model),
        log: options.log,
      });
      cp.publish(cp.mesh.model);
      if (cp.lastPublish?.error !== undefined) throw new Error(`cannot generate the resources: ${cp.lastPublish.error}`);
      cp.ads = new AdsServer(cp.snapshot, {
        ...(options.tls ? { tls: options.tls } : {}),
        log: options.log,
        hooks: {
          onPush: (e) => {
            cp.metrics.pushes.inc({ type_url: e.typeUrl });
            cp.metrics.pushBytes.inc({ type_url: e.typeUrl }, e.bytes);
            if (e.latencyMs !== undefined) cp.metrics.pushLatency.observe(e.latencyMs / 1000);
          },
          onNack: (e) => cp.metrics.nacks.inc({ type_url: e.typeUrl }),
        },
      });
      cp.xdsPort = await cp.ads.start(options.xds);
      if (options.admin) cp.admin = await AdminHttpServer.start(options.admin, "dubbo-mesh control admin", cp.pages());
      return cp;
    } catch (err) {
      await cp.close();
      throw err;
    }
  }

  get adminAddress(): AdminAddress | undefined {
    return this.admin?.address;
  }

  get model(): MeshModel | undefined {
    return this.mesh?.model;
  }

  /** Re-reads the rules and the registry (SIGHUP). */
  reload(): Promise<void> {
    return this.mesh?.reload() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    this.mesh?.close();
    await Promise.allSettled([this.ads?.stop(), this.admin?.close()]);
  }

  private publish(model: MeshModel): void {
    const t0 = performance.now();
    try {
      const o = this.options;
      const envoy = this.envoy.publish(envoyResourceSets(model, { mode: o.mode, wasm: o.wasm }, this.listenerReuse));
      const mcp = this.mcp?.publish(mcpResourceSets(model, { mode: o.mode, wasm: o.wasm, ...(o.namespace ? { namespace: o.namespace } : {}) }, this.mcpReuse));
      const ms = performance.now() - t0;
      this.lastPublish = { at: new Date().toISOString(), ms: Math.round(ms * 10) / 10, encoded: envoy.encoded + (mcp?.encoded ?? 0), changed: { ...envoy.changed, ...mcp?.changed } };
      this.metrics.rebuilds.inc();
      this.metrics.rebuildSeconds.observe(ms / 1000);
    } catch (err) {
      // a model the generators cannot turn into valid resources: keep serving the last good snapshot
      const message = (err as Error).message;
      this.lastPublish = { at: new Date().toISOString(), ms: 0, encoded: 0, changed: {}, error: message };
      this.options.log(`cannot publish the new configuration: ${message} (keeping the last good one)`);
    }
  }

  private pages() {
    return {
      "/nodes": () => ({ json: this.ads?.status().streams ?? [] }),
      "/config_dump": () => ({ json: this.configDump() }),
      "/stats": async () => ({ text: await this.registry.metrics(), contentType: this.registry.contentType }),
      "/ready": () => (this.ads ? { text: "LIVE\n" } : { text: "NOT READY\n", status: 503 }),
    };
  }

  configDump(): unknown {
    const model = this.mesh?.model;
    const o = this.options;
    return {
      options: { registry: o.registry, rules: o.rules, mode: o.mode, wasm: o.wasm.url, mcp: o.mcp, xds: o.xds, tls: o.tls ? { clientCertificates: o.tls.clientCa !== undefined } : null },
      sources: this.mesh?.status(),
      lastPublish: this.lastPublish,
      snapshot: this.ads?.status().resources,
      model: model && {
        port: model.port,
        services: model.services.map((s) => ({
          key: s.key,
          host: s.host,
          endpoints: s.endpoints.map((e) => `${e.address}:${e.port}`),
          rule: s.rule?.name ?? null,
          subsets: s.subsets.map((x) => x.name),
        })),
      },
    };
  }
}
