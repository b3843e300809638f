// The dubbo-mesh proxy-wasm network filter (ABI 0.2.1). The ABI callbacks are the filter's own
// (assembly/filter/abi-exports.ts, on the SDK's RootContext/Context classes); the allocator the host
// uses to hand buffers in is the SDK's (hostcalls.ts routes the downstream/upstream reads into a reused
// area), exported under both names cpp-host looks up.
export * from "./filter/abi-exports";
export { malloc, malloc as proxy_on_memory_allocate } from "./hostcalls";
export * from "./codec-api";
