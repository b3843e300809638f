/**
 * The e2e setup shared by the proxy suites: two real sofa-rpc-node providers of one service (labelled
 * revision v1 and v2 in a file registry), a rules file, the proxy started on a config file in a temp folder
 * (listener and admin on free loopback ports), and sofa-rpc-node consumers pointed at the proxy.
 * Peers come from test/support/dubbo-peers.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigMapVolume, configMapVolume } from "../support/config-map.js";
import { type Consumer, type Provider, startConsumer, startProvider } from "../support/dubbo-peers.js";
import { ProxyServer, type ProxyLogLevel, type ProxyOptions } from "../../proxy/server/proxy-server.js";

export const SERVICE = "org.apache.dubbo.demo.DemoService";
export const VERSION = "1.0.0";

/** The provider methods: each answers with its subset name, so the consumer sees where a call went. */
export function demoMethods(subset: string, extra: Record<string, (...a: never[]) => unknown> = {}) {
  return {
    async sayHello(name: string) {
      return `${subset}:hello ${name}`;
    },
    async greet(name: string) {
      return `${subset}:greet ${name}`;
    },
    async deleteUser(name: string) {
      return `${subset}:deleted ${name}`;
    },
    async whoami() {
      return subset;
    },
    ...extra,
  };
}

export const DEMO_RULES = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: demo}
spec:
  interface: ${SERVICE}
  version: ${VERSION}
  subsets:
    - {name: v1, labels: {revision: v1}}
    - {name: v2, labels: {revision: v2}}
  routes:
    - name: gray
      match: {attachments: {dubbo.tag: {exact: gray}}}
      route: [{subset: v2}]
    - name: greet-v1
      match: {method: {exact: greet}}
      route: [{subset: v1}]
    - name: split
      route: [{subset: v1, weight: 90}, {subset: v2, weight: 10}]
  deny:
    - {name: no-deletes, method: {prefix: delete}}
  timeoutMs: 3000
`;

export function registryYaml(providers: { address: string; revision: string }[]): string {
  return `providers:\n${providers
    .map((p) => `  - dubbo://${p.address}/${SERVICE}?interface=${SERVICE}&version=${VERSION}&revision=${p.revision}&weight=100&methods=sayHello,greet,deleteUser`)
    .join("\n")}\n`;
}

export interface Mesh {
  dir: string;
  v1: Provider;
  v2: Provider;
  proxy: ProxyServer;
  /** "127.0.0.1:PORT" of the proxy's listener. */
  address: string;
  adminUrl: string;
  configPath: string;
  /** The rules as a mounted ConfigMap (`rulesAsConfigMap`): `rules.yaml -> ..data/rules.yaml`. */
  rulesVolume: ConfigMapVolume | null;
  logs: string[];
  consumer(timeoutMs?: number): Promise<Consumer>;
  writeConfig(text: string): void;
  close(): Promise<void>;
}

export interface MeshOptions {
  rules?: string;
  /** Lay the rules out as Kubernetes mounts a ConfigMap (see test/support/config-map.ts). */
  rulesAsConfigMap?: boolean;
  /** Extra YAML appended to the proxy config (top-level keys). */
  extraConfig?: string;
  v1Methods?: Record<string, (...a: never[]) => unknown>;
  v2Methods?: Record<string, (...a: never[]) => unknown>;
  logLevel?: ProxyLogLevel;
  proxyOptions?: Partial<ProxyOptions>;
}

export function proxyConfig(dir: string, extra = ""): string {
  return `listeners: [{name: dubbo, address: "127.0.0.1:0"}]
admin: "127.0.0.1:0"
filter:
  registry: file:${join(dir, "registry.yaml")}
  rules: ${join(dir, "rules.yaml")}
clusterDefaults:
  connectTimeoutMs: 500
  outlierDetection: {consecutiveErrors: 3, baseEjectionTimeMs: 5000}
