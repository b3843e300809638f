/**
 * The fallback proxy: listeners whose connections run through the filter .wasm in the TypeScript
 * proxy-wasm host, a cluster manager that sends each request where the filter routed it, and the admin API.
 *
 *   accept → vm.newConnection → DownstreamConnection ── downstreamData → filter (route_request reports)
 *            → frames → Cluster.dispatch → pool → UpstreamConnection ── response → client (original id)
 *
 * Configuration comes from a YAML file (config.ts), followed while the proxy runs: a change that validates
 * is applied (clusters updated in place, the filter reconfigured, listeners added or removed); one that does
 * not is reported and changes nothing; every reload's outcome is kept per source (reload-status.ts). A new
 * plugin configuration is applied as Envoy applies one (a new root context in the same filter VM,
 * docs/host.md), so established connections route by it from their next request on. `drain()` stops
 * accepting, sends Dubbo's readonly event to every client and lets requests in flight finish (bounded).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { WasmResult, WasmVm, WasmVmError, type LogEntry, logLevelName } from "../host/index.js";
import { watchFile, type FileWatch } from "../../common/watch-file.js";
import { YamlSyntaxError, parseYamlFile } from "../../common/yaml-file.js";
import type { AdminHttpServer } from "../../common/admin-http.js";
import { startAdminServer } from "./admin-server.js";
import { ClusterManager } from "./cluster-manager.js";
import {
  type ClusterConfig, type ClusterSettings, type FilterSource, type HostPort, type ListenerConfig, type ProxyConfig, ConfigError, DEFAULT_ADMIN,
  formatHostPort, parseProxyConfig,
} from "./config.js";
import { DeadlineQueue } from "./deadline-queue.js";
import { DownstreamConnection, type DownstreamEnv } from "./downstream-connection.js";
import type { PendingRequest } from "./pending-request.js";
import { createRegistry } from "./prometheus.js";
import { RecentLog } from "./recent-log.js";
import { type ReloadResult, type ReloadSource, ReloadStatus } from "./reload-status.js";
import { RequestStatsTable } from "./request-stats.js";
import { ROUTE_REQUEST_FUNCTION, RouteReports } from "./route-reports.js";
import { XdsFeed, type XdsFeedTarget } from "./xds-feed.js";
import type { ClusterSettings as GeneratedClusterSettings } from "../../control/generate/xds/clusters.js";
import { parseWasmSource } from "../../control/generate/xds/wasm-filter.js";
import { ControlPlane } from "../../control/live/control-plane.js";
import { AdsClient } from "../xds/ads-client.js";
import type { XdsFilter, XdsProxyConfig } from "../xds/proxy-config.js";
import { SnapshotSource } from "../xds/snapshot-source.js";
import { XdsType } from "../xds/xds-resources.js";

export type ProxyLogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<ProxyLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface ProxyOptions {
  /** The configuration file (followed for changes). Either this or `config`. */
  configPath?: string;
  /** A configuration document (as parsed YAML), for embedding and tests; `baseDir` resolves its paths. */
  config?: unknown;
  baseDir?: string;
  /** Overrides the first listener's address (--listen). */
  listen?: HostPort;
  /** Overrides the admin address (--admin); null turns the admin API off. */
  admin?: HostPort | null;
  /** Where log lines go (default: stderr) and from which level (default info). */
  log?: (level: ProxyLogLevel, message: string) => void;
  logLevel?: ProxyLogLevel;
  /** Pass responses through the filter's on_upstream_data (default true). */
  filterResponses?: boolean;
  /** Follow the configuration file (default true when configPath is given). */
  watch?: boolean;
  /**
   * Register the per-request routing extension `dubbo_mesh.route_request` (default true). Without it the
   * filter behaves as in Envoy: it routes the connection by the envoy.tcp_proxy.cluster filter state it sets
   * on the first request.
   */
  routeExtension?: boolean;
  /**
   * Take the whole configuration from a control plane over ADS (`--xds`) instead of a file: listeners from its
   * Listeners, clusters from its Clusters and ClusterLoadAssignments, the plugin from its wasm filter.
   */
  xds?: { server: string; nodeId?: string; cacheDir?: string; services?: string[] };
}

