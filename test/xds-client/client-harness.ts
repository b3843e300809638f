/**
 * An AdsClient under test with everything it emits recorded, and the server it talks to.
 */
import { AdsClient, type AdsClientOptions, type UpdateEvent } from "../../proxy/xds/ads-client.js";
import type { XdsTypeUrl } from "../../proxy/xds/xds-resources.js";

export interface Recorded {
  updates: UpdateEvent[];
  acks: { typeUrl: string; nonce: string; version: string }[];
  nacks: { typeUrl: string; nonce: string; error: string }[];
  connected: { protocol: string }[];
  disconnected: { protocol: string; code: number; details: string; retryInMs: number }[];
  cacheLoaded: { dir: string; savedAt: Date; message: string }[];
  cacheSaved: { file: string }[];
  warnings: { message: string }[];
}

export function recordedClient(options: AdsClientOptions): { client: AdsClient; events: Recorded } {
  const client = new AdsClient({ backoff: { baseMs: 20, maxMs: 200 }, node: { id: "test-node" }, ...options });
  const events: Recorded = { updates: [], acks: [], nacks: [], connected: [], disconnected: [], cacheLoaded: [], cacheSaved: [], warnings: [] };
  client.on("update", (e: UpdateEvent) => events.updates.push(e));
  client.on("ack", (e) => events.acks.push(e));
  client.on("nack", (e) => events.nacks.push(e));
  client.on("connected", (e) => events.connected.push(e));
  client.on("disconnected", (e) => events.disconnected.push(e));
  client.on("cache-loaded", (e) => events.cacheLoaded.push(e));
  client.on("cache-saved", (e) => events.cacheSaved.push(e));
  client.on("warning", (e) => events.warnings.push(e));
  return { client, events };
}

/** name → version of a type's current state. */
export function versions(client: AdsClient, typeUrl: XdsTypeUrl): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, r] of client.resources(typeUrl)) out[name] = r.version;
  return out;
}
