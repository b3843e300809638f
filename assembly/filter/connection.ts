// The connection context: whole Dubbo frames in, whole (possibly rewritten) frames out.
//
// Envoy's network-filter model: on_downstream_data sees the connection's whole read buffer; Continue
// hands ALL of it to the next filter (tcp_proxy or dubbo_proxy), Pause holds all of it. On every call the
// filter first walks the frame headers of the buffer (nothing but headers is looked at) to find where the
// complete frames end:
//   - when the buffer holds no complete frame (a frame still arriving), or a large part of the next frame
//     after the complete ones, it returns Pause and leaves every byte in the host's buffer: nothing of a
//     partial frame is copied into the module, and until the host holds `waitFor` bytes (the end of that
//     frame, known from its header) later calls return Pause without reading anything;
//   - otherwise it decodes the complete frames, replaces the buffer with them (replace-prefix:
//     proxy_set_buffer_bytes(DownstreamData, 0, size, ...)), rewritten where needed, and returns Continue.
//     A small partial tail after them (at most SMALL_TAIL bytes) is kept in the module and prepended to the
//     next call's bytes, so a read that ends a little into the next frame does not hold back the frames
//     before it.
// So the module's memory is bounded by about one maximum frame (the shared read and encoder areas) however
// many connections hold partial frames. A body over maxBodyBytes is refused from its header.
//
// Per request: decode -> route() -> deny or: count, set the tcp_proxy cluster on the first request
// (set_envoy_filter_state), report to the optional host extension, update the access-log properties, and
// re-encode the request with the route attachment. A denied request is answered for itself where the next
// stage can answer one request: our host (the extension, told with FLAG_DENIED) or Envoy's dubbo_proxy (the
// route attachment carries DENY_MARKER + the rule, which no generated route matches). Only with rewrite off
// (tcp_proxy mode) does a deny close the connection. Heartbeats, events and responses pass untouched.
// Upstream data passes untouched; its frame headers are scanned for response-status counters.
//
// Legal here: DownstreamData / UpstreamData buffers inside the matching callback, proxy_close_stream,
// properties (per connection filter state in Envoy), metrics, foreign functions, logs.

import { Context, FilterStatusValues } from "@gcoredev/proxy-wasm-sdk-as/assembly";
import { PeerTypeValues } from "@gcoredev/proxy-wasm-sdk-as/assembly/runtime";
import { CodecError, DecodeStatus, Decoder, Encoder, Frame, FrameKind } from "../codec/index";
import { Outcome, RouteDecision, route } from "../router/route";
import {
  BufferType,
  closeStream,
  readBufferBytes,
  lastReadLength,
  getProperty,
  hostLog,
  lastStatus,
  Level,
  logEnabled,
  refreshLogLevel,
  setBufferBytes,
  setBufferBytesFrom,
  setProperty,
  Status,
  statusName,
  StreamType,
} from "../hostcalls";
import { FilterConfig, NonDubboPolicy } from "./config";
import { HashKeyKind } from "../router/route-table";
import { FrameView } from "./frame-view";
import { FilterMetrics } from "./metrics";
import { FLAG_DENIED, FLAG_NO_DESTINATION, FLAG_TWO_WAY, reportRoute, routeExtensionAvailable } from "./route-extension";
import { setTcpProxyCluster } from "./envoy-filter-state";
import { Plugin } from "./plugin";
import { DubboMeshRoot } from "./root";

const enum Mode {
  /** Decoding frames. */
  Parsing = 0,
  /** Not Dubbo and the policy is `passthrough`: everything passes, nothing is parsed. */
  Passthrough = 1,
  /** The filter closed the connection (deny, malformed frame, internal failure): nothing passes. */
  Closed = 2,
}

