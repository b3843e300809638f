/**
 * Puts generated resources into the snapshot cache the ADS server serves, encoding each one once: the
 * generators return the same object for an unchanged resource (their per-service cache), so a resource
 * object seen before keeps its encoded bytes and version, and one endpoint change re-encodes only the
 * resources of that service. The cache (one WeakMap, keyed by the generated object) holds nothing the
 * generators have dropped.
 */
import type { SnapshotCache, XdsResource } from "../xds/snapshot.js";
import { makeResource } from "../xds/snapshot.js";

/** One generated resource: its name, the object to encode, and the Dubbo interface it is about (scoped pushes). */
export interface GeneratedResource<T extends object = object> {
  readonly name: string;
  readonly object: T;
  readonly scope?: string;
}

/** Encodes a generated object of a type into the bytes of its message. */
export type Encoder = (typeUrl: string, object: object) => Uint8Array;

export interface PublishResult {
  /** per type URL: how many resources were added or changed, and removed */
  changed: Record<string, { upserted: number; removed: number }>;
  /** resources encoded by this publish (the others were reused) */
  encoded: number;
}

export class Publisher {
  /** per generated object, its encoded resource under each type URL it was published as (MCP: several spellings) */
  private readonly encoded = new WeakMap<object, XdsResource[]>();

  constructor(
    private readonly cache: SnapshotCache,
    private readonly encode: Encoder,
    /** the `Any` type URL when it is not the subscription's (MCP) */
    private readonly anyTypeUrl?: (typeUrl: string) => string | undefined,
  ) {}

  /**
   * Replaces the content of each given type with `types`' resources (types not given are left alone). Every
   * resource is encoded before the cache changes: one that cannot be encoded throws and changes nothing.
   */
  publish(types: ReadonlyMap<string, readonly GeneratedResource[]>): PublishResult {
    const result: PublishResult = { changed: {}, encoded: 0 };
    const encoded: [string, XdsResource[]][] = [];
    for (const [typeUrl, generated] of types) {
      const resources: XdsResource[] = [];
      for (const g of generated) {
        let held = this.encoded.get(g.object);
        if (held === undefined) this.encoded.set(g.object, (held = []));
        let r = held.find((e) => e.typeUrl === typeUrl && e.name === g.name && e.scope === g.scope);
        if (r === undefined) {
          const anyTypeUrl = this.anyTypeUrl?.(typeUrl);
          // the same object under another type URL (an MCP spelling of its kind) shares the encoding
          let bytes = held[0]?.bytes;
          if (bytes === undefined) {
            bytes = this.encode(typeUrl, g.object);
            result.encoded++;
          }
          r = makeResource(typeUrl, g.name, bytes, {
            ...(g.scope !== undefined ? { scope: g.scope } : {}),
            ...(anyTypeUrl !== undefined ? { anyTypeUrl } : {}),
          });
          held.push(r);
        }
        resources.push(r);
      }
      encoded.push([typeUrl, resources]);
    }
    for (const [typeUrl, resources] of encoded) {
      const change = this.cache.setType(typeUrl, resources);
      if (change) result.changed[typeUrl] = { upserted: change.upserted.length, removed: change.removed.length };
    }
    return result;
  }
}
