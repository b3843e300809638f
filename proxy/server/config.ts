/**
 * The proxy's configuration file (`dubbo-mesh proxy --config FILE`), documented in docs/proxy.md.
 * `parseProxyConfig` takes the parsed YAML as `unknown` and returns a fully defaulted, validated
 * `ProxyConfig`, or throws a `ConfigError` naming the path of the bad field and the expected shape.
 */
import { isAbsolute, resolve } from "node:path";
import { filterWasmPath } from "../../common/paths.js";
import { LB_POLICIES, type LbPolicy } from "./load-balancer.js";

export class ConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "ConfigError";
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export interface ListenerConfig {
  name: string;
  address: HostPort;
  /** Like tcp_proxy's `cluster`: used when the filter reports no destination at all for the connection. */
  defaultCluster: string;
}

export interface EndpointConfig {
  address: HostPort;
  weight: number;
  labels: Record<string, string>;
}

export interface CircuitBreakersConfig {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
}

export interface OutlierDetectionConfig {
  consecutiveErrors: number;
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export interface ClusterConfig {
  name: string;
  lbPolicy: LbPolicy;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  connectionsPerEndpoint: number;
  /** How often a request whose connection could not be established is tried on another endpoint. */
  connectRetries: number;
  circuitBreakers: CircuitBreakersConfig;
  outlierDetection: OutlierDetectionConfig;
  endpoints: EndpointConfig[];
}

export type FilterSource =
  | { kind: "inline"; configuration: Record<string, unknown> }
  | { kind: "rules"; registry: string; rules: string };

export interface FilterConfig {
  wasm: string;
  rootId: string;
  vmId: string;
  logLevel: LogLevelName;
  source: FilterSource;
}

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error" | "critical";
const LOG_LEVELS: readonly LogLevelName[] = ["trace", "debug", "info", "warn", "error", "critical"];

/** Client (downstream) connections: idle timeout, TCP keepalive, and how a drain closes them. */
export interface ClientConnectionsConfig {
  /** Close a connection with nothing in flight and no bytes either way (heartbeats count) for this long; 0: never. */
  idleTimeoutMs: number;
  /** TCP keepalive: idle time before the first probe; 0: off. */
  tcpKeepaliveMs: number;
  /** While draining, close a connection once nothing is in flight and it was quiet this long. */
  drainQuietMs: number;
}

export const CLIENT_CONNECTION_DEFAULTS: ClientConnectionsConfig = { idleTimeoutMs: 180_000, tcpKeepaliveMs: 60_000, drainQuietMs: 1000 };

/** Settings of a cluster other than its name and endpoints (the defaults of clusters built from a registry). */
export type ClusterSettings = Omit<ClusterConfig, "name" | "endpoints">;

export interface ProxyConfig {
  listeners: ListenerConfig[];
  /** Settings for clusters the proxy builds from the registry (filter.registry + filter.rules). */
  clusterDefaults: ClusterSettings;
  admin: HostPort | null;
  filter: FilterConfig;
  clusters: ClusterConfig[];
  /** Longest frame accepted from a provider (responses), bytes. */
  maxFrameBytes: number;
  /** Longest SIGTERM drain, ms. */
  drainTimeoutMs: number;
  clientConnections: ClientConnectionsConfig;
  /**
   * Most bytes of client streams held across all connections (partial frames the filter waits for); over it
   * the connections holding the most are closed (shed).
   */
  maxBufferedBytes: number;
}

export const DEFAULT_MAX_BUFFERED_BYTES = 128 << 20;

export const DEFAULT_LISTEN: HostPort = { host: "127.0.0.1", port: 20880 };
export const DEFAULT_ADMIN: HostPort = { host: "127.0.0.1", port: 9901 };

export const CLUSTER_DEFAULTS: ClusterSettings = {
  lbPolicy: "ROUND_ROBIN",
  connectTimeoutMs: 1000,
  requestTimeoutMs: 3000,
  connectionsPerEndpoint: 1,
  connectRetries: 1,
  circuitBreakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 8192 },
  outlierDetection: { consecutiveErrors: 5, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 },
};