/** The Cluster settings the in-process control plane generates with in standalone mode: the configuration's clusterDefaults. */
export function generatedClusterSettings(d: ClusterSettings): GeneratedClusterSettings {
  return {
    lbPolicy: d.lbPolicy,
    hashLbPolicy: d.lbPolicy === "MAGLEV" ? "MAGLEV" : "RING_HASH",
    connectTimeoutMs: d.connectTimeoutMs,
    circuitBreakers: d.circuitBreakers,
    outlierDetection: d.outlierDetection,
  };
}

export type { ReloadResult } from "./reload-status.js";

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

interface RunningListener {
  cfg: ListenerConfig;
  server: Server;
  address: HostPort;
}

interface AppliedFilter {
  wasmPath: string;
  wasm: Buffer;
  pluginConfig: string;
  sourceKey: string;
}

export class ProxyServer {
  private config!: ProxyConfig;
  /** the filter VM; configured over xDS, none until the first plugin configuration arrives */
  private vm: WasmVm | undefined;
  private vmId = "";
  private applied!: AppliedFilter;
  /** configured from Envoy resources (--xds, or registry + rules): where they come from */
  private feed: XdsFeed | null = null;
  /** registry + rules: the control plane's snapshot builder, in process */
  private control: ControlPlane | null = null;
  private resolveReady!: () => void;
  private readonly readyPromise = new Promise<void>((r) => (this.resolveReady = r));
  private readonly listeners = new Map<string, RunningListener>();
  private readonly downstreams = new Set<DownstreamConnection>();
  private readonly reports = new RouteReports();
  private readonly stats = new RequestStatsTable();
  private readonly deadlines: DeadlineQueue<PendingRequest>;
  readonly clusters: ClusterManager;
  private admin: AdminHttpServer | null = null;
  private watches: FileWatch[] = [];
  private draining = false;
  private started = false;
  private reloading: Promise<ReloadResult> | null = null;
  /** The last outcome of each source (config, rules, registry), good or bad. */
  readonly reloads = new ReloadStatus();
  /** The recent log lines the admin API shows at /logs. */
  private readonly recent = new RecentLog();
  /** The last revision given to a plugin configuration (see revised()). */
  private pluginRevision = 0;
  /** Filter log lines held while a VM starts (startingVm), or null. */
  private heldLogs: LogEntry[] | null = null;
  private readonly env: DownstreamEnv;
  private readonly logFn: (level: ProxyLogLevel, message: string) => void;
  private readonly minLevel: number;
  /** Bytes held across client connections (partial frames), capped by maxBufferedBytes. */
  private bufferedBytes = 0;
  /** Connections closed to bring bufferedBytes under the cap. */
  shedConnections = 0;

  private constructor(private readonly options: ProxyOptions) {
    this.minLevel = LEVELS[options.logLevel ?? "info"];
    const sink = options.log ?? ((level: ProxyLogLevel, m: string) => process.stderr.write(`[dubbo-mesh proxy] ${level}: ${m}\n`));
    this.logFn = sink;
    const now = performance.now.bind(performance);
    const config = () => this.config;
    this.deadlines = new DeadlineQueue<PendingRequest>((p) => p.cluster?.timeout(p), now);
    this.clusters = new ClusterManager({
      deadlines: this.deadlines,
      get maxFrameBytes() {
        return config()?.maxFrameBytes ?? 16 << 20;
      },
      now,
      log: (level, m) => this.log(level, m),
    });
    this.env = {
      clusters: this.clusters,
      reports: this.reports,
      stats: this.stats,
      get maxFrameBytes() {
        return config().maxFrameBytes;
      },
      get clientConnections() {
        return config().clientConnections;
      },
      now,
      log: (level, m) => this.log(level, m),
      closed: (d) => this.onDownstreamClosed(d),
      buffered: (d, delta) => this.onBuffered(delta),
    };
  }

  /** A line to the log sink at the configured level; /logs keeps info and above whatever the level (reload outcomes). */
  log(level: ProxyLogLevel, message: string): void {
    if (LEVELS[level] >= Math.min(this.minLevel, LEVELS.info)) this.recent.add("proxy", level, message);
    if (LEVELS[level] >= this.minLevel) this.logFn(level, message);
  }