const enum RequestAction {
  Pass = 0,
  /** Re-encode with the route attachment = the chosen cluster. */
  Rewrite = 1,
  /** Denied, the connection is closed (tcp mode). */
  Deny = 2,
  /** Denied, re-encoded with the route attachment = DENY_MARKER + rule, for dubbo_proxy to answer. */
  MarkDenied = 3,
}

/**
 * The route attachment value of a denied request in Envoy's dubbo-proxy mode: DENY_MARKER followed by the
 * rule name. No cluster name starts with '!', and the generated dubbo_proxy routes must match no value with
 * this prefix (docs/filter.md, "Deny"), so dubbo_proxy answers the request itself: "no route".
 */
export const DENY_MARKER = "!denied:";

/** Largest partial frame kept in the module after complete frames were passed (bytes). */
const SMALL_TAIL: i32 = 16 * 1024;

// Scratch shared by all connections of the VM (callbacks never interleave): reused, not reallocated.
const EMPTY = new ArrayBuffer(0);
const encoder = new Encoder();
const view = new FrameView();
const decision = new RouteDecision();

// Property paths (Envoy stores them as filter state `wasm.<path>`).
const PROP_SERVICE = String.UTF8.encode("dubbo_mesh.service");
const PROP_METHOD = String.UTF8.encode("dubbo_mesh.method");
const PROP_ROUTE = String.UTF8.encode("dubbo_mesh.route");
const PROP_CLUSTER = String.UTF8.encode("dubbo_mesh.cluster");

// Property paths read for log lines (NUL-separated segments).
const PATH_CONNECTION_ID = String.UTF8.encode("connection_id");
const PATH_SOURCE_ADDRESS = String.UTF8.encode("source\0address");

let filterStateWarnings = 0;

// UTF-8 of recent property values, found by string identity: the values are the configuration's route
// and cluster names and the service/method strings FrameView reuses while they repeat, so a value that
// flips back and forth (a weighted split) is not encoded again. Bounded: ENCODED_SLOTS entries, replaced
// round robin; an entry holds its string, so an address is never reused by another string while cached.
const ENCODED_SLOTS = 8;
const encodedText = new Array<string>();
const encodedBytes = new Array<ArrayBuffer>();
let encodedNext = 0;

function utf8Of(s: string): ArrayBuffer {
  const key = changetype<usize>(s);
  for (let i = 0, n = encodedText.length; i < n; i++) {
    if (changetype<usize>(unchecked(encodedText[i])) == key) return unchecked(encodedBytes[i]);
  }
  const bytes = String.UTF8.encode(s);
  if (encodedText.length < ENCODED_SLOTS) {
    encodedText.push(s);
    encodedBytes.push(bytes);
  } else {
    unchecked((encodedText[encodedNext] = s));
    unchecked((encodedBytes[encodedNext] = bytes));
    encodedNext = (encodedNext + 1) % ENCODED_SLOTS;
  }
  return bytes;
}

export class DubboConnection extends Context {
  /** Null when the root context's configuration was rejected (the connection is closed). */
  private plugin: Plugin | null;
  /** The plugin's newest configuration as of this connection's last read (plugin.accepted = configSeen). */
  private config: FilterConfig | null = null;
  private metrics: FilterMetrics | null = null;
  private configSeen: u32 = 0;
  private mode: Mode = Mode.Parsing;
  private decoder: Decoder = new Decoder();
  /** The incomplete tail kept between calls: pending[0, pendingLength). */
  private pending: ArrayBuffer = EMPTY;
  private pendingLength: i32 = 0;
  /** The host's buffer holds a partial frame: nothing to do until it holds this many bytes (0: not waiting). */
  private waitFor: i32 = 0;
  /** How many bytes the host held at the last Pause (for the truncated-frame log line). */
  private held: i32 = 0;
  /** Position in the client's byte stream of the first byte of this call's work (the kept tail or the buffer). */
  private streamOffset: i64 = 0;
  /** The route attachment value of the request being denied (MarkDenied). */
  private denyValue: string = "";
  private sawFrame: bool = false;
  private labelText: string | null = null;
  private filterStateDone: bool = false;
  private active: bool = false;
  // Last property values set on this connection (set again only on change).
  private lastService: string | null = null;
  private lastMethod: string | null = null;
  private lastRoute: string | null = null;
  private lastCluster: string | null = null;
  // The last routed request's values, set as properties once per call (after its last request).
  private propertiesPending: bool = false;
  private nextService: string = "";
  private nextMethod: string = "";
  private nextRoute: string = "";
  private nextCluster: string = "";
  // Upstream header scanner: bytes of the current body still to skip, the header bytes gathered so far.
  private upSkip: i64 = 0;
  private upHeader: StaticArray<u8> = new StaticArray<u8>(16);
  private upHeaderLength: i32 = 0;
  private upScanning: bool = true;

