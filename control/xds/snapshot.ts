/**
 * The snapshot cache the ADS server serves: per type URL, the current resources by name, each already
 * encoded. A resource is encoded once per change by its producer; every stream shares its bytes.
 *
 * Versions are content hashes, so two control-plane replicas fed the same model hold the same versions: a
 * resource's version is a hash of its bytes, a type's version a hash of its set of `name:version` pairs.
 * A proxy that reconnects to another replica is therefore sent nothing it already has (see docs/xds.md).
 *
 * Ownership: the cache keeps the `XdsResource` objects it is given and never copies or alters their bytes;
 * callers must not alter them either. Maps returned by `resources()` must not be altered.
 */
import { createHash } from "node:crypto";

/** One encoded resource. */
export interface XdsResource {
  /** The resource's name (a Cluster's name, a ClusterLoadAssignment's cluster_name, ...). */
  readonly name: string;
  /** The type URL it is served under (the subscription's type URL). */
  readonly typeUrl: string;
  /** The encoded resource message: what goes into `Any.value`. */
  readonly bytes: Uint8Array;
  /** A stable hash of `bytes`: the same on every replica. */
  readonly version: string;
  /**
   * The `Any.type_url` when it differs from `typeUrl` — MCP serves `istio.mcp.v1alpha1.Resource` messages
   * under Istio GVK type URLs such as `networking.istio.io/v1alpha3/ServiceEntry`.
   */
  readonly anyTypeUrl?: string;
  /**
   * What the resource is about for scoped pushes (e.g. a Dubbo interface name): a node that lists the
   * services it consumes receives only resources whose scope it lists. No scope: sent to every node.
   */
  readonly scope?: string;
}

/** What one `update`/`setType` changed. */
export interface SnapshotChange {
  readonly typeUrl: string;
  /** Names added or whose version changed. */
  readonly upserted: readonly string[];
  /** Names removed. */
  readonly removed: readonly string[];
  /** `performance.now()` when the change was made (for push latency). */
  readonly at: number;
}

export type SnapshotListener = (change: SnapshotChange) => void;

