// @ts-nocheck — AssemblyScript, compiled by dev/test-modules/build.ts (not part of the TypeScript build).
//
// A no-op proxy-wasm (ABI 0.2.1) network filter: every callback returns at once, on_downstream_data and
// on_upstream_data return Continue without reading the buffer. It imports nothing. bench/filter.ts runs it in
// the same host as the real filter to measure what the filter itself costs.

export function proxy_abi_version_0_2_1(): void {}

export function malloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function proxy_on_memory_allocate(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function proxy_on_context_create(context_id: u32, parent_id: u32): void {}

export function proxy_on_vm_start(root_id: u32, vm_config_size: u32): u32 {
  return 1;
}

export function proxy_on_configure(root_id: u32, plugin_config_size: u32): u32 {
  return 1;
}

export function proxy_on_new_connection(context_id: u32): u32 {
  return 0; // Continue
}

export function proxy_on_downstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  return 0; // Continue: the whole buffer goes on, unread
}

export function proxy_on_upstream_data(context_id: u32, data_size: u32, end_of_stream: u32): u32 {
  return 0;
}

export function proxy_on_downstream_connection_close(context_id: u32, peer_type: u32): void {}

export function proxy_on_upstream_connection_close(context_id: u32, peer_type: u32): void {}

export function proxy_on_done(context_id: u32): u32 {
  return 1;
}

export function proxy_on_log(context_id: u32): void {}

export function proxy_on_delete(context_id: u32): void {}
