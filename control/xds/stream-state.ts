/**
 * What the server keeps per ADS stream and per type, shared by the SotW and Delta streams, and the JSON form
 * of it that `AdsServer.status()` returns (the admin API's `/nodes`).
 */
import type { NodeScope } from "./node-scope.js";
import type { SnapshotCache, XdsResource } from "./snapshot.js";

export type Variant = "sotw" | "delta";

/** A response written on a stream (the `onPush` hook's argument). */
export interface PushEvent {
  readonly streamId: number;
  readonly nodeId: string;
  readonly variant: Variant;
  readonly typeUrl: string;
  /** SotW `version_info` or Delta `system_version_info`. */
  readonly version: string;
  readonly nonce: string;
  /** Names of the resources carried. */
  readonly resources: readonly string[];
  /** Delta `removed_resources`. */
  readonly removed: readonly string[];
  /** Encoded size of the response message. */
  readonly bytes: number;
  /** Milliseconds from the snapshot change that caused this push to its write; undefined for a push a request caused. */
  readonly latencyMs: number | undefined;
}

/** A NACK received (the `onNack` hook's argument). */
export interface NackEvent {
  readonly streamId: number;
  readonly nodeId: string;
  readonly variant: Variant;
  readonly typeUrl: string;
  readonly nonce: string;
  /** SotW: the version the client still uses. Delta: the version of the response it rejected. */
  readonly version: string;
  readonly code: number;
  readonly message: string;
}

/** Hooks the server calls; fill only those you need. They run synchronously: keep them cheap. */
export interface AdsHooks {
  onPush?(event: PushEvent): void;
  onNack?(event: NackEvent): void;
  onStreamOpen?(stream: StreamStatus): void;
  onStreamClose?(stream: StreamStatus): void;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  /** `node.metadata` as JSON. */
  metadata: Record<string, unknown>;
  userAgent: string;
}

/** Per type, the state of one stream (JSON). */
export interface TypeStatus {
  /** Wildcard subscription ("*" or the legacy empty first request). */
  wildcard: boolean;
  /** Explicitly subscribed names (sorted). */
  names: string[];
  /** Resources the client holds (Delta) or was last sent (SotW). */
  resourceCount: number;
  lastSent?: { version: string; nonce: string; at: number; resources: number; removed: number };
  lastAck?: { version: string; nonce: string; at: number };
  lastNack?: { version: string; nonce: string; at: number; code: number; message: string };
}

/** One connected stream (JSON). */
export interface StreamStatus {
  id: number;
  variant: Variant;
  peer: string;
  connectedAt: number;
  node: NodeInfo | undefined;
  /** `DUBBO_MESH_SERVICES` of the node, or null when it receives everything. */
  scope: string[] | null;
  types: Record<string, TypeStatus>;
}

/** Everything the server shares with its streams. */
export interface StreamContext {
  readonly snapshot: SnapshotCache;
  readonly hooks: AdsHooks;
  /** Records a push in the server's counters. */
  recordPush(event: PushEvent): void;
  recordNack(event: NackEvent): void;
}

/** What a stream tracks per type. */
export class TypeState {
  wildcard = false;
  /** True once a request named resources (then an empty list no longer means wildcard). */
  explicit = false;
  readonly names = new Set<string>();
  /** Delta: the version of each resource the client holds. SotW: of each resource last sent. */
  readonly held = new Map<string, string>();
  /** The nonce of the latest response of this type. */
  nonce: string | undefined;
  lastSent: TypeStatus["lastSent"];
  lastAck: TypeStatus["lastAck"];
  lastNack: TypeStatus["lastNack"];

  subscribed(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  toJSON(): TypeStatus {
    const out: TypeStatus = { wildcard: this.wildcard, names: [...this.names].sort(), resourceCount: this.held.size };
    if (this.lastSent) out.lastSent = this.lastSent;
    if (this.lastAck) out.lastAck = this.lastAck;
    if (this.lastNack) out.lastNack = this.lastNack;
    return out;
  }
}

/** Whether `scope` lets a node see `resource`. */
export function visibleTo(scope: NodeScope | undefined, resource: XdsResource): boolean {
  return scope === undefined || resource.scope === undefined || scope.matches(resource.scope);
}

/** The pending changes of one type, merged until the next flush. */
export interface PendingChange {
  readonly names: Set<string>;
  /** `performance.now()` of the earliest change merged. */
  readonly at: number;
}
