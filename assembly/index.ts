// The dubbo-mesh proxy-wasm network filter: the ABI exports come from the SDK; the filter registers
// its root context below.
export * from "@gcoredev/proxy-wasm-sdk-as/assembly/proxy";
export { malloc as proxy_on_memory_allocate } from "@gcoredev/proxy-wasm-sdk-as/assembly/malloc";
export * from "./codec-api";
import { RootContext, Context, registerRootContext } from "@gcoredev/proxy-wasm-sdk-as/assembly";

// Minimal entry until the filter lands: a root context whose connections pass everything through.
class PassRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Context(context_id, this);
  }
}
registerRootContext((id: u32): RootContext => new PassRoot(id), "dubbo_mesh");
