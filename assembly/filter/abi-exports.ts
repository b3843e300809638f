// The proxy-wasm ABI 0.2.1 callbacks the filter exports. The SDK's own exports are not used: its
// proxy_on_done / proxy_on_delete look root contexts up in the connection map (a missing key aborts,
// i.e. traps), and it builds debug strings on every context creation. Here every callback tolerates an
// unknown context id (it does nothing), so no host call order can make the module trap.
//
// Contexts: a root context per plugin (parent 0), a DubboConnection per downstream connection.

import { FilterStatusValues } from "@gcoredev/proxy-wasm-sdk-as/assembly";
import { PeerTypeValues } from "@gcoredev/proxy-wasm-sdk-as/assembly/runtime";
import { DubboConnection } from "./connection";
import { DubboMeshRoot } from "./root";

const roots = new Map<u32, DubboMeshRoot>();
const connections = new Map<u32, DubboConnection>();

function rootFor(id: u32): DubboMeshRoot {
  if (roots.has(id)) return roots.get(id);
  const root = new DubboMeshRoot(id);
  roots.set(id, root);
  return root;
}

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_context_create(context_id: u32, parent_context_id: u32): void {
  if (parent_context_id == 0) {
    rootFor(context_id);
    return;
  }
  if (connections.has(context_id) || !roots.has(parent_context_id)) return;
  connections.set(context_id, new DubboConnection(context_id, roots.get(parent_context_id)));
}

export function proxy_on_vm_start(root_context_id: u32, vm_configuration_size: u32): u32 {
  return rootFor(root_context_id).onStart(vm_configuration_size) ? 1 : 0;
}

export function proxy_validate_configuration(root_context_id: u32, configuration_size: u32): u32 {
  return rootFor(root_context_id).validateConfiguration(configuration_size) ? 1 : 0;
}

export function proxy_on_configure(root_context_id: u32, configuration_size: u32): u32 {
  return rootFor(root_context_id).onConfigure(configuration_size) ? 1 : 0;
}

export function proxy_on_tick(root_context_id: u32): void {}

export function proxy_on_queue_ready(root_context_id: u32, token: u32): void {}

export function proxy_on_foreign_function(root_context_id: u32, function_id: u32, data_size: u32): void {}

export function proxy_on_new_connection(context_id: u32): u32 {
  if (!connections.has(context_id)) return FilterStatusValues.Continue;
  return connections.get(context_id).onNewConnection();
}

export function proxy_on_downstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  if (!connections.has(context_id)) return FilterStatusValues.Continue;
  return connections.get(context_id).onDownstreamData(data_size, end_of_stream != 0);
}

export function proxy_on_upstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  if (!connections.has(context_id)) return FilterStatusValues.Continue;
  return connections.get(context_id).onUpstreamData(data_size, end_of_stream != 0);
}

export function proxy_on_downstream_connection_close(context_id: u32, peer_type: u32): void {
  if (connections.has(context_id)) connections.get(context_id).onDownstreamConnectionClose(<PeerTypeValues>peer_type);
}

export function proxy_on_upstream_connection_close(context_id: u32, peer_type: u32): void {
  if (connections.has(context_id)) connections.get(context_id).onUpstreamConnectionClose(<PeerTypeValues>peer_type);
}

export function proxy_on_done(context_id: u32): u32 {
  if (connections.has(context_id)) return connections.get(context_id).onDone() ? 1 : 0;
  if (roots.has(context_id)) return roots.get(context_id).onDone() ? 1 : 0;
  return 1;
}

export function proxy_on_log(context_id: u32): void {
  if (connections.has(context_id)) connections.get(context_id).onLog();
}

export function proxy_on_delete(context_id: u32): void {
  if (connections.has(context_id)) {
    connections.get(context_id).onDelete();
    connections.delete(context_id);
    return;
  }
  if (roots.has(context_id)) {
    roots.get(context_id).onDelete();
    roots.delete(context_id);
  }
}
