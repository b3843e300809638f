// The proxy's ADS client (docs/xds-client.md): what `dubbo-mesh proxy --xds HOST:PORT [--node-id ID] [--cache DIR]`
// uses to take the configuration Envoy takes.
//
//   const client = new AdsClient({server, node: {id}, validate, cacheDir})
//   client.on("cache-loaded", ({message}) => log(message))     before any stream, when DIR has a cache
//   client.on("update", ({typeUrl, resources, source}) => …)   the type's full acknowledged state
//   await client.start();  …  client.missing()  …  await client.close();
export { AdsClient, type AdsClientOptions, type AdsProtocol, type UpdateEvent, type Validator } from "./ads-client.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export { CACHE_FILE, cacheNotice, loadCache, saveCache, type CachedConfiguration, type TypeState } from "./xds-cache.js";
export { defaultNodeId, type NodeOptions } from "./xds-node.js";
export { decodeResource, dependentNames, XDS_TYPES, XdsType, type XdsResource, type XdsTypeUrl } from "./xds-resources.js";
// The proxy's configuration from the resources, and the sources it reads them from (docs/proxy.md).
export { proxyConfigFromXds, XdsConfigError, type XdsFilter, type XdsInputs, type XdsListener, type XdsProxyConfig } from "./proxy-config.js";
export { SnapshotSource } from "./snapshot-source.js";
export type { AckEvent, NackEvent, SourceUpdateEvent, XdsSource } from "./xds-source.js";
