/** The registry adapters, registered by scheme. Import this module (not the adapters) to create registries. */
import { resolve } from "node:path";
import { FileRegistry } from "./file-registry.js";
import { registerRegistry } from "./registry.js";
import { ZookeeperRegistry } from "./zookeeper-registry.js";

registerRegistry("file", (target, uri, listener) => {
  // file:PATH (relative to the working folder) or file:///absolute/path
  const path = target.startsWith("//") ? decodeURIComponent(new URL(`file:${target}`).pathname) : target;
  if (path === "") throw new Error(`registry URI ${JSON.stringify(uri)}: no path (expected file:PATH)`);
  return new FileRegistry(resolve(path), uri, listener);
});

registerRegistry("zookeeper", (target, uri, listener) => new ZookeeperRegistry(target, uri, listener));

export { createRegistry, registerRegistry, registeredSchemes } from "./registry.js";
export type { Registry, RegistryFactory, RegistryListener, RegistryState } from "./registry.js";
export type { Provider } from "./provider-url.js";
export { parseProviderUrl, serviceKeyOf } from "./provider-url.js";
