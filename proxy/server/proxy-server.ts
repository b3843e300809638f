/**
 * The fallback proxy: listeners whose connections run through the filter .wasm in the TypeScript
 * proxy-wasm host, a cluster manager that sends each request where the filter routed it, and the admin API.
 *
 *   accept → vm.newConnection → DownstreamConnection ── downstreamData → filter (route_request reports)
 *            → frames → Cluster.dispatch → pool → UpstreamConnection ── response → client (original id)
 *
 * Configuration comes from a YAML file (config.ts), followed while the proxy runs: a change that validates
 * is applied (clusters updated in place, the filter reconfigured for new connections, listeners added or
 * removed); one that does not is reported and changes nothing. Established connections stay on the filter
 * VM they started with. `drain()` stops accepting and lets requests in flight finish (bounded).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { WasmResult, WasmVm, WasmVmError, type LogEntry, logLevelName } from "../host/index.js";
import { watchFile, type FileWatch } from "../../control/util/watch-file.js";
import { YamlSyntaxError, parseYamlFile } from "../../common/yaml-file.js";
import { AdminServer } from "./admin-server.js";
import { ClusterManager } from "./cluster-manager.js";
import {
  type ClusterConfig, type HostPort, type ListenerConfig, type ProxyConfig, ConfigError, formatHostPort, parseProxyConfig,
} from "./config.js";
import { DeadlineQueue } from "./deadline-queue.js";
import { DownstreamConnection, type DownstreamEnv } from "./downstream-connection.js";
import { MeshSource, type MeshSnapshot } from "./mesh-source.js";
import type { PendingRequest } from "./pending-request.js";
import { createRegistry } from "./prometheus.js";
import { RequestStatsTable } from "./request-stats.js";
import { ROUTE_REQUEST_FUNCTION, RouteReports } from "./route-reports.js";

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
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
  at: string;
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
  private vm!: WasmVm;
  private applied!: AppliedFilter;
  private mesh: MeshSource | null = null;
  private readonly listeners = new Map<string, RunningListener>();
  private readonly downstreams = new Set<DownstreamConnection>();
  private readonly reports = new RouteReports();
  private readonly stats = new RequestStatsTable();
  private readonly deadlines: DeadlineQueue<PendingRequest>;
  readonly clusters: ClusterManager;
  private admin: AdminServer | null = null;
  private watches: FileWatch[] = [];
  private draining = false;
  private started = false;
  private reloading: Promise<ReloadResult> | null = null;
  /** Filter log lines held while a VM starts (startingVm), or null. */
  private heldLogs: LogEntry[] | null = null;
  lastReload: ReloadResult | null = null;
  private readonly env: DownstreamEnv;
  private readonly logFn: (level: ProxyLogLevel, message: string) => void;
  private readonly minLevel: number;

  private constructor(private readonly options: ProxyOptions) {
    this.minLevel = LEVELS[options.logLevel ?? "info"];
    const sink = options.log ?? ((level: ProxyLogLevel, m: string) => process.stderr.write(`[dubbo-mesh proxy] ${level}: ${m}\n`));
    this.logFn = sink;
    const now = performance.now.bind(performance);
    const self = this;
    this.deadlines = new DeadlineQueue<PendingRequest>((p) => p.cluster?.timeout(p), now);
    this.clusters = new ClusterManager({
      deadlines: this.deadlines,
      get maxFrameBytes() {
        return self.config?.maxFrameBytes ?? 16 << 20;
      },
      now,
      log: (level, m) => this.log(level, m),
    });
    this.env = {
      clusters: this.clusters,
      reports: this.reports,
      stats: this.stats,
      get maxFrameBytes() {
        return self.config.maxFrameBytes;
      },
      now,
      log: (level, m) => this.log(level, m),
      closed: (d) => this.onDownstreamClosed(d),
    };
  }

  log(level: ProxyLogLevel, message: string): void {
    if (LEVELS[level] >= this.minLevel) this.logFn(level, message);
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
    const mesh = await this.startMesh(config);
    this.mesh = mesh;
    const filter = await this.resolveFilter(config, mesh?.snapshot ?? null);
    this.vm = await this.startingVm(() => WasmVm.create({
      wasm: filter.wasm,
      pluginConfig: filter.pluginConfig,
      rootId: config.filter.rootId,
      vmId: config.filter.vmId,
      pluginName: config.filter.rootId,
      logLevel: config.filter.logLevel,
      logger: (e) => this.filterLog(e),
      foreignFunctions:
        this.options.routeExtension === false
          ? {}
          : { [ROUTE_REQUEST_FUNCTION]: (args) => (this.reports.add(args) ? undefined : WasmResult.BadArgument) },
    }));
    this.applied = filter;
    this.config = config;
    this.clusters.update(this.allClusters(config, mesh?.snapshot ?? null));
    await this.syncListeners(config);
    const adminAt = config.admin;
    if (adminAt !== null) {
      const registry = createRegistry({
        routes: () => this.stats.records(),
        clusters: () => this.clusters.all(),
        filterMetrics: () => this.vm.metrics(),
        downstreamConnections: () => this.downstreams.size,
      });
      this.admin = await AdminServer.start(adminAt, {
        registry,
        clusters: () => this.clustersDump(),
        configDump: () => this.configDump(),
        ready: () => this.started && !this.draining,
        logs: () => this.vm.logs().slice(-200).map((e) => ({ level: logLevelName(e.level), source: e.source, message: e.message })),
      });
    }
    this.started = true;
    if (this.options.configPath !== undefined && this.options.watch !== false) this.watchFiles();
    this.lastReload = { ok: true, at: new Date().toISOString() };
  }

  private filterLog(e: LogEntry): void {
    if (this.heldLogs !== null) {
      this.heldLogs.push(e);
      return;
    }
    const level: ProxyLogLevel = e.level >= 4 ? "error" : e.level === 3 ? "warn" : e.level === 2 ? "info" : "debug";
    this.log(level, `filter: ${e.message}`);
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
    if (this.options.listen !== undefined) config.listeners[0].address = { ...this.options.listen };
    if (this.options.admin !== undefined) config.admin = this.options.admin;
    return config;
  }

  private sourceKey(config: ProxyConfig): string {
    const s = config.filter.source;
    return s.kind === "rules" ? `rules|${s.registry}|${s.rules}|${JSON.stringify(config.clusterDefaults)}` : "inline";
  }

  private async startMesh(config: ProxyConfig): Promise<MeshSource | null> {
    const s = config.filter.source;
    if (s.kind !== "rules") return null;
    return MeshSource.start(s.registry, s.rules, config.clusterDefaults, (snap) => void this.meshChanged(snap), (m) => this.log("warn", m));
  }

  private async resolveFilter(config: ProxyConfig, snapshot: MeshSnapshot | null): Promise<AppliedFilter> {
    let wasm: Buffer;
    try {
      wasm = await readFile(config.filter.wasm);
    } catch (err) {
      throw new ConfigError("filter.wasm", `cannot read ${config.filter.wasm}: ${(err as Error).message} (build it with npm run build:wasm)`);
    }
    const s = config.filter.source;
    const plugin = s.kind === "inline" ? s.configuration : (snapshot as MeshSnapshot).pluginConfig;
    return { wasmPath: config.filter.wasm, wasm, pluginConfig: JSON.stringify(plugin), sourceKey: this.sourceKey(config) };
  }

  private allClusters(config: ProxyConfig, snapshot: MeshSnapshot | null): ClusterConfig[] {
    const explicit = new Set(config.clusters.map((c) => c.name));
    const generated = (snapshot?.clusters ?? []).filter((c) => !explicit.has(c.name));
    return [...generated, ...config.clusters];
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
      const at = new Date().toISOString();
      try {
        await this.applyReload();
        this.lastReload = { ok: true, at };
        this.log("info", "configuration reloaded");
      } catch (err) {
        this.lastReload = { ok: false, error: (err as Error).message, at };
        this.log("error", `configuration reload failed, keeping the last good configuration: ${(err as Error).message}`);
      }
      return this.lastReload;
    };
    const next = (this.reloading ?? Promise.resolve()).then(run, run);
    this.reloading = next;
    return next;
  }

  private async applyReload(): Promise<void> {
    if (this.draining) throw new Error("the proxy is draining");
    const config = this.readConfig();
    let mesh = this.mesh;
    const newSource = this.sourceKey(config) !== this.applied.sourceKey;
    if (newSource) mesh = await this.startMesh(config);
    try {
      const filter = await this.resolveFilter(config, mesh?.snapshot ?? null);
      const wasmChanged = !filter.wasm.equals(this.applied.wasm);
      await this.syncListeners(config);
      if (wasmChanged || filter.pluginConfig !== this.applied.pluginConfig) {
        try {
          await this.startingVm(() =>
            this.vm.reconfigure({
              ...(wasmChanged ? { wasm: filter.wasm } : {}),
              pluginConfig: filter.pluginConfig,
            }),
          );
        } catch (err) {
          await this.syncListeners(this.config).catch(() => undefined); // back to the listeners in force
          throw err;
        }
      }
      this.clusters.update(this.allClusters(config, mesh?.snapshot ?? null));
      if (newSource) {
        this.mesh?.close();
        this.mesh = mesh;
      }
      const wasmPathChanged = filter.wasmPath !== this.applied.wasmPath;
      this.applied = filter;
      this.config = config;
      if (wasmPathChanged && this.options.watch !== false && this.options.configPath !== undefined) this.watchFiles();
    } catch (err) {
      if (newSource) mesh?.close();
      throw err;
    }
  }

  private async meshChanged(snapshot: MeshSnapshot): Promise<void> {
    const pluginConfig = JSON.stringify(snapshot.pluginConfig);
    try {
      if (pluginConfig !== this.applied.pluginConfig) {
        await this.startingVm(() => this.vm.reconfigure({ pluginConfig }));
        this.applied = { ...this.applied, pluginConfig };
      }
      this.clusters.update(this.allClusters(this.config, snapshot));
      this.log("info", "registry or rules changed: filter and clusters updated");
    } catch (err) {
      this.log("error", `registry or rules change not applied: ${(err as Error).message}`);
    }
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
    if (this.draining) {
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

  // ---- introspection ----

  /** Where each listener listens (ports resolved when configured as 0). */
  get listenerAddresses(): HostPort[] {
    return [...this.listeners.values()].map((l) => l.address);
  }

  get adminAddress(): HostPort | null {
    return this.admin?.address ?? null;
  }

  get filterVm(): WasmVm {
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
        source: source.kind === "rules" ? { registry: source.registry, rules: source.rules } : "inline",
        pluginConfiguration: JSON.parse(this.applied.pluginConfig) as unknown,
        vmGeneration: this.vm.generation,
      },
      clusters: this.clusters.all().map((c) => c.cfg),
      lastReload: this.lastReload,
    };
  }

  // ---- shutdown ----

  /**
   * Graceful drain: stop accepting, answer what is in flight, close client connections as they go idle;
   * after `timeoutMs` whatever remains is closed. Then everything stops.
   */
  async drain(timeoutMs = this.config?.drainTimeoutMs ?? 10_000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    for (const l of this.listeners.values()) l.server.close();
    for (const d of [...this.downstreams]) d.drain();
    const deadline = Date.now() + timeoutMs;
    while (this.downstreams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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
    this.mesh?.close();
    this.mesh = null;
    if (this.admin) await this.admin.close();
    this.admin = null;
    try {
      this.vm?.close();
    } catch {
      /* the VM may have failed already */
    }
  }
}