  constructor(context_id: u32, root: DubboMeshRoot) {
    super(context_id, root);
    this.plugin = root.inForce();
    if (this.plugin !== null) this.useNewestConfig(this.plugin!);
  }

  /** Routes by the plugin's newest configuration from now on (it may come from a newer root context). */
  private useNewestConfig(plugin: Plugin): void {
    const config = plugin.config!;
    this.config = config;
    this.metrics = plugin.metrics;
    this.configSeen = plugin.accepted;
    this.decoder.options.maxBodyBytes = config.maxBodyBytes;
    this.decoder.options.maxArgs = maxArgumentIndex(config) + 1;
  }

  onNewConnection(): FilterStatusValues {
    refreshLogLevel();
    const metrics = this.metrics;
    if (metrics !== null) {
      metrics.cxTotal.add(1);
      metrics.cxActive.add(1);
      this.active = true;
    }
    if (this.config === null) {
      hostLog(Level.Error, "dubbo-mesh: no valid plugin configuration; closing connection " + this.label());
      this.closeDownstream();
    }
    // Continue: tcp_proxy (with early data / connect-on-data) or dubbo_proxy decide when to connect.
    return FilterStatusValues.Continue;
  }

  onDownstreamData(size: usize, end: bool): FilterStatusValues {
    const status = this.downstreamData(size, end);
    // Request counters are counted per request and handed to the host once per call.
    const metrics = this.metrics;
    if (metrics !== null) metrics.flush();
    return status;
  }

