import { describe, expect, it } from "vitest";
import { ConfigError, parseHostPort, parseProxyConfig } from "../../proxy/server/config.js";
import { parseProxyArgs } from "../../proxy/server/cli.js";
import { filterWasmPath } from "../../common/paths.js";

const base = () => ({
  listeners: [{ name: "dubbo", address: "127.0.0.1:20880" }],
  admin: "127.0.0.1:9901",
  filter: { configuration: { version: 1, services: [] } },
  clusters: [
    {
      name: "c1",
      lbPolicy: "ROUND_ROBIN",
      endpoints: [{ address: "127.0.0.1:20881", weight: 10, labels: { revision: "v1" } }, "127.0.0.1:20882"],
    },
  ],
});

describe("proxy configuration", () => {
  it("fills defaults", () => {
    const c = parseProxyConfig({}, "/etc");
    expect(c.listeners).toEqual([{ name: "dubbo", address: { host: "127.0.0.1", port: 20880 }, defaultCluster: "" }]);
    expect(c.admin).toEqual({ host: "127.0.0.1", port: 9901 });
    expect(c.filter.wasm).toBe(filterWasmPath);
    expect(c.filter.source).toEqual({ kind: "inline", configuration: { version: 1, services: [] } });
    expect(c.clusters).toEqual([]);
    expect(c.clientConnections).toEqual({ idleTimeoutMs: 180_000, tcpKeepaliveMs: 60_000, drainQuietMs: 1000 });
    expect(parseProxyConfig({ clientConnections: { idleTimeoutMs: 0, tcpKeepaliveMs: 0 } }, "/").clientConnections).toEqual({ idleTimeoutMs: 0, tcpKeepaliveMs: 0, drainQuietMs: 1000 });
  });

  it("keeps every valid field", () => {
    const c = parseProxyConfig(base(), "/etc/dm");
    expect(c.clusters[0].endpoints).toEqual([
      { address: { host: "127.0.0.1", port: 20881 }, weight: 10, labels: { revision: "v1" } },
      { address: { host: "127.0.0.1", port: 20882 }, weight: 1, labels: {} },
    ]);
    expect(c.clusters[0].circuitBreakers.maxRequests).toBeGreaterThan(0);
    const r = parseProxyConfig({ filter: { wasm: "f.wasm", registry: "file:reg.yaml", rules: "rules.yaml" } }, "/etc/dm");
    expect(r.filter.wasm).toBe("/etc/dm/f.wasm");
    expect(r.filter.source).toEqual({ kind: "rules", registry: "file:/etc/dm/reg.yaml", rules: "/etc/dm/rules.yaml" });
  });

  it("applies clusterDefaults to explicit clusters", () => {
    const c = parseProxyConfig({ ...base(), clusterDefaults: { lbPolicy: "MAGLEV", requestTimeoutMs: 50 } }, "/");
    expect(c.clusters[0].lbPolicy).toBe("ROUND_ROBIN");
    expect(c.clusters[0].requestTimeoutMs).toBe(50);
    expect(c.clusterDefaults.lbPolicy).toBe("MAGLEV");
  });

  // One valid base, one mutation each, the error it must give (path + what was expected).
  const cases: { name: string; mutate: (c: Record<string, any>) => unknown; error: RegExp }[] = [
    { name: "not a mapping", mutate: () => [1], error: /^\(document\): expected a mapping, got \[1\]/ },
    { name: "unknown top-level key", mutate: (c) => ({ ...c, listner: [] }), error: /^\(document\): unknown field 'listner' \(allowed: listeners, admin, filter, clusterDefaults, clusters, maxFrameBytes, drainTimeoutMs, clientConnections, maxBufferedBytes\)$/ },
    { name: "bad listen address", mutate: (c) => ((c.listeners[0].address = "localhost"), c), error: /^listeners\[0\]\.address: expected "host:port".*got "localhost"/ },
    { name: "port out of range", mutate: (c) => ((c.listeners[0].address = "127.0.0.1:70000"), c), error: /^listeners\[0\]\.address: .*0-65535/ },
    { name: "duplicate listener", mutate: (c) => (c.listeners.push({ name: "dubbo", address: "127.0.0.1:1" }), c), error: /^listeners\[1\]\.name: duplicate name "dubbo"/ },
    { name: "unknown default cluster", mutate: (c) => ((c.listeners[0].defaultCluster = "nope"), c), error: /^listeners\[0\]\.defaultCluster: no cluster named "nope"/ },
    { name: "bad lb policy", mutate: (c) => ((c.clusters[0].lbPolicy = "FASTEST"), c), error: /^clusters\[0\]\.lbPolicy: expected one of ROUND_ROBIN, RANDOM, LEAST_REQUEST, RING_HASH, MAGLEV, got "FASTEST"/ },
    { name: "zero weight", mutate: (c) => ((c.clusters[0].endpoints[0].weight = 0), c), error: /^clusters\[0\]\.endpoints\[0\]\.weight: expected an integer 1\.\.1000000, got 0/ },
    { name: "label not a string", mutate: (c) => ((c.clusters[0].endpoints[0].labels = { v: 2 }), c), error: /^clusters\[0\]\.endpoints\[0\]\.labels\.v: expected a string, got 2/ },
    { name: "duplicate endpoint", mutate: (c) => (c.clusters[0].endpoints.push("127.0.0.1:20882"), c), error: /^clusters\[0\]\.endpoints\[2\]\.address: duplicate address "127\.0\.0\.1:20882"/ },
    { name: "duplicate cluster", mutate: (c) => (c.clusters.push({ name: "c1" }), c), error: /^clusters\[1\]\.name: duplicate name "c1"/ },
    { name: "missing cluster name", mutate: (c) => (delete c.clusters[0].name, c), error: /^clusters\[0\]\.name: expected a non-empty string, got nothing/ },
    { name: "negative timeout", mutate: (c) => ((c.clusters[0].requestTimeoutMs = -1), c), error: /^clusters\[0\]\.requestTimeoutMs: expected an integer 1\.\.3600000, got -1/ },
    { name: "unknown circuit breaker", mutate: (c) => ((c.clusters[0].circuitBreakers = { maxRetries: 1 }), c), error: /^clusters\[0\]\.circuitBreakers: unknown field 'maxRetries' \(allowed: maxConnections, maxPendingRequests, maxRequests\)$/ },
    { name: "ejection percent", mutate: (c) => ((c.clusters[0].outlierDetection = { maxEjectionPercent: 101 }), c), error: /^clusters\[0\]\.outlierDetection\.maxEjectionPercent: expected an integer 0\.\.100/ },
    { name: "configuration not an object", mutate: (c) => ((c.filter.configuration = "{}"), c), error: /^filter\.configuration: expected the plugin configuration as an object/ },
    { name: "both inline and rules", mutate: (c) => ((c.filter.rules = "r.yaml"), c), error: /^filter: give either `configuration`.* or `registry` \+ `rules`, not both/ },
    { name: "registry without scheme", mutate: (c) => ({ ...c, filter: { registry: "reg.yaml", rules: "r.yaml" } }), error: /^filter\.registry: expected a registry URI such as file:/ },
    { name: "rules without registry", mutate: (c) => ({ ...c, filter: { rules: "r.yaml" } }), error: /^filter\.registry: expected a non-empty string, got nothing/ },
    { name: "bad log level", mutate: (c) => ((c.filter.logLevel = "loud"), c), error: /^filter\.logLevel: expected one of trace, debug, info, warn, error, critical, got "loud"/ },
    { name: "negative idle timeout", mutate: (c) => ({ ...c, clientConnections: { idleTimeoutMs: -1 } }), error: /^clientConnections\.idleTimeoutMs: expected an integer 0\.\.86400000, got -1/ },
    { name: "unknown client connection setting", mutate: (c) => ({ ...c, clientConnections: { keepalive: true } }), error: /^clientConnections: unknown field 'keepalive' \(allowed: idleTimeoutMs, tcpKeepaliveMs, drainQuietMs\)$/ },
    { name: "zero drain quiet time", mutate: (c) => ({ ...c, clientConnections: { drainQuietMs: 0 } }), error: /^clientConnections\.drainQuietMs: expected an integer 1\.\.600000, got 0/ },
    { name: "clusterDefaults with endpoints", mutate: (c) => ({ ...c, clusterDefaults: { endpoints: [] } }), error: /^clusterDefaults: holds settings only/ },
  ];
  for (const t of cases) {
    it(`rejects ${t.name}`, () => {
      let err: unknown;
      try {
        parseProxyConfig(t.mutate(base()), "/");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(t.error);
    });
  }

  it("parses host:port forms", () => {
    expect(parseHostPort("[::1]:80", "x")).toEqual({ host: "::1", port: 80 });
    expect(parseHostPort("0.0.0.0:0", "x")).toEqual({ host: "0.0.0.0", port: 0 });
    expect(() => parseHostPort(8080, "--listen")).toThrow(/^--listen: expected "host:port", got 8080/);
  });
});

describe("dubbo-mesh proxy arguments", () => {
  it("parses every option", () => {
    expect(parseProxyArgs(["--config", "p.yaml", "--listen=127.0.0.1:1", "--admin", "off", "--log-level", "debug"])).toEqual({
      config: "p.yaml",
      listen: { host: "127.0.0.1", port: 1 },
      admin: null,
      logLevel: "debug",
    });
  });
  it("takes --xds with its node id, cache and services", () => {
    expect(parseProxyArgs(["--xds", "127.0.0.1:18000", "--node-id", "n1", "--cache", "/tmp/c", "--services", "a.B, c.*", "--listen", "127.0.0.1:0"])).toMatchObject({
      xds: { server: "127.0.0.1:18000", nodeId: "n1", cacheDir: "/tmp/c", services: ["a.B", "c.*"] },
      listen: { host: "127.0.0.1", port: 0 },
    });
  });

  it("names what is wrong", () => {
    expect(() => parseProxyArgs([])).toThrow("--config FILE is required (or --xds HOST:PORT)");
    expect(() => parseProxyArgs(["--config"])).toThrow("Option '--config <value>' argument missing");
    expect(() => parseProxyArgs(["--config", "x", "--bogus"])).toThrow("Unknown option '--bogus'");
    expect(() => parseProxyArgs(["--config", "x", "extra"])).toThrow("unexpected argument 'extra'");
    expect(() => parseProxyArgs(["--xds", "nope"])).toThrow(/--xds: expected "host:port"/);
    expect(() => parseProxyArgs(["--xds", "127.0.0.1:1", "--config", "x"])).toThrow(/either --config FILE or --xds HOST:PORT, not both/);
    expect(() => parseProxyArgs(["--config", "x", "--cache", "/tmp"])).toThrow(/--node-id, --cache and --services go with --xds/);
    expect(() => parseProxyArgs(["--config", "x", "--listen", "nope"])).toThrow(/--listen: expected "host:port"/);
    expect(() => parseProxyArgs(["--config", "x", "--admin", "127.0.0.1:99999"])).toThrow(/--admin: expected "host:port" with a port 0-65535/);
    expect(() => parseProxyArgs(["--config", "x", "--log-level", "loud"])).toThrow("--log-level: expected one of debug, info, warn, error, got 'loud'");
  });
});
