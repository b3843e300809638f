/**
 * The validated form of a `DubboRoute` document (see docs/control.md for the YAML). Everything here has
 * been checked by `validateRules`; consumers never re-check.
 */

/** Exactly one of the four; the filter's plugin configuration uses the same shape. */
export type StringMatch = { exact: string } | { prefix: string } | { suffix: string } | { present: true };

export interface RequestMatch {
  method?: StringMatch;
  /** attachment name → matcher */
  attachments?: Record<string, StringMatch>;
  /** argument index (decimal string) → matcher on the argument's string form */
  arguments?: Record<string, StringMatch>;
}

export interface Subset {
  name: string;
  /** registry labels (URL params) an endpoint must carry, already sanitized like endpoint labels */
  labels: Record<string, string>;
}

export interface Destination {
  /** absent: the whole service */
  subset?: string;
  /** relative integer weight; 100 when the route has a single destination */
  weight: number;
}

export interface Route {
  name: string;
  match?: RequestMatch;
  route: Destination[];
}

export interface DenyRule {
  name: string;
  match: RequestMatch;
}

export type LoadBalancer =
  | { simple: "ROUND_ROBIN" | "RANDOM" | "LEAST_REQUEST" }
  | { consistentHash: { attachment: string } | { argument: number } };

export interface DubboRoute {
  /** metadata.name */
  name: string;
  /** position of the YAML document in its file, from 0 */
  document: number;
  /** exact interface, or a prefix glob ending in '*' */
  interface: string;
  /** empty = any */
  version: string;
  /** empty = any */
  group: string;
  subsets: Subset[];
  routes: Route[];
  deny: DenyRule[];
  loadBalancer?: LoadBalancer;
  timeoutMs?: number;
}