${extra}`;
}

export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-proxy-"));
  const v1 = await startProvider({ interface: SERVICE, version: VERSION, methods: { ...demoMethods("v1"), ...options.v1Methods } });
  const v2 = await startProvider({ interface: SERVICE, version: VERSION, methods: { ...demoMethods("v2"), ...options.v2Methods } });
  writeFileSync(join(dir, "registry.yaml"), registryYaml([{ address: v1.address, revision: "v1" }, { address: v2.address, revision: "v2" }]));
  const rulesText = options.rules ?? DEMO_RULES;
  const rulesVolume = options.rulesAsConfigMap ? configMapVolume(dir, { "rules.yaml": rulesText }) : null;
  if (rulesVolume === null) writeFileSync(join(dir, "rules.yaml"), rulesText);
  const configPath = join(dir, "proxy.yaml");
  writeFileSync(configPath, proxyConfig(dir, options.extraConfig));
  const logs: string[] = [];
  const proxy = await ProxyServer.start({
    configPath,
    logLevel: options.logLevel ?? "info",
    log: (level, m) => logs.push(`${level}: ${m}`),
    ...options.proxyOptions,
  });
  const l = proxy.listenerAddresses[0];
  const a = proxy.adminAddress!;
  const consumers: Consumer[] = [];
  return {
    dir,
    v1,
    v2,
    proxy,
    address: `${l.host}:${l.port}`,
    adminUrl: `http://${a.host}:${a.port}`,
    configPath,
    rulesVolume,
    logs,
    async consumer(timeoutMs = 3000) {
      const c = await startConsumer({ address: `${l.host}:${l.port}`, interface: SERVICE, version: VERSION, timeout: timeoutMs });
      consumers.push(c);
      return c;
    },
    writeConfig(text: string) {
      writeFileSync(configPath, text);
    },
    async close() {
      await Promise.allSettled(consumers.map((c) => c.close()));
      await proxy.close();
      await Promise.allSettled([v1.close(), v2.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Count results by their subset prefix ("v1:..." → v1). */
export function tally(results: unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const k = String(r).split(":")[0];
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Provider methods whose calls wait until `release()`: a request stays in flight exactly as long as a test
 * needs, whatever the machine's speed. `arrived()` counts the calls that reached the provider.
 */
export function holding(subset: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let arrived = 0;
  const held = (method: string) => async (arg: string) => {
    arrived++;
    await gate;
    return `${subset}:${method} ${arg}`;
  };
  return { held, arrived: () => arrived, release: () => release() };
}

/**
 * Calls through `consumer` in four loops until `stop()`: each result with the time the call started and the
 * subset that answered it (the provider's reply starts with "v1:" or "v2:"); failures kept apart.
 */
export function traffic(consumer: Consumer, call: (c: Consumer) => Promise<unknown>) {
  const results: Array<{ at: number; subset: string }> = [];
  const failures: string[] = [];
  let stop = false;
  const loops = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!stop) {
        const at = Date.now();
        try {
          results.push({ at, subset: String(await call(consumer)).split(":")[0]! });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }),
  );
  return {
    results,
    failures,
    async stop() {
      stop = true;
      await loops;
    },
  };
}

/**
 * Waits until the last `n` or more calls that started after `since` all went to `subset`; answers the time from
 * `since` to the start of the first of that final run (every later call went there too). Throws after `limitMs`.
 */
export async function settled(results: Array<{ at: number; subset: string }>, since: number, subset: string, n: number, limitMs: number): Promise<number> {
  const end = Date.now() + limitMs;
  for (;;) {
    const after = results.filter((r) => r.at >= since).sort((a, b) => a.at - b.at);
    let lastOther = -1;
    after.forEach((r, i) => {
      if (r.subset !== subset) lastOther = i;
    });
    if (after.length - 1 - lastOther >= n) return after[lastOther + 1]!.at - since;
    if (Date.now() > end) throw new Error(`no run of ${n} calls to ${subset} within ${limitMs} ms (${after.length} calls since the edit)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