/** The first 16 hex digits (64 bits) of a SHA-256: short, and collisions are not a practical concern here. */
export function contentHash(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

/** A resource with its version computed from its bytes. */
export function makeResource(
  typeUrl: string,
  name: string,
  bytes: Uint8Array,
  options: { scope?: string; anyTypeUrl?: string } = {},
): XdsResource {
  if (!name) throw new Error(`a resource of ${typeUrl} needs a name`);
  const resource: { -readonly [K in keyof XdsResource]: XdsResource[K] } = { name, typeUrl, bytes, version: contentHash(bytes) };
  if (options.scope !== undefined) resource.scope = options.scope;
  if (options.anyTypeUrl !== undefined) resource.anyTypeUrl = options.anyTypeUrl;
  return resource;
}

/** The 64-bit hash of one resource's `name:version` pair. */
function pairHash(r: XdsResource): bigint {
  return BigInt(`0x${contentHash(`${r.name}\u0000${r.version}`)}`);
}

function versionOfSum(sum: bigint): string {
  return BigInt.asUintN(64, sum).toString(16).padStart(16, "0");
}

/**
 * The version of a set of resources: the sum modulo 2^64 of the hashes of their `name:version` pairs (a
 * multiset hash: independent of order, and kept up to date per change by the cache instead of re-sorting
 * every name). Identical sets give identical versions on every replica.
 */
export function setVersion(resources: Iterable<XdsResource>): string {
  let sum = 0n;
  for (const r of resources) sum += pairHash(r);
  return versionOfSum(sum);
}

interface TypeEntry {
  readonly resources: Map<string, XdsResource>;
  /** The sum of the resources' pair hashes (`setVersion`), updated with each change. */
  sum: bigint;
}

export class SnapshotCache {
  private readonly types = new Map<string, TypeEntry>();
  private readonly listeners = new Set<SnapshotListener>();

  /** Calls `listener` after every effective change (none for an update that changes nothing). Returns an unsubscribe function. */
  onChange(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Adds or replaces `upserts` and removes the `removals` names of one type. A resource whose version is
   * unchanged, or a removal of a name not held, changes nothing. Returns the change, or undefined when
   * nothing changed (and then no listener is called).
   */
  update(typeUrl: string, upserts: Iterable<XdsResource>, removals: Iterable<string> = []): SnapshotChange | undefined {
    const entry = this.entry(typeUrl);
    const upserted: string[] = [];
    const removed: string[] = [];
    const seen = new Set<string>();
    for (const r of upserts) {
      checkResource(typeUrl, r);
      if (seen.has(r.name)) throw new Error(`${typeUrl}: resource '${r.name}' given twice in one update`);
      seen.add(r.name);
      const held = entry.resources.get(r.name);
      if (held?.version === r.version && sameDelivery(held, r)) continue;
      if (held?.version !== r.version) entry.sum += pairHash(r) - (held ? pairHash(held) : 0n);
      entry.resources.set(r.name, r);
      upserted.push(r.name);
    }
    for (const name of removals) {
      if (seen.has(name)) throw new Error(`${typeUrl}: resource '${name}' both upserted and removed in one update`);
      const held = entry.resources.get(name);
      if (held === undefined) continue;
      entry.resources.delete(name);
      entry.sum -= pairHash(held);
      removed.push(name);
    }
    return this.changed(typeUrl, upserted, removed);
  }

  /** Replaces the whole content of one type: names not in `resources` are removed. */
  setType(typeUrl: string, resources: Iterable<XdsResource>): SnapshotChange | undefined {
    const entry = this.entry(typeUrl);
    const next = new Map<string, XdsResource>();
    for (const r of resources) {
      checkResource(typeUrl, r);
      if (next.has(r.name)) throw new Error(`${typeUrl}: resource '${r.name}' given twice`);
      next.set(r.name, r);
    }
    const removals = [...entry.resources.keys()].filter((name) => !next.has(name));
    return this.update(typeUrl, next.values(), removals);
  }

  /** The type URLs that hold or held resources. */
  typeUrls(): string[] {
    return [...this.types.keys()];
  }

  /** The resources of one type by name (empty when the type is unknown). Must not be altered. */
  resources(typeUrl: string): ReadonlyMap<string, XdsResource> {
    return this.types.get(typeUrl)?.resources ?? emptyMap;
  }

  get(typeUrl: string, name: string): XdsResource | undefined {
    return this.types.get(typeUrl)?.resources.get(name);
  }

  /** The version of one type: `setVersion` of its resources (the same for an unknown type as for an empty one). */
  version(typeUrl: string): string {
    const entry = this.types.get(typeUrl);
    return entry ? versionOfSum(entry.sum) : emptyVersion;
  }

  private entry(typeUrl: string): TypeEntry {
    let entry = this.types.get(typeUrl);
    if (!entry) {
      if (!typeUrl) throw new Error("a snapshot type URL must not be empty");
      entry = { resources: new Map(), sum: 0n };
      this.types.set(typeUrl, entry);
    }
    return entry;
  }

  private changed(typeUrl: string, upserted: string[], removed: string[]): SnapshotChange | undefined {
    if (upserted.length === 0 && removed.length === 0) return undefined;
    const change: SnapshotChange = { typeUrl, upserted, removed, at: performance.now() };
    for (const listener of this.listeners) listener(change);
    return change;
  }
}

const emptyMap: ReadonlyMap<string, XdsResource> = new Map();
const emptyVersion = setVersion([]);

function checkResource(typeUrl: string, r: XdsResource): void {
  if (r.typeUrl !== typeUrl) throw new Error(`resource '${r.name}' has type ${r.typeUrl}, not ${typeUrl}`);
  if (!r.name) throw new Error(`a resource of ${typeUrl} has an empty name`);
  if (!(r.bytes instanceof Uint8Array)) throw new Error(`resource '${r.name}' of ${typeUrl} has no encoded bytes`);
}

/** Same scope and Any type: a resource with equal bytes but a new scope must still be stored. */
function sameDelivery(a: XdsResource, b: XdsResource): boolean {
  return a.scope === b.scope && a.anyTypeUrl === b.anyTypeUrl;
}