  /** The most recent reload outcome of any source (config, rules, registry). */
  get lastReload(): ReloadResult | null {
    return this.reloads.mostRecent;
  }

  /** Load the configuration, start the filter, the listeners and the admin API. Throws on a bad configuration. */
  static async start(options: ProxyOptions): Promise<ProxyServer> {
    const proxy = new ProxyServer(options);
    try {
      await proxy.boot();
    } catch (err) {
      await proxy.close();
      throw err;
    }
    return proxy;
  }

  private async boot(): Promise<void> {
    const config = this.readConfig();
    this.config = config;
    this.applied = { wasmPath: config.filter.wasm, wasm: await this.readWasm(config), pluginConfig: "", sourceKey: this.sourceKey(config) };
    const source = config.filter.source;
    if (source.kind === "inline" && this.options.xds === undefined) {
      const pluginConfig = JSON.stringify(source.configuration);
      this.vm = await this.createVm(config, { name: config.filter.rootId, rootId: config.filter.rootId, vmId: config.filter.vmId, vmConfig: "", pluginConfig });
      this.applied.pluginConfig = pluginConfig;
      this.clusters.update(this.allClusters(config, []));
      await this.syncListeners(config);
    } else {
      this.feed = await this.startFeed(config);
    }
    const adminAt = config.admin;
    if (adminAt !== null) {
      const registry = createRegistry({
        routes: () => this.stats.records(),
        clusters: () => this.clusters.all(),
        filterMetrics: () => this.vm?.metrics() ?? [],
        downstreamConnections: () => this.downstreams.size,
        downstreamBuffered: () => this.bufferedBytes,
        downstreamShed: () => this.shedConnections,
      });
      this.admin = await startAdminServer(adminAt, {
        registry,
        clusters: () => this.clustersDump(),
        configDump: () => this.configDump(),
        ready: () => this.ready,
        logs: () => this.recent.list(),
      });
    }
    this.started = true;
    if (this.options.configPath !== undefined && this.options.watch !== false) this.watchFiles();
    if (this.options.xds === undefined) this.reloads.record("config", null);
    if (source.kind === "rules") {
      this.reloads.record("rules", null);
      this.reloads.record("registry", null);
    }
    this.checkReady();
  }

  /**
   * Serving with a whole configuration: started and not draining, and — configured over xDS — every resource
   * the Clusters and Listeners ask for held, the filter running and a listener bound.
   */
  get ready(): boolean {
    if (!this.started || this.draining) return false;
    return this.feed === null || (this.feed.complete && this.listeners.size > 0);
  }

  /** Configured over xDS from the disk cache, the control plane not reached yet. */
  get configuredFromCache(): boolean {
    const status = this.feed?.status;
    return status !== undefined && status.cacheLoaded !== null && status.lastConnected === null;
  }

  /** Resolves once the proxy is ready (at once when it is). */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  private checkReady(): void {
    if (this.ready) this.resolveReady();
  }

  private async readWasm(config: ProxyConfig): Promise<Buffer> {
    try {
      return await readFile(config.filter.wasm);
    } catch (err) {
      throw new ConfigError("filter.wasm", `cannot read ${config.filter.wasm}: ${(err as Error).message} (build it with npm run build:wasm)`);
    }
  }

  /** The filter VM, started with the proxy's module (this.applied.wasm) and the given plugin. */
  private createVm(config: ProxyConfig, filter: XdsFilter): Promise<WasmVm> {
    return this.startingVm(() => WasmVm.create({
      wasm: this.applied.wasm,
      pluginConfig: this.revised(filter.pluginConfig),
      vmConfig: filter.vmConfig,
      rootId: filter.rootId,
      vmId: filter.vmId,
      pluginName: filter.name || filter.rootId,
      logLevel: config.filter.logLevel,
      logger: (e) => this.filterLog(e),
      foreignFunctions:
        this.options.routeExtension === false
          ? {}
          : { [ROUTE_REQUEST_FUNCTION]: (args) => (this.reports.add(args) ? undefined : WasmResult.BadArgument) },
    }));
  }

