// The root context: one per plugin configuration. Parses and compiles the configuration once in
// proxy_on_configure, owns what the connections share (route table, metrics, random source), and
// creates a DubboConnection per downstream connection.
//
// Lifecycle (Envoy's order): on_context_create(root) -> on_vm_start -> on_configure -> [connections]
// -> on_done -> on_delete. Legal here: logs, metrics, properties, the PluginConfiguration buffer (only
// inside on_configure).

import { Context, RootContext } from "@gcoredev/proxy-wasm-sdk-as/assembly";
import { BufferType, getBufferBytes, hostLog, lastStatus, Level, refreshLogLevel, statusName } from "../hostcalls";
import { FilterConfig, MAX_CONFIG_BYTES, parseConfig } from "./config";
import { firstInvalidUtf8 } from "./json";
import { DubboConnection } from "./connection";
import { FilterMetrics } from "./metrics";
import { Random } from "./random";

export class DubboMeshRoot extends RootContext {
  /** The active configuration; null until a configuration was accepted. */
  config: FilterConfig | null = null;
  metrics: FilterMetrics | null = null;
  random: Random = new Random(1);

  constructor(context_id: u32) {
    super(context_id);
  }

  /** Reads and validates the PluginConfiguration buffer; the error text, or "" when valid. */
  private readConfig(size: u32, apply: bool): string {
    if (size == 0) return 'the plugin configuration is empty; expected a JSON object {"version": 1, "services": [...]} (see docs/filter.md)';
    if (size > <u32>MAX_CONFIG_BYTES) return "the plugin configuration is larger than " + MAX_CONFIG_BYTES.toString() + " bytes";
    const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, size);
    if (bytes === null) return "cannot read the plugin configuration: " + statusName(lastStatus);
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) return "the plugin configuration is not valid UTF-8 (byte " + bad.toString() + ")";
    const result = parseConfig(String.UTF8.decode(bytes));
    if (result.config === null) return result.error;
    if (apply) {
      const config = result.config!;
      if (this.metrics === null) this.metrics = new FilterMetrics();
      const metrics = this.metrics!;
      const services = config.table.services;
      for (let i = 0; i < services.length; i++) {
        const deny = unchecked(services[i]).deny;
        for (let j = 0; j < deny.length; j++) metrics.defineDenyRule(unchecked(deny[j]).name);
      }
      this.random = new Random(config.randomSeed);
      this.config = config;
    }
    return "";
  }

  onConfigure(configuration_size: u32): bool {
    refreshLogLevel();
    const error = this.readConfig(configuration_size, true);
    if (error.length > 0) {
      hostLog(Level.Error, "dubbo-mesh: invalid plugin configuration: " + error);
      return false;
    }
    const config = this.config!;
    hostLog(
      Level.Info,
      "dubbo-mesh: configured " + config.table.services.length.toString() + " service(s); rewrite " +
        (config.rewrite ? "on (attachment " + config.routeAttachment + ")" : "off"),
    );
    return true;
  }

  validateConfiguration(configuration_size: usize): bool {
    const error = this.readConfig(<u32>configuration_size, false);
    if (error.length > 0) {
      hostLog(Level.Error, "dubbo-mesh: invalid plugin configuration: " + error);
      return false;
    }
    return true;
  }

  onStart(vm_configuration_size: usize): bool {
    return true;
  }

  onTick(): void {}

  onQueueReady(token: u32): void {}

  onDone(): bool {
    return true;
  }

  onDelete(): void {}

  createContext(context_id: u32): Context {
    return new DubboConnection(context_id, this);
  }
}