  private downstreamData(size: usize, end: bool): FilterStatusValues {
    const plugin = this.plugin;
    if (plugin !== null && plugin.accepted != this.configSeen) this.useNewestConfig(plugin);
    const n = <i32>size;
    const metrics = this.metrics;
    if (metrics !== null && n > 0) metrics.downstreamBytes.add(n);
    if (this.mode == Mode.Passthrough) return FilterStatusValues.Continue;
    if (this.mode == Mode.Closed || this.config === null) {
      if (n > 0) setBufferBytes(BufferType.DownstreamData, 0, <u32>n, EMPTY, 0, 0);
      return FilterStatusValues.StopIteration;
    }
    const config = this.config!;

    // A frame is being completed in the host's buffer: nothing is read until it is whole.
    if (this.waitFor > 0) {
      if (n < this.waitFor && !end) {
        this.held = n;
        return FilterStatusValues.StopIteration;
      }
      this.waitFor = 0;
    }

    // The new bytes, in the read scratch area (valid until the next read; nothing allocated).
    let data: usize = changetype<usize>(EMPTY);
    if (n > 0) {
      const read = readBufferBytes(BufferType.DownstreamData, 0, <u32>n);
      if (read == 0 || lastReadLength != n) {
        this.internalFailure("cannot read the downstream buffer: " + statusName(lastStatus));
        return FilterStatusValues.StopIteration;
      }
      data = read;
    }

    // The working bytes: the kept tail followed by the new bytes.
    const hadTail = this.pendingLength > 0;
    let work = data;
    let workLength = n;
    if (hadTail) {
      this.appendPending(data, n);
      work = changetype<usize>(this.pending);
      workLength = this.pendingLength;
    }

    // Where the complete frames end; hold the whole buffer in the host when what follows them is a frame
    // still arriving and either nothing is complete or a large part of that frame is already here.
    const completeEnd = completeFramesEnd(work, workLength, config.maxBodyBytes);
    if (partialTotal > 0 && !end) {
      const partial = workLength - completeEnd;
      if ((completeEnd == 0 || partial > SMALL_TAIL) && completeEnd <= config.maxBodyBytes) {
        if (hadTail) {
          // The kept tail goes back in front of the host's bytes: the host holds everything from here.
          const status = setBufferBytesFrom(BufferType.DownstreamData, 0, <u32>n, work, workLength);
          this.releasePending();
          if (status != Status.Ok) {
            this.internalFailure("cannot replace the downstream buffer: " + statusName(status));
            return FilterStatusValues.StopIteration;
          }
        }
        // (While its header is incomplete, the few bytes are read again on each call: the magic is checked
        // byte by byte, so non-Dubbo bytes are still recognised from the first ones.)
        this.waitFor = partial < 16 ? 0 : completeEnd + partialTotal;
        this.held = workLength;
        return FilterStatusValues.StopIteration;
      }
    }

    const decoder = this.decoder;
    let pos = 0;
    let copied = 0; // work[0, copied) is already in the encoder's output
    let rewritten = false;
    let stopped = false;
    encoder.reset();
    while (pos < workLength) {
      const st = decoder.decode(work + <usize>pos, workLength - pos);
      if (st == DecodeStatus.NeedMore) break;
      if (st == DecodeStatus.Error) {
        if (decoder.error == CodecError.BadMagic && !this.sawFrame) {
          return this.notDubbo(config, work, workLength, n, hadTail);
        }
        this.malformed(decoder, this.streamOffset + <i64>pos, config);
        stopped = true;
        break;
      }
      this.sawFrame = true;
      const frame = decoder.frame;
      const frameLength = frame.length;
      if (frame.kind == FrameKind.Request) {
        const action = this.onRequest(config, frame);
        if (action == RequestAction.Deny) {
          stopped = true;
          break;
        }
        if (action == RequestAction.Rewrite || action == RequestAction.MarkDenied) {
          // The replacement of the read is built in the encoder's output: the frames before this one as
          // they are, then this one re-encoded (each byte copied once).
          const value = action == RequestAction.Rewrite ? decision.cluster : this.denyValue;
          const mark = encoder.length;
          encoder.appendBytes(work + <usize>copied, pos - copied);
          const length = encoder.appendRewrittenRequestWith(frame, config.routeAttachment, value);
          if (length > 0) {
            copied = pos + frameLength;
            rewritten = true;
          } else {
            encoder.truncate(mark);
            if (action == RequestAction.MarkDenied) {
              // A denied request that cannot carry the mark must not go on: close instead.
              this.closeDownstream();
              stopped = true;
              break;
            }
          }
        }
      } else if (metrics !== null) {
        if (frame.kind == FrameKind.Heartbeat) metrics.heartbeats.add(1);
        else if (frame.kind == FrameKind.Event) metrics.events.add(1);
      }
      pos += frameLength;
    }

    if (this.propertiesPending) {
      this.propertiesPending = false;
      this.updateProperties(this.nextService, this.nextMethod, this.nextRoute, this.nextCluster);
    }

    // Replace the whole buffer with the complete frames [0, pos), rewritten where needed.
    let status: u32 = Status.Ok;
    if (rewritten) {
      encoder.appendBytes(work + <usize>copied, pos - copied);
      status = setBufferBytesFrom(BufferType.DownstreamData, 0, <u32>n, encoder.ptr(), encoder.length);
    } else if (hadTail || pos != n) {
      status = setBufferBytesFrom(BufferType.DownstreamData, 0, <u32>n, work, pos);
    }
    if (status != Status.Ok) {
      this.internalFailure("cannot replace the downstream buffer: " + statusName(status));
      return FilterStatusValues.StopIteration;
    }

    // Keep the incomplete tail [pos, workLength) (small: larger ones were left in the host above).
    if (stopped) {
      this.releasePending();
    } else {
      this.streamOffset += <i64>pos;
      if (end && pos < workLength) this.truncated(workLength - pos);
      else this.keepTail(work, pos, workLength, hadTail);
    }
    // Continue passes what is complete (and end of stream); with nothing complete, hold (empty) buffer.
    return pos > 0 || end ? FilterStatusValues.Continue : FilterStatusValues.StopIteration;
  }

