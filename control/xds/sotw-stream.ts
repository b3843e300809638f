/**
 * One state-of-the-world ADS stream (`StreamAggregatedResources`). The rules, with their sources, are in
 * docs/xds.md; in short: a request whose nonce is not the latest of its type is ignored, a NACK is detected by
 * `error_detail` and nothing is resent until the type changes, full-state types (Listener, Cluster, unknown
 * types) carry the whole subscribed set in each response, named types (EDS, RDS, DRDS, ECDS, ...) carry only
 * what changed or was newly asked for.
 */
import { AdsStream } from "./ads-stream.js";
import { encodeMessage } from "./discovery-protos.js";
import { setVersion, type XdsResource } from "./snapshot.js";
import { TypeState, type PendingChange } from "./stream-state.js";
import { isFullStateType, XdsTypeUrl } from "./type-urls.js";

/** A SotW type state also remembers the version of the set it last sent (or the client said it holds). */
class SotwTypeState extends TypeState {
  version: string | undefined;
}

export class SotwStream extends AdsStream {
  declare readonly types: Map<string, SotwTypeState>;

  readonly variant = "sotw";

  onRequest(request: Record<string, unknown>): void {
    this.acceptNode(request["node"]);
    const typeUrl = this.typeUrlOf(request);
    const nonce = String(request["response_nonce"] ?? "");
    let state = this.types.get(typeUrl);
    // A nonce that is not the latest sent for this type answers an older response: stale, ignored whole.
    if (state && nonce !== "" && nonce !== state.nonce) return;
    if (!state) {
      state = new SotwTypeState();
      this.types.set(typeUrl, state);
    }
    const added = this.resubscribe(state, (request["resource_names"] as string[] | undefined) ?? []);
    const errorDetail = request["error_detail"] as Record<string, unknown> | null | undefined;
    const version = String(request["version_info"] ?? "");
    if (errorDetail) this.nack(typeUrl, state, nonce, version, errorDetail);
    else if (nonce !== "") state.lastAck = { version, nonce, at: Date.now() };
    // the version a client states on the first request of a stream: what it holds from an earlier stream
    const heldVersion = nonce === "" && state.version === undefined && version !== "" ? version : undefined;
    if (isFullStateType(typeUrl)) this.answerFullState(typeUrl, state, added.length > 0, heldVersion);
    else this.answerNamed(typeUrl, state, added);
  }

