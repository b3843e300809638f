/**
 * What the SotW and Delta streams have in common: the node, its scope, per-type state, nonces, and writing a
 * response (counted, and reported to the `onPush` hook).
 */
import type * as grpc from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { structToJson } from "./discovery-protos.js";
import { nodeScope, type NodeScope } from "./node-scope.js";
import { TypeState, visibleTo, type NodeInfo, type PendingChange, type PushEvent, type StreamContext, type StreamStatus, type TypeStatus, type Variant } from "./stream-state.js";
import type { XdsResource } from "./snapshot.js";
import type protobuf from "protobufjs";

export type AdsCall = grpc.ServerDuplexStream<Record<string, unknown>, Buffer>;

/** An error that ends the stream with a gRPC status (`INVALID_ARGUMENT` for a bad request). */
export class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export abstract class AdsStream {
  readonly connectedAt = Date.now();
  node: NodeInfo | undefined;
  scope: NodeScope | undefined;
  readonly types = new Map<string, TypeState>();
  private readonly noncePrefix = randomBytes(4).toString("hex");
  private nonceCount = 0;

  /** Which of the two ADS methods the stream serves. */
  abstract readonly variant: Variant;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly call: AdsCall,
    readonly id: number,
    /** the variant's response message (DiscoveryResponse or DeltaDiscoveryResponse) */
    protected readonly responseType: protobuf.Type,
  ) {}

  /** Handles one request: subscriptions, ACK/NACK, and whatever response it calls for. */
  abstract onRequest(request: Record<string, unknown>): void;

  /** Pushes what a snapshot change of `typeUrl` means for this stream (nothing when it does not concern it). */
  abstract onChange(typeUrl: string, pending: PendingChange, now: number): void;

  /** Takes the node from a request that carries one (only the first request surely does). */
  protected acceptNode(node: unknown): void {
    if (this.node || !node) return;
    const n = node as Record<string, unknown>;
    const metadata = structToJson(n["metadata"]);
    try {
      this.scope = nodeScope(metadata);
    } catch (err) {
      throw new StreamError(grpcStatus.INVALID_ARGUMENT, (err as Error).message);
    }
    this.node = { id: String(n["id"] ?? ""), cluster: String(n["cluster"] ?? ""), metadata, userAgent: String(n["user_agent_name"] ?? "") };
  }

  protected typeUrlOf(request: Record<string, unknown>): string {
    const typeUrl = request["type_url"];
    if (typeof typeUrl !== "string" || typeUrl === "") {
      throw new StreamError(grpcStatus.INVALID_ARGUMENT, `${this.variant === "sotw" ? "DiscoveryRequest" : "DeltaDiscoveryRequest"} without type_url`);
    }
    return typeUrl;
  }

  protected nextNonce(): string {
    return `${this.noncePrefix}-${++this.nonceCount}`;
  }

  protected visible(resource: XdsResource): boolean {
    return visibleTo(this.scope, resource);
  }

  /** Records a NACK on the type's state and reports it. */
  protected nack(typeUrl: string, state: TypeState, nonce: string, version: string, errorDetail: Record<string, unknown>): void {
    const code = Number(errorDetail["code"] ?? 0);
    const message = String(errorDetail["message"] ?? "");
    state.lastNack = { version, nonce, at: Date.now(), code, message };
    const event = { streamId: this.id, nodeId: this.node?.id ?? "", variant: this.variant, typeUrl, nonce, version, code, message };
    this.ctx.recordNack(event);
    this.ctx.hooks.onNack?.(event);
  }

  /** Writes an encoded response and records it as the type's latest. */
  protected write(
    typeUrl: string,
    state: TypeState,
    message: Buffer,
    sent: { version: string; nonce: string; resources: readonly string[]; removed: readonly string[]; latencyMs: number | undefined },
  ): void {
    this.call.write(message);
    state.nonce = sent.nonce;
    state.lastSent = { version: sent.version, nonce: sent.nonce, at: Date.now(), resources: sent.resources.length, removed: sent.removed.length };
    const event: PushEvent = { streamId: this.id, nodeId: this.node?.id ?? "", variant: this.variant, typeUrl, bytes: message.length, ...sent };
    this.ctx.recordPush(event);
    this.ctx.hooks.onPush?.(event);
  }

  status(): StreamStatus {
    const types: Record<string, TypeStatus> = {};
    for (const [typeUrl, state] of this.types) types[typeUrl] = state.toJSON();
    return {
      id: this.id,
      variant: this.variant,
      peer: this.call.getPeer(),
      connectedAt: this.connectedAt,
      node: this.node,
      scope: this.scope ? [...this.scope.patterns] : null,
      types,
    };
  }

  /** Ends the stream with status OK (the server is stopping). */
  end(): void {
    this.call.end();
  }
}