  /**
   * The proxy configured from Envoy resources: from the control plane (--xds) or from the control plane's
   * snapshot built in process (registry + rules). The standalone mode returns once its first configuration is
   * applied (throws when there is none); --xds returns at once (the cache, if any, is applied).
   */
  private async startFeed(config: ProxyConfig): Promise<XdsFeed> {
    const target: XdsFeedTarget = {
      applyFilter: (filter) => this.applyXdsFilter(filter),
      applyConfig: (xds) => this.applyXdsConfig(xds),
      log: (level, m) => this.log(level, m),
    };
    const defaults = config.clusterDefaults;
    const xds = this.options.xds;
    if (xds !== undefined) {
      const feed = new XdsFeed(target, defaults, (validate) => {
        const client = new AdsClient({
          server: xds.server,
          node: { ...(xds.nodeId !== undefined ? { id: xds.nodeId } : {}), ...(xds.services !== undefined ? { services: xds.services } : {}) },
          validate,
          ...(xds.cacheDir !== undefined ? { cacheDir: xds.cacheDir } : {}),
        });
        client.on("cache-loaded", (e: { message: string }) => this.log("info", `xDS: ${e.message}`));
        client.on("connected", (e: { protocol: string }) => this.log("info", `xDS: connected to ${xds.server} (${e.protocol})`));
        client.on("disconnected", (e: { details: string; retryInMs: number }) =>
          this.log("warn", `xDS: stream to ${xds.server} ended (${e.details}); retrying in ${Math.round(e.retryInMs)} ms, serving the last good configuration`));
        client.on("warning", (e: { message: string }) => this.log("warn", `xDS: ${e.message}`));
        return client;
      });
      this.feed = feed;
      await feed.start();
      return feed;
    }
    const s = config.filter.source as Extract<FilterSource, { kind: "rules" }>;
    // the control plane's snapshot builder, in process and without its gRPC server: the proxy reads the
    // encoded resources from its snapshot, as an Envoy sidecar of `dubbo-mesh control` would receive them
    const control = await ControlPlane.start({
      registry: s.registry,
      rules: s.rules,
      mode: "dubbo-proxy",
      wasm: parseWasmSource(),
      xds: null,
      admin: null,
      mcp: false,
      clusters: generatedClusterSettings(defaults),
      log: (m) => this.log("warn", m),
      onSourceStatus: (source, status) => this.recordReload(source, status.ok ? null : status.message),
    });
    const feed = new XdsFeed(target, defaults, (validate) => new SnapshotSource(control.snapshot, validate));
    const previous = this.feed;
    this.feed = feed;
    try {
      await feed.start();
      await feed.settled();
      if (!feed.complete) {
        const nacks = Object.values(XdsType).map((t) => feed.status.lastNack(t)?.error).filter((e) => e !== undefined);
        throw new ConfigError("filter", `no usable configuration from the registry and rules: ${nacks.join("; ") || "incomplete"}`);
      }
    } catch (err) {
      this.feed = previous;
      await feed.close();
      await control.close();
      throw err;
    }
    void this.control?.close();
    this.control = control;
    return feed;
  }

  private async applyXdsFilter(filter: XdsFilter): Promise<void> {
    if (this.vm === undefined) {
      this.vm = await this.createVm(this.config, filter);
    } else {
      if (filter.vmId !== this.vmId) {
        throw new Error(`vm_id ${JSON.stringify(filter.vmId)} differs from the running VM's ${JSON.stringify(this.vmId)}; restart the proxy to change it`);
      }
      const vm = this.vm;
      await this.startingVm(() =>
        vm.reconfigure({ pluginConfig: this.revised(filter.pluginConfig), vmConfig: filter.vmConfig, rootId: filter.rootId, pluginName: filter.name || filter.rootId }),
      );
    }
    this.vmId = filter.vmId;
    this.applied = { ...this.applied, pluginConfig: filter.pluginConfig };
  }