  onChange(typeUrl: string, pending: PendingChange, now: number): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    const latencyMs = now - pending.at;
    if (isFullStateType(typeUrl)) {
      if (state.version === undefined) return; // not answered yet: its request will be
      let concerns = false;
      for (const name of pending.names) {
        const r = this.ctx.snapshot.get(typeUrl, name);
        if (state.held.has(name) || (r && state.subscribed(name) && this.visible(r))) {
          concerns = true;
          break;
        }
      }
      if (!concerns) return;
      const view = this.fullView(typeUrl, state);
      const version = this.viewVersion(typeUrl, state, view);
      if (version !== state.version) this.send(typeUrl, state, view, version, latencyMs);
      return;
    }
    const changed: XdsResource[] = [];
    for (const name of pending.names) {
      const r = this.ctx.snapshot.get(typeUrl, name);
      if (!r) state.held.delete(name); // SotW has no removal for named types: forget it, so a re-creation is sent
      else if (state.subscribed(name) && this.visible(r) && state.held.get(name) !== r.version) changed.push(r);
    }
    if (changed.length > 0) this.send(typeUrl, state, changed, this.namedVersion(typeUrl, state), latencyMs);
  }

  /**
   * Applies a request's `resource_names` and returns the names newly subscribed ("*" when the wildcard is).
   * An empty list means wildcard only while no request of this type on the stream has named resources.
   */
  private resubscribe(state: SotwTypeState, names: readonly string[]): string[] {
    const added: string[] = [];
    const wasWildcard = state.wildcard;
    if (names.length === 0 && !state.explicit) state.wildcard = true;
    else {
      state.explicit = true;
      state.wildcard = names.includes("*");
      const next = new Set(names.filter((n) => n !== "*"));
      for (const name of next) if (!state.names.has(name)) added.push(name);
      for (const name of state.names) if (!next.has(name)) state.names.delete(name);
      for (const name of next) state.names.add(name);
    }
    if (state.wildcard && !wasWildcard) added.push("*");
    // names no longer subscribed are forgotten, so subscribing again sends them again
    for (const name of state.held.keys()) if (!state.subscribed(name)) state.held.delete(name);
    return added;
  }

  /** Full-state types: the whole subscribed set, when it differs from what was sent or the subscription grew. */
  private answerFullState(typeUrl: string, state: SotwTypeState, grew: boolean, heldVersion: string | undefined): void {
    const view = this.fullView(typeUrl, state);
    const version = this.viewVersion(typeUrl, state, view);
    if (state.version === undefined && heldVersion === version && this.reconnectSafe(typeUrl, state)) {
      // a reconnecting client (to this or another replica) that already holds this version: nothing to send
      state.version = version;
      for (const r of view) state.held.set(r.name, r.version);
      return;
    }
    // the first request of a type is always answered, an empty list included (istiod waits for it)
    if (state.version === undefined || version !== state.version || grew) this.send(typeUrl, state, view, version, undefined);
  }

  /**
   * Skipping the first response is safe only for a wildcard Listener/Cluster subscription: the client
   * cannot have asked for something new (xds_protocol.rst, "ACK/NACK and resource type instance version").
   */
  private reconnectSafe(typeUrl: string, state: SotwTypeState): boolean {
    return state.wildcard && state.names.size === 0 && (typeUrl === XdsTypeUrl.listener || typeUrl === XdsTypeUrl.cluster);
  }

  /** Named types: the newly subscribed resources that exist (all of them when the wildcard is new). */
  private answerNamed(typeUrl: string, state: SotwTypeState, added: readonly string[]): void {
    if (added.length === 0) return;
    const toSend: XdsResource[] = [];
    if (added.includes("*")) {
      for (const r of this.ctx.snapshot.resources(typeUrl).values()) if (this.visible(r)) toSend.push(r);
    }
    for (const name of added) {
      if (name === "*" || state.wildcard) continue;
      const r = this.ctx.snapshot.get(typeUrl, name);
      if (r && this.visible(r)) toSend.push(r);
    }
    // names that do not exist yet stay subscribed and are sent when they appear (onChange)
    if (toSend.length > 0) this.send(typeUrl, state, toSend, this.namedVersion(typeUrl, state), undefined);
  }

  /** Everything of a full-state type this stream is subscribed to and may see. */
  private fullView(typeUrl: string, state: SotwTypeState): XdsResource[] {
    const view: XdsResource[] = [];
    if (state.wildcard) {
      for (const r of this.ctx.snapshot.resources(typeUrl).values()) if (this.visible(r)) view.push(r);
    } else {
      for (const name of state.names) {
        const r = this.ctx.snapshot.get(typeUrl, name);
        if (r && this.visible(r)) view.push(r);
      }
    }
    return view;
  }

  /** The `version_info` of a full-state view: the snapshot's type version when the view is the whole type. */
  private viewVersion(typeUrl: string, state: SotwTypeState, view: readonly XdsResource[]): string {
    return state.wildcard && !this.scope ? this.ctx.snapshot.version(typeUrl) : setVersion(view);
  }

  /** The `version_info` of a named type's response: the type's version, or of the part a scoped node sees. */
  private namedVersion(typeUrl: string, state: SotwTypeState): string {
    if (!this.scope) return this.ctx.snapshot.version(typeUrl);
    const seen: XdsResource[] = [];
    for (const r of this.ctx.snapshot.resources(typeUrl).values()) if (state.subscribed(r.name) && this.visible(r)) seen.push(r);
    return setVersion(seen);
  }

  private send(typeUrl: string, state: SotwTypeState, resources: readonly XdsResource[], version: string, latencyMs: number | undefined): void {
    const nonce = this.nextNonce();
    const message = encodeMessage(this.responseType, {
      version_info: version,
      type_url: typeUrl,
      nonce,
      resources: resources.map((r) => ({ type_url: r.anyTypeUrl ?? r.typeUrl, value: r.bytes })),
    });
    if (isFullStateType(typeUrl)) state.held.clear();
    for (const r of resources) state.held.set(r.name, r.version);
    state.version = version;
    this.write(typeUrl, state, message, { version, nonce, resources: resources.map((r) => r.name), removed: [], latencyMs });
  }
}
