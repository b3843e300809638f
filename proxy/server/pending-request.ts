/**
 * A request on its way upstream: where its answer goes (the downstream connection and the client's own
 * request id), where it went (cluster, endpoint, connection, the id used upstream) and its deadline.
 * Objects are recycled through a free list, so the hot path allocates none.
 */
import type { Cluster } from "./cluster.js";
import type { DeadlineItem, DeadlineList } from "./deadline-queue.js";
import type { Endpoint } from "./endpoint.js";
import type { RouteStats } from "./request-stats.js";
import type { UpstreamConnection } from "./upstream-connection.js";

/** Where answers go: implemented by the downstream connection. */
export interface ResponseTarget {
  /** A response frame from upstream, its id already rewritten to the client's. */
  respond(buf: Buffer, start: number, end: number): void;
  /** An answer the proxy makes itself (an error response). */
  respondLocal(frame: Buffer): void;
  /** The request finished (answered, failed or dropped): for drain accounting. */
  requestDone(): void;
}

export class PendingRequest implements DeadlineItem {
  target: ResponseTarget | null = null;
  /** The client's request id, as two big-endian 32-bit halves. */
  idHigh = 0;
  idLow = 0;
  twoWay = true;
  /** The request frame while it is not yet written (queued for a connection, or to be retried). */
  frame: Buffer | null = null;
  cluster: Cluster | null = null;
  endpoint: Endpoint | null = null;
  conn: UpstreamConnection | null = null;
  upstreamId = 0;
  hasHash = false;
  hash = 0;
  timeoutMs = 0;
  retriesLeft = 0;
  start = 0;
  stats: RouteStats | null = null;
  // deadline queue links
  deadline = 0;
  dlPrev: DeadlineItem | null = null;
  dlNext: DeadlineItem | null = null;
  dlList: DeadlineList | null = null;
  // free list link
  nextFree: PendingRequest | null = null;
}

let free: PendingRequest | null = null;
let freeCount = 0;
const MAX_FREE = 4096;

export function acquirePending(): PendingRequest {
  const p = free;
  if (p === null) return new PendingRequest();
  free = p.nextFree;
  p.nextFree = null;
  freeCount--;
  return p;
}

export function releasePending(p: PendingRequest): void {
  p.target = null;
  p.frame = null;
  p.cluster = null;
  p.endpoint = null;
  p.conn = null;
  p.stats = null;
  if (freeCount >= MAX_FREE) return;
  p.nextFree = free;
  free = p;
  freeCount++;
}