  /** The client's stream ended (or the connection closed) inside a frame: count it, log it, drop it. */
  private truncated(have: i32): void {
    const metrics = this.metrics;
    if (metrics !== null) metrics.truncatedFrames.add(1);
    hostLog(
      Level.Info,
      "dubbo-mesh: connection " + this.label() + " ended inside a frame at stream offset " + this.streamOffset.toString() + ": " +
        have.toString() + " bytes of it received, dropped",
    );
    this.releasePending();
    this.waitFor = 0;
    this.held = 0;
  }

  private onRequest(config: FilterConfig, frame: Frame): RequestAction {
    view.reset(frame);
    route(config.table, view, this.plugin!.random.next(), decision);
    const metrics = this.metrics!;
    const service = view.service();
    const method = view.method();
    if (decision.outcome == Outcome.Denied) return this.deny(config, frame, service, method);
    const cluster = decision.cluster;
    metrics.countRequest(service, method, decision.routeName);
    if (decision.outcome == Outcome.NoDestination) metrics.noDestination.add(1);

    if (!this.filterStateDone && cluster.length > 0) {
      this.filterStateDone = true;
      const status = setTcpProxyCluster(cluster);
      if (status != Status.Ok) {
        metrics.filterStateFailures.add(1);
        if (filterStateWarnings < 10 || logEnabled(Level.Debug)) {
          filterStateWarnings++;
          hostLog(
            Level.Warn,
            "dubbo-mesh: set_envoy_filter_state(envoy.tcp_proxy.cluster=" + cluster + ") failed: " + statusName(status) +
              "; the connection keeps the listener's configured cluster",
          );
        }
      }
    }

    if (routeExtensionAvailable()) {
      let flags: u32 = 0;
      if (frame.twoWay) flags |= FLAG_TWO_WAY;
      if (decision.outcome == Outcome.NoDestination) flags |= FLAG_NO_DESTINATION;
      reportRoute(frame.requestId, view.timeoutMs(), flags, cluster, decision.routeName, decision.hashKey, service, method);
    }

    // Properties describe the last request: recorded here, set once when this call's frames are done.
    this.nextService = service;
    this.nextMethod = method;
    this.nextRoute = decision.routeName;
    this.nextCluster = cluster;
    this.propertiesPending = true;

    if (!config.rewrite || !frame.bodyDecoded) return RequestAction.Pass;
    const key = config.routeAttachment;
    // (Checking first whether the request already carries the value would cost a scan of its attachments
    // on every request to save a re-encode on almost none.)
    if (cluster.length > 0) return RequestAction.Rewrite;
    // No destination: blank a route attachment the client may have sent; add none otherwise.
    return frame.attachmentIndex(key) >= 0 && !frame.attachmentEquals(key, "") ? RequestAction.Rewrite : RequestAction.Pass;
  }

