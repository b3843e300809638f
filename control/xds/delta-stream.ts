/**
 * One incremental ADS stream (`DeltaAggregatedResources`). Per type it tracks the version of each resource
 * the client holds, and sends only resources whose version differs, plus `removed_resources`. Subscription
 * changes are honoured whatever the nonce; `initial_resource_versions` on a type's first request say what a
 * reconnecting client already holds. Rules and sources: docs/xds.md.
 */
import { AdsStream } from "./ads-stream.js";
import { encodeMessage } from "./discovery-protos.js";
import type { XdsResource } from "./snapshot.js";
import { TypeState, type PendingChange } from "./stream-state.js";

export class DeltaStream extends AdsStream {
  readonly variant = "delta";

  onRequest(request: Record<string, unknown>): void {
    this.acceptNode(request["node"]);
    const typeUrl = this.typeUrlOf(request);
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = new TypeState();
      this.types.set(typeUrl, state);
    }
    const subscribe = (request["resource_names_subscribe"] as string[] | undefined) ?? [];
    const unsubscribe = (request["resource_names_unsubscribe"] as string[] | undefined) ?? [];
    const initial = first ? ((request["initial_resource_versions"] as Record<string, string> | undefined) ?? {}) : {};
    for (const [name, version] of Object.entries(initial)) state.held.set(name, version);

    // names whose state must be sent whatever the client holds (a subscription, even a repeated one, is answered)
    const forced = new Set<string>();
    let wildcardAdded = false;
    if (first && subscribe.length === 0 && unsubscribe.length === 0) {
      state.wildcard = wildcardAdded = true; // legacy wildcard: a first request naming nothing
    }
    for (const name of subscribe) {
      if (name === "*") {
        wildcardAdded ||= !state.wildcard;
        state.wildcard = true;
        continue;
      }
      state.explicit = true;
      state.names.add(name);
      if (!(name in initial)) forced.add(name);
    }
    let wildcardDropped = false;
    for (const name of unsubscribe) {
      if (name === "*") {
        wildcardDropped = state.wildcard;
        state.wildcard = false;
        continue;
      }
      state.names.delete(name);
      // still covered by the wildcard? then the client must be told whether it keeps it (xds_protocol.rst)
      if (state.wildcard) forced.add(name);
      else state.held.delete(name);
    }
    if (wildcardDropped) for (const name of state.held.keys()) if (!state.names.has(name)) state.held.delete(name);

    const nonce = String(request["response_nonce"] ?? "");
    const errorDetail = request["error_detail"] as Record<string, unknown> | null | undefined;
    if (errorDetail) this.nack(typeUrl, state, nonce, nonce === state.nonce ? (state.lastSent?.version ?? "") : "", errorDetail);
    else if (nonce !== "" && nonce === state.nonce) state.lastAck = { version: state.lastSent?.version ?? "", nonce, at: Date.now() };

    let candidates: Iterable<string>;
    if (first || wildcardAdded) {
      const all = new Set<string>(state.held.keys());
      for (const name of state.names) all.add(name);
      if (state.wildcard) for (const name of this.ctx.snapshot.resources(typeUrl).keys()) all.add(name);
      for (const name of forced) all.add(name);
      candidates = all;
    } else candidates = forced;
    for (const name of forced) state.held.delete(name);
    const { resources, removed } = this.diff(typeUrl, state, candidates, forced);
    // a type's first request is answered even when empty, unless the client said what it holds (reconnect)
    const mustAnswer = first && Object.keys(initial).length === 0;
    if (resources.length > 0 || removed.length > 0 || mustAnswer) this.send(typeUrl, state, resources, removed, undefined);
  }

  onChange(typeUrl: string, pending: PendingChange, now: number): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    const { resources, removed } = this.diff(typeUrl, state, pending.names, emptySet);
    if (resources.length > 0 || removed.length > 0) this.send(typeUrl, state, resources, removed, now - pending.at);
  }

  /**
   * Compares the candidates with what the client holds: resources it should have at another version are
   * sent, names it holds but should not (removed, out of scope) are removed, and so are forced names that do
   * not exist (so the client knows at once). Updates `held` to what the response will leave the client with.
   */
  private diff(typeUrl: string, state: TypeState, candidates: Iterable<string>, forced: ReadonlySet<string>): { resources: XdsResource[]; removed: string[] } {
    const resources: XdsResource[] = [];
    const removed: string[] = [];
    for (const name of candidates) {
      const r = this.ctx.snapshot.get(typeUrl, name);
      if (r && state.subscribed(name) && this.visible(r)) {
        if (state.held.get(name) !== r.version) {
          resources.push(r);
          state.held.set(name, r.version);
        }
      } else if (state.held.delete(name) || forced.has(name)) removed.push(name);
    }
    return { resources, removed };
  }

  private send(typeUrl: string, state: TypeState, resources: readonly XdsResource[], removed: readonly string[], latencyMs: number | undefined): void {
    const nonce = this.nextNonce();
    const version = this.ctx.snapshot.version(typeUrl);
    const message = encodeMessage(this.responseType, {
      system_version_info: version,
      type_url: typeUrl,
      nonce,
      resources: resources.map((r) => ({ name: r.name, version: r.version, resource: { type_url: r.anyTypeUrl ?? r.typeUrl, value: r.bytes } })),
      removed_resources: removed,
    });
    this.write(typeUrl, state, message, { version, nonce, resources: resources.map((r) => r.name), removed, latencyMs });
  }
}

const emptySet: ReadonlySet<string> = new Set();