/** Parse "host:port" (IPv6 as "[::1]:port"). */
export function parseHostPort(value: unknown, path: string): HostPort {
  if (typeof value !== "string") throw new ConfigError(path, `expected "host:port", got ${show(value)}`);
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : -1;
  if (!m || port > 65535) throw new ConfigError(path, `expected "host:port" with a port 0-65535, got ${show(value)}`);
  return { host: m[1] ?? m[2], port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Validate a parsed configuration document. `baseDir` resolves relative file paths (the config file's folder).
 */
export function parseProxyConfig(doc: unknown, baseDir: string): ProxyConfig {
  const root = record(doc, "(document)", [
    "listeners", "admin", "filter", "clusterDefaults", "clusters", "maxFrameBytes", "drainTimeoutMs", "clientConnections",
    "maxBufferedBytes",
  ]);
  const listeners = optionalArray(root.listeners, "listeners").map((l, i) => parseListener(l, `listeners[${i}]`));
  if (listeners.length === 0) listeners.push({ name: "dubbo", address: { ...DEFAULT_LISTEN }, defaultCluster: "" });
  unique(listeners.map((l) => l.name), "listeners", "name");
  unique(listeners.map((l) => formatHostPort(l.address)), "listeners", "address");

  const admin = root.admin === undefined ? { ...DEFAULT_ADMIN } : root.admin === null || root.admin === false ? null : parseAdmin(root.admin);
  const filter = parseFilter(root.filter ?? {}, "filter", baseDir);
  const defaultsDoc = record(root.clusterDefaults ?? {}, "clusterDefaults", null);
  if ("name" in defaultsDoc || "endpoints" in defaultsDoc) {
    throw new ConfigError("clusterDefaults", "holds settings only; `name` and `endpoints` belong to entries of `clusters`");
  }
  const { name: _n, endpoints: _e, ...clusterDefaults } = parseCluster({ ...defaultsDoc, name: "defaults" }, "clusterDefaults", CLUSTER_DEFAULTS);
  const clusters = optionalArray(root.clusters, "clusters").map((c, i) => parseCluster(c, `clusters[${i}]`, clusterDefaults));
  unique(clusters.map((c) => c.name), "clusters", "name");
  for (const l of listeners) {
    if (l.defaultCluster !== "" && !clusters.some((c) => c.name === l.defaultCluster)) {
      const i = listeners.indexOf(l);
      throw new ConfigError(`listeners[${i}].defaultCluster`, `no cluster named ${show(l.defaultCluster)}`);
    }
  }
  return {
    listeners,
    clusterDefaults,
    admin,
    filter,
    clusters,
    maxFrameBytes: int(root.maxFrameBytes, "maxFrameBytes", 16 << 20, 16, 1 << 30),
    drainTimeoutMs: int(root.drainTimeoutMs, "drainTimeoutMs", 10_000, 0, 3_600_000),
    clientConnections: parseClientConnections(root.clientConnections ?? {}, "clientConnections"),
    maxBufferedBytes: int(root.maxBufferedBytes, "maxBufferedBytes", DEFAULT_MAX_BUFFERED_BYTES, 1 << 16, 2 ** 40),
  };
}

function parseClientConnections(v: unknown, path: string): ClientConnectionsConfig {
  const r = record(v, path, ["idleTimeoutMs", "tcpKeepaliveMs", "drainQuietMs"]);
  const d = CLIENT_CONNECTION_DEFAULTS;
  return {
    idleTimeoutMs: int(r.idleTimeoutMs, `${path}.idleTimeoutMs`, d.idleTimeoutMs, 0, 86_400_000),
    tcpKeepaliveMs: int(r.tcpKeepaliveMs, `${path}.tcpKeepaliveMs`, d.tcpKeepaliveMs, 0, 86_400_000),
    drainQuietMs: int(r.drainQuietMs, `${path}.drainQuietMs`, d.drainQuietMs, 1, 600_000),
  };
}

function parseAdmin(v: unknown): HostPort {
  if (typeof v === "string") return parseHostPort(v, "admin");
  const r = record(v, "admin", ["address"]);
  return parseHostPort(r.address, "admin.address");
}

function parseListener(v: unknown, path: string): ListenerConfig {
  const r = record(v, path, ["name", "address", "defaultCluster"]);
  return {
    name: str(r.name, `${path}.name`, path.replace(/\W/g, "_")),
    address: r.address === undefined ? { ...DEFAULT_LISTEN } : parseHostPort(r.address, `${path}.address`),
    defaultCluster: str(r.defaultCluster, `${path}.defaultCluster`, ""),
  };
}

function parseFilter(v: unknown, path: string, baseDir: string): FilterConfig {
  const r = record(v, path, ["wasm", "rootId", "vmId", "logLevel", "configuration", "registry", "rules"]);
  const wasmRaw = str(r.wasm, `${path}.wasm`, "");
  const logLevel = str(r.logLevel, `${path}.logLevel`, "info");
  if (!LOG_LEVELS.includes(logLevel as LogLevelName)) {
    throw new ConfigError(`${path}.logLevel`, `expected one of ${LOG_LEVELS.join(", ")}, got ${show(logLevel)}`);
  }
  let source: FilterSource;
  const hasRules = r.registry !== undefined || r.rules !== undefined;
  if (r.configuration !== undefined && hasRules) {
    throw new ConfigError(path, "give either `configuration` (inline plugin configuration) or `registry` + `rules`, not both");
  }
  if (hasRules) {
    const registry = str(r.registry, `${path}.registry`);
    if (!/^[a-z][a-z0-9+.-]*:/.test(registry)) {
      throw new ConfigError(`${path}.registry`, `expected a registry URI such as file:registry.yaml or zookeeper://127.0.0.1:2181, got ${show(registry)}`);
    }
    const fileUri = registry.startsWith("file:") ? `file:${absolute(registry.slice(5), baseDir)}` : registry;
    source = { kind: "rules", registry: fileUri, rules: absolute(str(r.rules, `${path}.rules`), baseDir) };
  } else {
    const configuration = r.configuration === undefined ? { version: 1, services: [] } : r.configuration;
    if (typeof configuration !== "object" || configuration === null || Array.isArray(configuration)) {
      throw new ConfigError(`${path}.configuration`, `expected the plugin configuration as an object ({version: 1, services: [...]}), got ${show(configuration)}`);
    }
    source = { kind: "inline", configuration: configuration as Record<string, unknown> };
  }
  return {
    wasm: wasmRaw === "" ? filterWasmPath : absolute(wasmRaw, baseDir),
    rootId: str(r.rootId, `${path}.rootId`, "dubbo_mesh"),
    vmId: str(r.vmId, `${path}.vmId`, "dubbo_mesh"),
    logLevel: logLevel as LogLevelName,
    source,
  };
}

function parseCluster(v: unknown, path: string, d: ClusterSettings): ClusterConfig {
  const r = record(v, path, [
    "name", "lbPolicy", "connectTimeoutMs", "requestTimeoutMs", "connectionsPerEndpoint", "connectRetries",
    "circuitBreakers", "outlierDetection", "endpoints",
  ]);
  const lbPolicy = str(r.lbPolicy, `${path}.lbPolicy`, d.lbPolicy);
  if (!LB_POLICIES.includes(lbPolicy as LbPolicy)) {
    throw new ConfigError(`${path}.lbPolicy`, `expected one of ${LB_POLICIES.join(", ")}, got ${show(lbPolicy)}`);
  }
  const cb = record(r.circuitBreakers ?? {}, `${path}.circuitBreakers`, ["maxConnections", "maxPendingRequests", "maxRequests"]);
  const od = record(r.outlierDetection ?? {}, `${path}.outlierDetection`, [
    "consecutiveErrors", "baseEjectionTimeMs", "maxEjectionTimeMs", "maxEjectionPercent",
  ]);
  const endpoints = optionalArray(r.endpoints, `${path}.endpoints`).map((e, i) => parseEndpoint(e, `${path}.endpoints[${i}]`));
  unique(endpoints.map((e) => formatHostPort(e.address)), `${path}.endpoints`, "address");
  return {
    name: str(r.name, `${path}.name`),
    lbPolicy: lbPolicy as LbPolicy,
    connectTimeoutMs: int(r.connectTimeoutMs, `${path}.connectTimeoutMs`, d.connectTimeoutMs, 1, 600_000),
    requestTimeoutMs: int(r.requestTimeoutMs, `${path}.requestTimeoutMs`, d.requestTimeoutMs, 1, 3_600_000),
    connectionsPerEndpoint: int(r.connectionsPerEndpoint, `${path}.connectionsPerEndpoint`, d.connectionsPerEndpoint, 1, 64),
    connectRetries: int(r.connectRetries, `${path}.connectRetries`, d.connectRetries, 0, 10),
    circuitBreakers: {
      maxConnections: int(cb.maxConnections, `${path}.circuitBreakers.maxConnections`, d.circuitBreakers.maxConnections, 1, 1e9),
      maxPendingRequests: int(cb.maxPendingRequests, `${path}.circuitBreakers.maxPendingRequests`, d.circuitBreakers.maxPendingRequests, 0, 1e9),
      maxRequests: int(cb.maxRequests, `${path}.circuitBreakers.maxRequests`, d.circuitBreakers.maxRequests, 1, 1e9),
    },
    outlierDetection: {
      consecutiveErrors: int(od.consecutiveErrors, `${path}.outlierDetection.consecutiveErrors`, d.outlierDetection.consecutiveErrors, 0, 1e6),
      baseEjectionTimeMs: int(od.baseEjectionTimeMs, `${path}.outlierDetection.baseEjectionTimeMs`, d.outlierDetection.baseEjectionTimeMs, 1, 86_400_000),
      maxEjectionTimeMs: int(od.maxEjectionTimeMs, `${path}.outlierDetection.maxEjectionTimeMs`, d.outlierDetection.maxEjectionTimeMs, 1, 86_400_000),
      maxEjectionPercent: int(od.maxEjectionPercent, `${path}.outlierDetection.maxEjectionPercent`, d.outlierDetection.maxEjectionPercent, 0, 100),
    },
    endpoints,
  };
}

function parseEndpoint(v: unknown, path: string): EndpointConfig {
  if (typeof v === "string") return { address: parseHostPort(v, path), weight: 1, labels: {} };
  const r = record(v, path, ["address", "weight", "labels"]);
  const labels = record(r.labels ?? {}, `${path}.labels`, null);
  for (const [k, val] of Object.entries(labels)) {
    if (typeof val !== "string") throw new ConfigError(`${path}.labels.${k}`, `expected a string, got ${show(val)}`);
  }
  return {
    address: parseHostPort(r.address, `${path}.address`),
    weight: int(r.weight, `${path}.weight`, 1, 1, 1_000_000),
    labels: labels as Record<string, string>,
  };
}

// ---- small validators: each names the path and shows what it got ----

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function record(v: unknown, path: string, known: readonly string[] | null): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(path, `expected a mapping, got ${show(v)}`);
  if (known) {
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) throw new ConfigError(path, `unknown field '${k}' (allowed: ${known.join(", ")})`);
    }
  }
  return v as Record<string, unknown>;
}

function optionalArray(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, `expected a list, got ${show(v)}`);
  return v;
}

function str(v: unknown, path: string, dflt?: string): string {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "string" || (dflt === undefined && v === "")) throw new ConfigError(path, `expected a non-empty string, got ${show(v)}`);
  return v;
}

function int(v: unknown, path: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(path, `expected an integer ${min}..${max}, got ${show(v)}`);
  }
  return v;
}

function unique(values: string[], path: string, field: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) throw new ConfigError(`${path}[${i}].${field}`, `duplicate ${field} ${show(v)}`);
    seen.add(v);
  });
}

function absolute(p: string, baseDir: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}