  /**
   * A deny rule matched. Answered for this request alone where the next stage can: our host (reported with
   * FLAG_DENIED; it replies with a Dubbo error) or Envoy's dubbo_proxy (rewrite on: the route attachment
   * marks it, and no route matching, dubbo_proxy replies itself). With rewrite off (tcp_proxy, which cannot
   * answer one request) the connection is closed.
   */
  private deny(config: FilterConfig, frame: Frame, service: string, method: string): RequestAction {
    const rule = decision.routeName;
    this.metrics!.countDenied(rule);
    const what = "dubbo-mesh: connection " + this.label() + ": request " + frame.requestId.toString() + " to " + service + "#" + method +
      " denied by rule '" + rule + "'; ";
    if (routeExtensionAvailable()) {
      const flags = FLAG_DENIED | (frame.twoWay ? FLAG_TWO_WAY : 0);
      if (reportRoute(frame.requestId, view.timeoutMs(), flags, "", rule, "", service, method)) {
        hostLog(Level.Info, what + "the host answers it with a Dubbo error");
        return RequestAction.Pass;
      }
    }
    if (config.rewrite && frame.bodyDecoded) {
      this.denyValue = DENY_MARKER + rule;
      hostLog(Level.Info, what + "marked " + config.routeAttachment + "=" + this.denyValue + " for dubbo_proxy to answer");
      return RequestAction.MarkDenied;
    }
    hostLog(Level.Info, what + "closing the downstream connection (tcp mode cannot answer a single request)");
    this.closeDownstream();
    return RequestAction.Deny;
  }

  private updateProperties(service: string, method: string, routeName: string, cluster: string): void {
    if (!sameText(this.lastService, service)) {
      this.lastService = service;
      setProperty(PROP_SERVICE, utf8Of(service));
    }
    if (!sameText(this.lastMethod, method)) {
      this.lastMethod = method;
      setProperty(PROP_METHOD, utf8Of(method));
    }
    if (!sameText(this.lastRoute, routeName)) {
      this.lastRoute = routeName;
      setProperty(PROP_ROUTE, utf8Of(routeName));
    }
    if (!sameText(this.lastCluster, cluster)) {
      this.lastCluster = cluster;
      setProperty(PROP_CLUSTER, utf8Of(cluster));
    }
  }

  /** The connection does not start with the Dubbo magic: apply the `nonDubbo` policy. */
  private notDubbo(config: FilterConfig, work: usize, workLength: i32, n: i32, hadTail: bool): FilterStatusValues {
    const metrics = this.metrics;
    if (metrics !== null) metrics.nonDubbo.add(1);
    if (config.nonDubbo == NonDubboPolicy.Passthrough) {
      if (logEnabled(Level.Debug)) {
        hostLog(Level.Debug, "dubbo-mesh: connection " + this.label() + " is not Dubbo; passing it through");
      }
      this.mode = Mode.Passthrough;
      if (hadTail) {
        const status = setBufferBytesFrom(BufferType.DownstreamData, 0, <u32>n, work, workLength);
        if (status != Status.Ok) {
          this.internalFailure("cannot replace the downstream buffer: " + statusName(status));
          return FilterStatusValues.StopIteration;
        }
      }
      this.releasePending();
      return FilterStatusValues.Continue;
    }
    hostLog(
      Level.Info,
      "dubbo-mesh: connection " + this.label() + " is not Dubbo (first bytes are not 0xdabb); closing it (nonDubbo: close)",
    );
    if (n > 0) setBufferBytes(BufferType.DownstreamData, 0, <u32>n, EMPTY, 0, 0);
    this.releasePending();
    this.closeDownstream();
    return FilterStatusValues.StopIteration;
  }

  private malformed(decoder: Decoder, frameStart: i64, config: FilterConfig): void {
    const metrics = this.metrics;
    if (metrics !== null) metrics.decodeErrors.add(1);
    let message = decoder.errorMessageInStream(frameStart);
    if (decoder.error == CodecError.BodyTooLarge) message += " (maxBodyBytes " + config.maxBodyBytes.toString() + ")";
    hostLog(Level.Warn, "dubbo-mesh: connection " + this.label() + ": malformed Dubbo frame: " + message + "; closing the connection");
    this.closeDownstream();
  }