  private async applyXdsConfig(xds: XdsProxyConfig): Promise<void> {
    if (this.draining) return;
    this.clusters.update(this.allClusters(this.config, xds.clusters));
    if (this.vm !== undefined) {
      if (this.options.xds !== undefined) {
        // the Listeners' addresses, as Envoy binds them; --listen moves the first
        this.config.listeners = xds.listeners.map((l, i) => ({
          name: l.name,
          address: i === 0 && this.options.listen !== undefined ? { ...this.options.listen } : l.address,
          defaultCluster: l.defaultCluster,
        }));
      }
      try {
        await this.syncListeners(this.config);
      } catch (err) {
        this.log("error", (err as Error).message);
      }
    }
    this.checkReady();
  }

  /** The filter's lines: all of them (at the filter's own level) in /logs, those at the proxy's level to the log. */
  private filterLog(e: LogEntry): void {
    if (this.heldLogs !== null) {
      this.heldLogs.push(e);
      return;
    }
    this.recent.add(e.source === "module" ? "filter" : "filter-host", logLevelName(e.level), e.message);
    const level: ProxyLogLevel = e.level >= 4 ? "error" : e.level === 3 ? "warn" : e.level === 2 ? "info" : "debug";
    if (LEVELS[level] >= this.minLevel) this.logFn(level, `filter: ${e.message}`);
  }

  /**
   * Runs a VM start (creation or reconfiguration) holding the filter's log lines until it is done. A start
   * that fails throws a WasmVmError whose message carries the module's warnings and errors, and the
   * proxy reports that error (the command line at start, the reload log line after): those lines are
   * then not printed a second and a third time. Lines below warn, and every line of a good start, follow.
   */
  private async startingVm<T>(start: () => Promise<T>): Promise<T> {
    if (this.heldLogs !== null) return start();
    const held: LogEntry[] = (this.heldLogs = []);
    let failed = false;
    try {
      return await start();
    } catch (err) {
      failed = err instanceof WasmVmError;
      throw err;
    } finally {
      this.heldLogs = null;
      for (const e of held) if (!(failed && e.level >= 3)) this.filterLog(e);
    }
  }

  // ---- configuration ----

  private readConfig(): ProxyConfig {
    let doc: unknown;
    let baseDir: string;
    if (this.options.xds !== undefined) {
      // configured over xDS: no file; listeners come from the Listeners received
      const config = parseProxyConfig({ admin: null }, resolve("."));
      config.listeners = [];
      config.admin = this.options.admin === undefined ? { ...DEFAULT_ADMIN } : this.options.admin;
      return config;
    }
    if (this.options.configPath !== undefined) {
      const path = resolve(this.options.configPath);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (err) {
        throw new ConfigError(path, `cannot read: ${(err as Error).message}`);
      }
      try {
        doc = parseYamlFile(text, path);
      } catch (err) {
        if (err instanceof YamlSyntaxError) throw new ConfigError(err.where, err.reason);
        throw err;
      }
      baseDir = dirname(path);
      if (doc === null || doc === undefined) doc = {};
    } else {
      doc = this.options.config ?? {};
      baseDir = resolve(this.options.baseDir ?? ".");
    }
    let config: ProxyConfig;
    try {
      config = parseProxyConfig(doc, baseDir);
    } catch (err) {
      if (err instanceof ConfigError && this.options.configPath !== undefined) {
        throw new ConfigError(`${this.options.configPath}: ${err.path}`, err.message.slice(err.path.length + 2));
      }
      throw err;
    }
    if (this.options.listen !== undefined && config.listeners.length > 0) config.listeners[0].address = { ...this.options.listen };
    if (this.options.admin !== undefined) config.admin = this.options.admin;
    return config;
  }

  private sourceKey(config: ProxyConfig): string {
    const s = config.filter.source;
    if (this.options.xds !== undefined) return "xds";
    return s.kind === "rules" ? `rules|${s.registry}|${s.rules}|${JSON.stringify(config.clusterDefaults)}` : "inline";
  }

  /** Explicit clusters of the configuration file win over those of the Envoy resources of the same name. */
  private allClusters(config: ProxyConfig, fromXds: ClusterConfig[]): ClusterConfig[] {
    const explicit = new Set(config.clusters.map((c) => c.name));
    return [...fromXds.filter((c) => !explicit.has(c.name)), ...config.clusters];
  }

  private watchFiles(): void {
    for (const w of this.watches) w.close();
    const paths = new Set([resolve(this.options.configPath as string), this.config.filter.wasm]);
    this.watches = [...paths].map((p) => watchFile(p, () => void this.reload()));
  }

