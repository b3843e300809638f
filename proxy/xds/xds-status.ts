/**
 * What the proxy shows of its xDS state in /config_dump: per type, the version and names in force, and the last
 * accepted (ACK) and rejected (NACK) change with its error — fed by an `XdsSource`'s events.
 */
import type { AckEvent, NackEvent, SourceUpdateEvent, XdsSource } from "./xds-source.js";
import { XDS_TYPES, type XdsTypeUrl } from "./xds-resources.js";

export interface TypeStatus {
  version: string;
  /** name → the resource's own version */
  resources: Record<string, string>;
  lastAck: { version: string; nonce: string; at: string } | null;
  lastNack: { nonce: string; error: string; at: string } | null;
}

export class XdsStatus {
  private readonly types = new Map<XdsTypeUrl, TypeStatus>();
  connected = false;
  lastConnected: string | null = null;
  cacheLoaded: string | null = null;

  constructor(source: XdsSource) {
    for (const t of XDS_TYPES) this.types.set(t, { version: "", resources: {}, lastAck: null, lastNack: null });
    source.on("ack", (e: AckEvent) => {
      const s = this.types.get(e.typeUrl)!;
      s.version = e.version;
      s.lastAck = { version: e.version, nonce: e.nonce, at: new Date().toISOString() };
    });
    source.on("nack", (e: NackEvent) => {
      this.types.get(e.typeUrl)!.lastNack = { nonce: e.nonce, error: e.error, at: new Date().toISOString() };
    });
    source.on("update", (e: SourceUpdateEvent) => {
      const s = this.types.get(e.typeUrl)!;
      s.resources = Object.fromEntries([...e.resources.values()].map((r) => [r.name, r.version]));
    });
    source.on("connected", () => {
      this.connected = true;
      this.lastConnected = new Date().toISOString();
    });
    source.on("disconnected", () => {
      this.connected = false;
    });
    source.on("cache-loaded", (e: { message: string }) => {
      this.cacheLoaded = e.message;
    });
  }

  /** The last NACK of a type, if any. */
  lastNack(typeUrl: XdsTypeUrl): TypeStatus["lastNack"] {
    return this.types.get(typeUrl)!.lastNack;
  }

  toJSON(): unknown {
    return {
      connected: this.connected,
      lastConnected: this.lastConnected,
      cacheLoaded: this.cacheLoaded,
      types: Object.fromEntries(this.types),
    };
  }
}
