/**
 * An `XdsSource` reading a `SnapshotCache` in the same process — the standalone proxy's control plane built in
 * process (`in-process-control.ts`). It plays the part of an ADS stream without the network: every change of a
 * type is decoded from the snapshot's encoded bytes with the same `decodeResource` the ADS client uses, handed
 * to the same validator, and then accepted (`ack`, `update`) or rejected (`nack`, the last good resources stay),
 * type by type in Envoy's order (CDS, EDS, LDS, DRDS, ECDS). Each change is judged on the type's whole state in
 * the snapshot, as a SotW response would be, so a later good change replaces a rejected one.
 */
import { EventEmitter } from "node:events";
import type { SnapshotCache } from "../../control/xds/snapshot.js";
import type { Validator } from "./ads-client.js";
import { decodeResource, dependentNames, XDS_TYPES, XdsType, type XdsResource, type XdsTypeUrl } from "./xds-resources.js";
import type { SourceUpdateEvent, XdsSource } from "./xds-source.js";

export class SnapshotSource extends EventEmitter implements XdsSource {
  private readonly state = new Map<XdsTypeUrl, ReadonlyMap<string, XdsResource>>();
  private readonly pending = new Set<XdsTypeUrl>();
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private nonce = 0;

  constructor(
    private readonly snapshot: SnapshotCache,
    private readonly validate: Validator,
  ) {
    super();
    for (const type of XDS_TYPES) this.state.set(type, new Map());
  }

  /** Takes every type the snapshot holds now (resolved once they are judged), then follows its changes. */
  async start(): Promise<void> {
    this.unsubscribe = this.snapshot.onChange((change) => {
      if (!(XDS_TYPES as readonly string[]).includes(change.typeUrl)) return;
      const first = this.pending.size === 0;
      this.pending.add(change.typeUrl as XdsTypeUrl);
      // one publish changes several types in one run: judge them together, in order, after it
      if (first) this.running = this.running.then(() => Promise.resolve()).then(() => this.drain());
    });
    for (const type of XDS_TYPES) this.pending.add(type);
    this.emit("connected", { protocol: "in-process" });
    this.running = this.running.then(() => this.drain());
    await this.running;
  }

  /** Resolves once every change seen so far has been judged. */
  settled(): Promise<void> {
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    await this.running;
  }

  resources(typeUrl: XdsTypeUrl): ReadonlyMap<string, XdsResource> {
    return this.state.get(typeUrl)!;
  }

  missing(): Map<XdsTypeUrl, string[]> {
    const out = new Map<XdsTypeUrl, string[]>();
    for (const [type, names] of dependentNames(this.state.get(XdsType.cluster)!.values(), this.state.get(XdsType.listener)!.values())) {
      const have = this.state.get(type)!;
      const absent = [...names].filter((n) => !have.has(n));
      if (absent.length > 0) out.set(type, absent);
    }
    return out;
  }

  private async drain(): Promise<void> {
    for (const type of XDS_TYPES) {
      if (this.closed) return;
      if (!this.pending.delete(type)) continue;
      await this.judge(type);
    }
  }

  private async judge(typeUrl: XdsTypeUrl): Promise<void> {
    const held = this.state.get(typeUrl)!;
    const next = new Map<string, XdsResource>();
    const received: XdsResource[] = [];
    const nonce = String(++this.nonce);
    let error: string | null = null;
    for (const [name, r] of this.snapshot.resources(typeUrl)) {
      const had = held.get(name);
      if (had !== undefined && had.version === r.version) {
        next.set(name, had);
        continue;
      }
      try {
        const decoded: XdsResource = { name, version: r.version, resource: decodeResource(typeUrl, r.bytes), bytes: r.bytes };
        received.push(decoded);
        next.set(name, decoded);
      } catch (err) {
        error = `${name}: ${(err as Error).message}`;
        break;
      }
    }
    if (error === null && received.length === 0 && next.size === held.size) return; // nothing changed for this source
    if (error === null) {
      try {
        error = await this.validate(typeUrl, received, next);
      } catch (err) {
        error = `validation failed: ${(err as Error).message}`;
      }
    }
    if (this.closed) return;
    if (error !== null) {
      this.emit("nack", { typeUrl, nonce, error });
      return;
    }
    this.state.set(typeUrl, next);
    this.emit("ack", { typeUrl, version: this.snapshot.version(typeUrl), nonce });
    const event: SourceUpdateEvent = { typeUrl, resources: next, source: "server" };
    this.emit("update", event);
  }
}
