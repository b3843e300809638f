// One plugin of this VM, as Envoy identifies it apart from its configuration: its name, root_id and
// listener direction (proxy-wasm-cpp-host keys a plugin by sha256(root_id || configuration || name ||
// direction || listener metadata); everything but the configuration is the same for two configurations of
// one plugin). Envoy reuses the VM for a new configuration and gives it a NEW root context, while the
// connections already open keep stream contexts parented to the old one (docs/host.md, "VM reuse"). So
// the newest configuration lives here, shared by every root context of the plugin: each accepted
// proxy_on_configure replaces it, and connections read it on every downstream read, whichever root
// context they were created under. Two plugins of one VM (another root_id or name) never share one.
//
// Envoy hands an identical configuration that is still held (by connections opened under it) its old root
// context back without calling proxy_on_configure again (docs/host.md). So a new connection created under a
// root context whose configuration is not the one in force makes it the one in force again (a rollback),
// and a configuration that must reach established connections at once carries a fresh `revision`.

import { getProperty } from "../hostcalls";
import { FilterConfig } from "./config";
import { FilterMetrics } from "./metrics";
import { Random } from "./random";

const PATH_ROOT_ID = String.UTF8.encode("plugin_root_id");
const PATH_NAME = String.UTF8.encode("plugin_name");
const PATH_DIRECTION = String.UTF8.encode("listener_direction");

export class Plugin {
  /** The newest accepted configuration. */
  config: FilterConfig | null = null;
  metrics: FilterMetrics | null = null;
  random: Random = new Random(1);
  /** How many configurations were put in force: a connection compares it with the one it last used. */
  accepted: u32 = 0;
  /** The root context whose configuration is in force (0 = none). */
  installedBy: u32 = 0;
  /** Root contexts attached to this plugin; it is forgotten when the last one is deleted. */
  roots: i32 = 0;

  constructor(public key: string) {}

  /** Makes `config` the one every connection of the plugin routes by from its next read on. */
  install(config: FilterConfig, rootContextId: u32): void {
    if (this.metrics === null) this.metrics = new FilterMetrics();
    const metrics = this.metrics!;
    const services = config.table.services;
    for (let i = 0; i < services.length; i++) {
      const deny = unchecked(services[i]).deny;
      for (let j = 0; j < deny.length; j++) metrics.defineDenyRule(unchecked(deny[j]).name);
    }
    this.random = new Random(config.randomSeed);
    this.config = config;
    this.installedBy = rootContextId;
    this.accepted++;
  }
}

const plugins = new Map<string, Plugin>();

/** The plugin of the root context being configured (read from its properties), attached once more. */
export function attachPlugin(): Plugin {
  const key = propertyText(PATH_ROOT_ID) + "\n" + propertyText(PATH_NAME) + "\n" + directionText();
  let plugin: Plugin;
  if (plugins.has(key)) {
    plugin = plugins.get(key);
  } else {
    plugin = new Plugin(key);
    plugins.set(key, plugin);
  }
  plugin.roots++;
  return plugin;
}

/** A root context of the plugin was deleted; the last one takes the plugin with it. */
export function detachPlugin(plugin: Plugin): void {
  plugin.roots--;
  if (plugin.roots <= 0 && plugins.has(plugin.key) && plugins.get(plugin.key) === plugin) plugins.delete(plugin.key);
}

function propertyText(path: ArrayBuffer): string {
  const value = getProperty(path);
  return value === null ? "" : String.UTF8.decode(value);
}

function directionText(): string {
  const value = getProperty(PATH_DIRECTION);
  return value !== null && value.byteLength == 8 ? load<i64>(changetype<usize>(value)).toString() : "";
}