  /**
   * Re-read the configuration file (and the .wasm) and apply what changed. A configuration that does not
   * validate, a module that does not load or a plugin configuration the filter refuses changes nothing.
   */
  reload(): Promise<ReloadResult> {
    // Serialize reloads: a burst of edits applies the last state once the current reload is done.
    const run = async (): Promise<ReloadResult> => {
      try {
        await this.applyReload();
        return this.recordReload("config", null);
      } catch (err) {
        return this.recordReload("config", (err as Error).message);
      }
    };
    const next = (this.reloading ?? Promise.resolve()).then(run, run);
    this.reloading = next;
    return next;
  }

  /**
   * What SIGHUP does: re-read the configuration file (and the .wasm), then the rules file and a `file:` registry.
   * Each source's outcome is in `reloads` (and /config_dump) and logged; a bad one keeps its last good state.
   */
  async reloadAll(): Promise<Partial<Record<ReloadSource, ReloadResult>>> {
    if (this.options.configPath !== undefined) await this.reload();
    await this.control?.reload();
    return this.reloads.toJSON();
  }

  /** Record a source's reload outcome and log it. */
  private recordReload(source: ReloadSource, error: string | null): ReloadResult {
    const what = source === "config" ? "configuration" : source;
    if (error === null) this.log("info", `${what} reloaded`);
    else this.log("error", `${what} reload failed, keeping the last good ${what}: ${error}`);
    return this.reloads.record(source, error);
  }

  private async applyReload(): Promise<void> {
    if (this.draining) throw new Error("the proxy is draining");
    if (this.options.xds !== undefined) throw new Error("configured over xDS: there is no file to reload");
    const config = this.readConfig();
    const wasm = await this.readWasm(config);
    const wasmChanged = !wasm.equals(this.applied.wasm);
    const source = config.filter.source;
    const sourceKey = this.sourceKey(config);
    const previous = { config: this.config, applied: this.applied };
    if (source.kind === "inline") {
      const pluginConfig = JSON.stringify(source.configuration);
      await this.syncListeners(config);
      try {
        if (this.vm === undefined) {
          this.applied = { ...this.applied, wasm };
          this.vm = await this.createVm(config, { name: config.filter.rootId, rootId: config.filter.rootId, vmId: config.filter.vmId, vmConfig: "", pluginConfig });
        } else if (wasmChanged || pluginConfig !== this.applied.pluginConfig || this.feed !== null) {
          const plugin = this.feed !== null ? { rootId: config.filter.rootId, pluginName: config.filter.rootId, vmConfig: "" } : {};
          const vm = this.vm;
          await this.startingVm(() => vm.reconfigure({ ...(wasmChanged ? { wasm } : {}), ...plugin, pluginConfig: this.revised(pluginConfig) }));
        }
      } catch (err) {
        this.applied = previous.applied;
        await this.syncListeners(this.config).catch(() => undefined); // back to the listeners in force
        throw err;
      }
      this.applied = { wasmPath: config.filter.wasm, wasm, pluginConfig, sourceKey };
      this.config = config;
      this.clusters.update(this.allClusters(config, []));
      const feed = this.feed;
      this.feed = null;
      await feed?.close();
      void this.control?.close();
      this.control = null;
    } else {
      const vm = this.vm;
      if (wasmChanged && vm !== undefined) await this.startingVm(() => vm.reconfigure({ wasm, pluginConfig: this.revised(this.applied.pluginConfig) }));
      this.applied = { ...this.applied, wasmPath: config.filter.wasm, wasm };
      this.config = config;
      if (sourceKey !== previous.applied.sourceKey) {
        const old = this.feed;
        try {
          this.feed = await this.startFeed(config);
        } catch (err) {
          this.config = previous.config;
          this.applied = { ...this.applied, sourceKey: previous.applied.sourceKey };
          throw err;
        }
        this.applied = { ...this.applied, sourceKey };
        await old?.close();
        this.reloads.record("rules", null);
        this.reloads.record("registry", null);
      } else {
        await this.syncListeners(config);
        this.clusters.update(this.allClusters(config, this.feed?.config?.clusters ?? []));
      }
    }
    if (config.filter.wasm !== previous.applied.wasmPath && this.options.watch !== false && this.options.configPath !== undefined) this.watchFiles();
  }