  private internalFailure(message: string): void {
    hostLog(Level.Error, "dubbo-mesh: connection " + this.label() + ": " + message + "; closing the connection");
    this.releasePending();
    this.closeDownstream();
  }

  /**
   * How log lines name this connection: Envoy's connection id (property `connection_id`, as in access
   * logs) and the downstream address, read once, only when a line is written.
   */
  private label(): string {
    let text = this.labelText;
    if (text === null) {
      text = "#" + this.context_id.toString();
      const id = getProperty(PATH_CONNECTION_ID);
      if (id !== null && id.byteLength == 8) text = load<u64>(changetype<usize>(id)).toString();
      const source = getProperty(PATH_SOURCE_ADDRESS);
      if (source !== null) text += " from " + String.UTF8.decode(source);
      this.labelText = text;
    }
    return text;
  }

  private closeDownstream(): void {
    this.mode = Mode.Closed;
    const status = closeStream(StreamType.Downstream);
    if (status != Status.Ok && logEnabled(Level.Debug)) {
      hostLog(Level.Debug, "dubbo-mesh: proxy_close_stream(downstream) answered " + statusName(status));
    }
  }

  /** Appends the n bytes at `data` to the kept tail. */
  private appendPending(data: usize, n: i32): void {
    const need = this.pendingLength + n;
    if (need > this.pending.byteLength) {
      let cap = this.pending.byteLength << 1;
      if (cap < need) cap = need;
      if (cap < 256) cap = 256;
      const next = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(next), changetype<usize>(this.pending), <usize>this.pendingLength);
      this.pending = next;
    }
    memory.copy(changetype<usize>(this.pending) + <usize>this.pendingLength, data, <usize>n);
    this.pendingLength = need;
  }

  /** Keeps work[from, to) as the tail (work is either the pending buffer itself or the new data). */
  private keepTail(work: usize, from: i32, to: i32, workIsPending: bool): void {
    const rest = to - from;
    if (rest <= 0) {
      this.pendingLength = 0;
      // Let a large tail buffer go once it is empty.
      if (this.pending.byteLength > 64 * 1024) this.pending = EMPTY;
      return;
    }
    if (workIsPending) {
      if (this.pending.byteLength > 4 * SMALL_TAIL) {
        // The tail buffer grew with a large read: keep the small rest in a buffer of its own size.
        const next = new ArrayBuffer(rest < 256 ? 256 : rest);
        memory.copy(changetype<usize>(next), changetype<usize>(this.pending) + <usize>from, <usize>rest);
        this.pending = next;
      } else if (from > 0) {
        memory.copy(changetype<usize>(this.pending), changetype<usize>(this.pending) + <usize>from, <usize>rest);
      }
      this.pendingLength = rest;
      return;
    }
    this.pendingLength = 0;
    if (this.pending.byteLength < rest) {
      this.pending = new ArrayBuffer(rest < 256 ? 256 : rest);
    }
    memory.copy(changetype<usize>(this.pending), work + <usize>from, <usize>rest);
    this.pendingLength = rest;
  }

  private releasePending(): void {
    this.pendingLength = 0;
    this.pending = EMPTY;
  }

  onUpstreamData(size: usize, end: bool): FilterStatusValues {
    const n = <i32>size;
    const metrics = this.metrics;
    if (metrics === null || n <= 0) return FilterStatusValues.Continue;
    metrics.upstreamBytes.add(n);
    if (!this.upScanning) return FilterStatusValues.Continue;
    // Walk the frame headers without copying the bodies: read only header bytes.
    let pos = 0;
    while (pos < n) {
      if (this.upSkip > 0) {
        const skip = <i32>min<i64>(this.upSkip, <i64>(n - pos));
        pos += skip;
        this.upSkip -= skip;
        continue;
      }
      const take = min(16 - this.upHeaderLength, n - pos);
      const bytes = readBufferBytes(BufferType.UpstreamData, <u32>pos, <u32>take);
      if (bytes == 0 || lastReadLength != take) {
        this.upScanning = false;
        break;
      }
      const h = this.upHeader;
      memory.copy(changetype<usize>(h) + <usize>this.upHeaderLength, bytes, <usize>take);
      this.upHeaderLength += take;
      pos += take;
      if (this.upHeaderLength < 16) break;
      this.upHeaderLength = 0;
      if (h[0] != 0xda || h[1] != 0xbb) {
        // Not Dubbo (or out of step): stop looking; the bytes pass untouched regardless.
        this.upScanning = false;
        break;
      }
      const flags = h[2];
      const bodyLength = (<i32>h[12] << 24) | (<i32>h[13] << 16) | (<i32>h[14] << 8) | <i32>h[15];
      if (bodyLength < 0) {
        this.upScanning = false;
        break;
      }
      if ((flags & 0x80) == 0 && (flags & 0x20) == 0) metrics.countResponse(<i32>h[3]);
      this.upSkip = bodyLength;
    }
    return FilterStatusValues.Continue;
  }

  onDownstreamConnectionClose(t: PeerTypeValues): void {
    if (this.mode == Mode.Parsing) {
      if (this.pendingLength > 0) this.truncated(this.pendingLength);
      else if (this.waitFor > 0 && this.held > 0) this.truncated(this.held);
    }
    this.releasePending();
  }

  onUpstreamConnectionClose(t: PeerTypeValues): void {}

  onDone(): bool {
    if (this.active) {
      this.active = false;
      const metrics = this.metrics;
      if (metrics !== null) metrics.cxActive.add(-1);
    }
    this.releasePending();
    return true;
  }

  onLog(): void {}

  onDelete(): void {}
}

