/**
 * Where the proxy's Envoy resources come from: the same decoded resources, validated by the same callback and
 * turned into the proxy's configuration by the same code (`proxy-config.ts`), whichever the source:
 *
 *   AdsClient        (ads-client.ts)      `dubbo-mesh proxy --xds HOST:PORT`: a control plane over ADS
 *   SnapshotSource   (snapshot-source.ts) `dubbo-mesh proxy --config` with `filter.registry` + `filter.rules`:
 *                                         the control plane's snapshot built in process
 *
 * Both call `validate` before accepting a change of a type (a rejection keeps the last good resources: a NACK),
 * then emit `ack` and `update`; a rejection emits `nack`.
 */
import type { XdsResource, XdsTypeUrl } from "./xds-resources.js";

export interface AckEvent {
  typeUrl: XdsTypeUrl;
  /** the type's version (SotW version_info, else the snapshot's version of the type) */
  version: string;
  nonce: string;
}

export interface NackEvent {
  typeUrl: XdsTypeUrl;
  nonce: string;
  error: string;
}

export interface SourceUpdateEvent {
  typeUrl: XdsTypeUrl;
  resources: ReadonlyMap<string, XdsResource>;
  source: "server" | "cache";
}

export interface XdsSource {
  start(): Promise<void>;
  close(): Promise<void>;
  /** the accepted resources of a type */
  resources(typeUrl: XdsTypeUrl): ReadonlyMap<string, XdsResource>;
  /** names the accepted Clusters and Listeners ask for that are not held yet (empty: complete) */
  missing(): Map<XdsTypeUrl, string[]>;
  /**
   * Events: `update` (SourceUpdateEvent), `ack` (AckEvent), `nack` (NackEvent); the ADS client also emits
   * `connected`, `disconnected`, `cache-loaded`, `warning` (ads-client.ts).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type
  on(event: string, listener: (...args: any[]) => void): this;
}