  /**
   * The plugin configuration with a `revision` of its own, unless it has one. Envoy (and the host) hand a
   * configuration identical to one still held by open connections its old root context back without calling
   * proxy_on_configure, so an edit back to an earlier configuration (a rollback) would not reach established
   * connections; a fresh revision makes every applied configuration distinct (docs/filter.md).
   */
  private revised(pluginConfig: string): string {
    let doc: unknown;
    try {
      doc = JSON.parse(pluginConfig);
    } catch {
      return pluginConfig; // not JSON: the filter says what is wrong with it
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc) || "revision" in doc) return pluginConfig;
    return JSON.stringify({ ...doc, revision: String(++this.pluginRevision) });
  }

  // ---- listeners ----

  private async syncListeners(config: ProxyConfig): Promise<void> {
    const wanted = new Map(config.listeners.map((l) => [`${l.name}|${formatHostPort(l.address)}`, l]));
    const started: RunningListener[] = [];
    try {
      for (const [key, cfg] of wanted) {
        const running = this.listeners.get(key);
        if (running) {
          running.cfg = cfg;
          continue;
        }
        const l = await this.listen(cfg);
        started.push(l);
        this.listeners.set(key, l);
      }
    } catch (err) {
      for (const l of started) {
        l.server.close();
        for (const [k, v] of this.listeners) if (v === l) this.listeners.delete(k);
      }
      throw err;
    }
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key)) {
        l.server.close();
        this.listeners.delete(key);
      }
    }
  }

  private listen(cfg: ListenerConfig): Promise<RunningListener> {
    const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(entry, socket));
    const entry: RunningListener = { cfg, server, address: cfg.address };
    return new Promise((resolvePromise, reject) => {
      server.once("error", (err) =>
        reject(new Error(`listener ${cfg.name}: cannot listen on ${formatHostPort(cfg.address)}: ${err.message}`)),
      );
      server.listen(cfg.address.port, cfg.address.host, () => {
        server.removeAllListeners("error");
        server.on("error", (err) => this.log("error", `listener ${cfg.name}: ${err.message}`));
        const a = server.address() as AddressInfo;
        entry.address = { host: a.address, port: a.port };
        this.log("info", `listener ${cfg.name} on ${formatHostPort(entry.address)}`);
        resolvePromise(entry);
      });
    });
  }

  private accept(l: RunningListener, socket: Socket): void {
    if (this.draining || this.vm === undefined) {
      socket.destroy();
      return;
    }
    const d = new DownstreamConnection(socket, this.env, l.cfg.defaultCluster, this.options.filterResponses !== false);
    this.downstreams.add(d);
    let filter;
    try {
      filter = this.vm.newConnection({
        source: `${socket.remoteAddress}:${socket.remotePort}`,
        destination: `${socket.localAddress}:${socket.localPort}`,
        tag: d,
        onClose: () => d.closedByHost(),
        onResume: (forwarded) => d.resumed(forwarded),
      });
    } catch (err) {
      this.log("error", `cannot start the filter for a new connection: ${(err as Error).message}`);
      this.downstreams.delete(d);
      socket.destroy();
      return;
    }
    d.attach(filter);
  }

  private onDownstreamClosed(d: DownstreamConnection): void {
    this.downstreams.delete(d);
  }

  /**
   * The bytes held across client connections changed. Over maxBufferedBytes, the connections holding the
   * most (the largest partial frames) are closed until the sum is under the cap again.
   */
  private onBuffered(delta: number): void {
    this.bufferedBytes += delta;
    const cap = this.config.maxBufferedBytes;
    if (delta <= 0 || this.bufferedBytes <= cap) return;
    const largest = [...this.downstreams].filter((d) => d.held > 0).sort((a, b) => b.held - a.held);
    for (const d of largest) {
      if (this.bufferedBytes <= cap) break;
      this.shedConnections++;
      this.log("warn", `downstream ${d.socket.remoteAddress}:${d.socket.remotePort}: holds ${d.held} bytes of an unfinished frame while client connections hold ${this.bufferedBytes} (maxBufferedBytes ${cap}); closing it`);
      d.shed();
    }
  }

  /** Bytes of client streams held across connections now. */
  get downstreamBufferedBytes(): number {
    return this.bufferedBytes;
  }

  // ---- introspection ----

  /** Where each listener listens (ports resolved when configured as 0). */
  get listenerAddresses(): HostPort[] {
    return [...this.listeners.values()].map((l) => l.address);
  }

  get adminAddress(): HostPort | null {
    return this.admin?.address ?? null;
  }

  get filterVm(): WasmVm {
    if (this.vm === undefined) throw new Error("the filter VM is not started yet (no plugin configuration received)");
    return this.vm;
  }

  get downstreamCount(): number {
    return this.downstreams.size;
  }

  clustersDump(): unknown {
    return this.clusters.all().map((c) => ({
      name: c.name,
      lbPolicy: c.cfg.lbPolicy,
      activeRequests: c.active,
      pendingRequests: c.pending,
      counters: { ...c.counters },
      circuitBreakers: c.cfg.circuitBreakers,
      outlierDetection: c.cfg.outlierDetection,
      endpoints: c.endpoints.map((e) => ({
        address: e.address,
        weight: e.weight,
        labels: e.labels,
        healthy: !e.ejected,
        activeRequests: e.active,
        requests: e.requests,
        failures: e.failures,
        consecutiveFailures: e.consecutiveFailures,
        ejections: e.ejections,
        connections: e.pool.conns.length,
      })),
    }));
  }

  configDump(): unknown {
    const { filter, ...rest } = this.config;
    const source = filter.source;
    return {
      ...rest,
      listeners: [...this.listeners.values()].map((l) => ({ ...l.cfg, address: formatHostPort(l.address) })),
      filter: {
        wasm: filter.wasm,
        rootId: filter.rootId,
        vmId: filter.vmId,
        logLevel: filter.logLevel,
        source: this.options.xds !== undefined ? { xds: this.options.xds.server } : source.kind === "rules" ? { registry: source.registry, rules: source.rules } : "inline",
        pluginConfiguration: parseOrText(this.applied.pluginConfig),
        vmGeneration: this.vm?.generation ?? null,
      },
      ...(this.feed !== null ? { xds: this.feed.status.toJSON() } : {}),
      clusters: this.clusters.all().map((c) => c.cfg),
      reloads: this.reloads.toJSON(),
      lastReload: this.lastReload,
    };
  }

  // ---- shutdown ----

  /**
   * Graceful drain, as a Dubbo server shuts down: stop accepting, send Dubbo's readonly event on every client
   * connection, keep serving them, and close each once nothing is in flight and it was quiet for
   * `clientConnections.drainQuietMs`; after `timeoutMs` whatever remains is closed. Then everything stops.
   */
  async drain(timeoutMs = this.config?.drainTimeoutMs ?? 10_000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    for (const l of this.listeners.values()) l.server.close();
    const clients = this.downstreams.size;
    for (const d of [...this.downstreams]) d.drain();
    if (clients > 0) {
      this.log("info", `draining: readonly event sent on ${clients} client connection(s); each closes once quiet with nothing in flight (at most ${timeoutMs} ms)`);
    }
    const deadline = Date.now() + timeoutMs;
    while (this.downstreams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.downstreams.size > 0) {
      const inflight = [...this.downstreams].reduce((n, d) => n + d.inflight, 0);
      this.log("warn", `drain timeout after ${timeoutMs} ms: closing ${this.downstreams.size} client connection(s) with ${inflight} request(s) in flight`);
    }
    await this.close();
  }

  /** Stop at once: every connection is closed. */
  async close(): Promise<void> {
    this.draining = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
    for (const d of [...this.downstreams]) d.destroy();
    this.downstreams.clear();
    this.clusters.destroy();
    this.deadlines.close();
    const feed = this.feed;
    this.feed = null;
    await feed?.close();
    void this.control?.close();
    this.control = null;
    if (this.admin) await this.admin.close();
    this.admin = null;
    try {
      this.vm?.close();
    } catch {
      /* the VM may have failed already */
    }
  }
}