/** Set by completeFramesEnd: the total length of the partial frame after the complete ones (0: none). */
let partialTotal: i32 = 0;

/**
 * Walks the frame headers of work[0, length) and returns where the complete frames end. When a frame after
 * them has started to arrive, `partialTotal` is its whole length (16 while its header is incomplete);
 * otherwise 0 — also when the next header is invalid (bad magic, a body length out of 0..maxBody), which
 * the decoder then reports. Reads headers only.
 */
function completeFramesEnd(work: usize, length: i32, maxBody: i32): i32 {
  partialTotal = 0;
  let pos = 0;
  while (pos < length) {
    const left = length - pos;
    const p = work + <usize>pos;
    if (load<u8>(p) != 0xda || (left >= 2 && load<u8>(p + 1) != 0xbb)) return pos;
    if (left < 16) {
      partialTotal = 16;
      return pos;
    }
    const body = <i32>bswap<u32>(load<u32>(p + 12));
    if (body < 0 || body > maxBody) return pos;
    const total = 16 + body;
    if (total > left) {
      partialTotal = total;
      return pos;
    }
    pos += total;
  }
  return pos;
}

function sameText(a: string | null, b: string): bool {
  return a !== null && a == b;
}

/** The highest argument index any matcher or hash key reads (-1 when none), so the decoder records no more. */
function maxArgumentIndex(config: FilterConfig): i32 {
  let max = -1;
  const services = config.table.services;
  for (let i = 0; i < services.length; i++) {
    const s = unchecked(services[i]);
    if (s.hashKind == HashKeyKind.Argument && s.hashArgument > max) max = s.hashArgument;
    for (let j = 0; j < s.routes.length; j++) {
      const args = unchecked(s.routes[j]).match.arguments;
      for (let k = 0; k < args.length; k++) if (unchecked(args[k]).index > max) max = unchecked(args[k]).index;
    }
    for (let j = 0; j < s.deny.length; j++) {
      const args = unchecked(s.deny[j]).match.arguments;
      for (let k = 0; k < args.length; k++) if (unchecked(args[k]).index > max) max = unchecked(args[k]).index;
    }
  }
  return max;
}
