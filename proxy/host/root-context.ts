// One root context in a VM instance: the plugin (name, root_id, configuration) it was started for, its property
// facts, how many connections are parented to it, and where it is in its shutdown. As in proxy-wasm-cpp-host, a
// VM holds one root context per plugin key (WasmBase::root_contexts_), and a root context is shut down
// (proxy_on_done, then proxy_on_delete) when its plugin handle is gone: in Envoy the handle is held by the filter
// configuration and by every stream context created from it (~PluginHandleBase → WasmBase::startShutdown(key)).

import { createHash } from "node:crypto";
import type { PropertySource, PropertyValue } from "./properties.js";

/** A plugin as Envoy's PluginBase describes it. */
export interface PluginSpec {
  readonly name: string;
  readonly rootId: string;
  /** Property listener_direction: 0 unspecified, 1 inbound, 2 outbound (part of Envoy's plugin key). */
  readonly listenerDirection: number;
  readonly configuration: Uint8Array;
}

/** cpp-host's PluginBase::makePluginKey(root_id, configuration, Envoy's name||direction). */
export function pluginKey(p: PluginSpec): string {
  return createHash("sha256")
    .update(p.rootId)
    .update("||")
    .update(p.configuration)
    .update("||")
    .update(`${p.name}||${p.listenerDirection}`)
    .digest("hex");
}

/** cpp-host's makeVmKey(vm_id, vm_configuration, code). */
export function vmKey(vmId: string, vmConfig: Uint8Array, code: Uint8Array): string {
  return createHash("sha256").update(vmId).update("||").update(vmConfig).update("||").update(code).digest("hex");
}

export class RootContext {
  readonly key: string;
  /** Live connections created under this root context. */
  connections = 0;
  /** The plugin handle is no longer in use for new connections: shut down once `connections` is 0. */
  released = false;
  /** proxy_on_done returned false: proxy_done may still finish it. */
  pendingDone = false;
  /** proxy_on_done has been called (shutdown started). */
  done = false;
  deleted = false;
  tickTimer: NodeJS.Timeout | undefined;
  readonly source: PropertySource;

  constructor(
    readonly id: number,
    readonly plugin: PluginSpec,
    facts: { vmId: string; node: PropertyValue | undefined },
  ) {
    this.key = pluginKey(plugin);
    this.source = {
      pluginName: plugin.name,
      rootId: plugin.rootId,
      vmId: facts.vmId,
      listenerDirection: plugin.listenerDirection,
      node: facts.node,
      connection: undefined,
    };
  }

  /** Still held: in use for new connections, or by a connection created under it. */
  get held(): boolean {
    return !this.done && (!this.released || this.connections > 0);
  }

  stopTimer(): void {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }
}
