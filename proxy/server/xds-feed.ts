/**
 * The proxy configured from Envoy resources — the one configuration path of both `--xds` and the standalone
 * mode (`filter.registry` + `filter.rules`). An `XdsSource` (the ADS client, or the in-process snapshot) hands
 * each change of a type to `validate`, which builds the whole would-be configuration with `proxyConfigFromXds`
 * and, when the wasm filter's configuration is new, applies it to the filter VM (a new root context after a
 * canary in a throwaway instance, as Envoy does): a resource the proxy cannot use, or a plugin configuration the
 * filter refuses, is rejected with the reason (a NACK) and the last good configuration stays in force. Once a
 * change is accepted, the listeners and clusters of the new configuration are applied.
 */
import type { ClusterSettings } from "./config.js";
import type { ProxyLogLevel } from "./proxy-server.js";
import type { Validator } from "../xds/ads-client.js";
import { proxyConfigFromXds, type XdsFilter, type XdsInputs, type XdsProxyConfig } from "../xds/proxy-config.js";
import { XdsType, type XdsResource, type XdsTypeUrl } from "../xds/xds-resources.js";
import type { NackEvent, XdsSource } from "../xds/xds-source.js";
import { XdsStatus } from "../xds/xds-status.js";

export interface XdsFeedTarget {
  /** Starts the filter VM with this plugin, or gives it a new root context; throws when the filter refuses it. */
  applyFilter(filter: XdsFilter): Promise<void>;
  /** Applies the listeners and clusters of an accepted configuration (its filter is applied already). */
  applyConfig(config: XdsProxyConfig): Promise<void>;
  log(level: ProxyLogLevel, message: string): void;
}

/** The filter as the proxy compares it: what it hands the VM. */
function filterKey(f: XdsFilter): string {
  return JSON.stringify([f.name, f.rootId, f.vmId, f.vmConfig, f.pluginConfig]);
}

export class XdsFeed {
  readonly source: XdsSource;
  readonly status: XdsStatus;
  private appliedFilter: string | null = null;
  private current: XdsProxyConfig | null = null;
  /** filter applications and configuration applies, one at a time */
  private serial: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly target: XdsFeedTarget,
    private readonly defaults: ClusterSettings,
    makeSource: (validate: Validator) => XdsSource,
  ) {
    this.source = makeSource((typeUrl, _received, next) => this.validate(typeUrl, next));
    this.status = new XdsStatus(this.source);
    this.source.on("update", () => void this.serially(() => this.apply()));
    this.source.on("nack", (e: NackEvent) => target.log("error", `xDS: rejected ${e.typeUrl.split(".").pop()} (the last good configuration stays): ${e.error}`));
  }

  start(): Promise<void> {
    return this.source.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.source.close();
  }

  /** The configuration in force (null before the first one). */
  get config(): XdsProxyConfig | null {
    return this.current;
  }

  /** A whole configuration: every name the Clusters and Listeners ask for is held, a listener and its filter are applied. */
  get complete(): boolean {
    return this.current !== null && this.current.listeners.length > 0 && this.appliedFilter !== null && this.source.missing().size === 0;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private inputs(override?: XdsTypeUrl, next?: ReadonlyMap<string, XdsResource>): XdsInputs {
    const of = (t: XdsTypeUrl) => (t === override ? next! : this.source.resources(t));
    return {
      listeners: of(XdsType.listener),
      clusters: of(XdsType.cluster),
      assignments: of(XdsType.clusterLoadAssignment),
      extensionConfigs: of(XdsType.extensionConfig),
    };
  }

  private async validate(typeUrl: XdsTypeUrl, next: ReadonlyMap<string, XdsResource>): Promise<string | null> {
    let config: XdsProxyConfig;
    try {
      config = proxyConfigFromXds(this.inputs(typeUrl, next), this.defaults);
    } catch (err) {
      return (err as Error).message;
    }
    const filter = config.filter;
    if (filter === null || filterKey(filter) === this.appliedFilter) return null;
    try {
      await this.serially(() => this.useFilter(filter));
    } catch (err) {
      return `the filter refused the plugin configuration: ${(err as Error).message}`;
    }
    return null;
  }

  private async useFilter(filter: XdsFilter): Promise<void> {
    const key = filterKey(filter);
    if (key === this.appliedFilter || this.closed) return;
    await this.target.applyFilter(filter);
    this.appliedFilter = key;
  }

  /** After an accepted change (or the cache loaded): the configuration of what the source holds now. */
  private async apply(): Promise<void> {
    if (this.closed) return;
    let config: XdsProxyConfig;
    try {
      config = proxyConfigFromXds(this.inputs(), this.defaults);
      if (config.filter !== null) await this.useFilter(config.filter);
    } catch (err) {
      this.target.log("error", `xDS: the configuration held cannot be applied (the last good one stays): ${(err as Error).message}`);
      return;
    }
    this.current = config;
    await this.target.applyConfig(config);
  }

  /** Resolves once the changes seen so far are applied. */
  settled(): Promise<unknown> {
    return this.serially(() => Promise.resolve());
  }
}
