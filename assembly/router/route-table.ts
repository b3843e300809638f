// The route table compiled from the plugin configuration (see docs/contracts.md §1). Built once in
// proxy_on_configure, read-only afterwards.

import { InterfaceMatcher, StringMatcher } from "./string-matcher";

/** An attachment or argument condition of a match. */
export class KeyedMatcher {
  constructor(public key: string, public index: i32, public matcher: StringMatcher) {}
}

/** The conditions of a route or deny rule; every given condition must hold. An empty match always holds. */
export class RequestMatch {
  method: StringMatcher | null = null;
  attachments: KeyedMatcher[] = [];
  arguments: KeyedMatcher[] = [];
}

export class Destination {
  constructor(public cluster: string, public weight: u32) {}
}

export class RouteRule {
  name: string = "";
  match: RequestMatch = new RequestMatch();
  destinations: Destination[] = [];
  /** Sum of the destination weights (> 0). */
  totalWeight: u32 = 0;
}

export class DenyRule {
  name: string = "";
  match: RequestMatch = new RequestMatch();
}

export const enum HashKeyKind {
  None = 0,
  Attachment = 1,
  Argument = 2,
}

export class ServiceEntry {
  iface: InterfaceMatcher = new InterfaceMatcher("");
  /** "" = any version. */
  version: string = "";
  /** "" = any group. */
  group: string = "";
  defaultCluster: string = "";
  hashKind: HashKeyKind = HashKeyKind.None;
  hashAttachment: string = "";
  hashArgument: i32 = 0;
  deny: DenyRule[] = [];
  routes: RouteRule[] = [];
}

export class RouteTable {
  defaultCluster: string = "";
  services: ServiceEntry[] = [];
}
