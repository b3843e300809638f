// The root context: one per plugin configuration. Parses and compiles the configuration once in
// proxy_on_configure and hands it to its Plugin (plugin.ts), which holds what the connections share
// (the newest route table, metrics, random source) across every root context of that plugin: connections
// opened under an older root context route by the newest accepted configuration. A rejected configuration
// changes nothing.
//
// Lifecycle (Envoy's order): on_context_create(root) -> on_vm_start -> on_configure -> [connections]
// -> on_done -> on_delete. Legal here: logs, metrics, properties, the PluginConfiguration buffer (only
// inside on_configure).

import { Context, RootContext } from "@gcoredev/proxy-wasm-sdk-as/assembly";
import { BufferType, getBufferBytes, hostLog, lastStatus, Level, refreshLogLevel, statusName } from "../hostcalls";
import { FilterConfig, MAX_CONFIG_BYTES, parseConfig } from "./config";
import { firstInvalidUtf8 } from "./json";
import { DubboConnection } from "./connection";
import { attachPlugin, detachPlugin, Plugin } from "./plugin";

export class DubboMeshRoot extends RootContext {
  /** The plugin this root context configured; null until its configuration was accepted. */
  plugin: Plugin | null = null;
  /** This root context's own accepted configuration (the plugin's may be a newer one). */
  config: FilterConfig | null = null;

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
      if (this.plugin === null) this.plugin = attachPlugin();
      this.config = result.config;
      this.plugin!.install(result.config!, this.context_id);
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
    const plugin = this.plugin!;
    const config = plugin.config!;
    hostLog(
      Level.Info,
      "dubbo-mesh: configured " + config.table.services.length.toString() + " service(s); rewrite " +
        (config.rewrite ? "on (attachment " + config.routeAttachment + ")" : "off") +
        (config.revision.length > 0 ? "; revision " + config.revision : "") +
        (plugin.accepted > 1 ? "; connections already open follow it" : ""),
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

  onDelete(): void {
    const plugin = this.plugin;
    if (plugin !== null) detachPlugin(plugin);
    this.plugin = null;
  }

  /** A connection is being created under this root context: the host uses its configuration again (see plugin.ts). */
  inForce(): Plugin | null {
    const plugin = this.plugin;
    const config = this.config;
    if (plugin !== null && config !== null && plugin.installedBy != this.context_id) plugin.install(config, this.context_id);
    return plugin;
  }

  createContext(context_id: u32): Context {
    return new DubboConnection(context_id, this);
  }
}
