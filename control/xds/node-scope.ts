/**
 * Scoped pushes: a node that lists the Dubbo services it consumes, in its node metadata
 * `DUBBO_MESH_SERVICES`, receives only the resources whose `scope` matches one of them (resources without a
 * scope, such as the Listener, go to every node). A node without that key receives everything.
 *
 * The value is a list of strings, or one comma-separated string; each entry is an interface name
 * (`org.apache.dubbo.demo.DemoService`) or a prefix glob ending in `*` (`org.apache.dubbo.demo.*`; `*` alone
 * matches everything).
 */

export const scopeMetadataKey = "DUBBO_MESH_SERVICES";

/** The compiled `DUBBO_MESH_SERVICES` of one node. */
export interface NodeScope {
  /** The entries as the node gave them (trimmed, empty ones dropped). */
  readonly patterns: readonly string[];
  /** Whether a resource with this scope is sent to the node. */
  matches(scope: string): boolean;
}

/**
 * The node's scope from its metadata (JSON form), or undefined when it has none (the node receives
 * everything). Throws an error naming the key when the value is neither a list of strings nor a string.
 */
export function nodeScope(metadata: Record<string, unknown>): NodeScope | undefined {
  const value = metadata[scopeMetadataKey];
  if (value === undefined || value === null) return undefined;
  let entries: string[];
  if (typeof value === "string") entries = value.split(",");
  else if (Array.isArray(value) && value.every((v) => typeof v === "string")) entries = value as string[];
  else {
    throw new Error(
      `node metadata ${scopeMetadataKey} must be a list of interface names or prefix globs (or one comma-separated string), got ${JSON.stringify(value)}`,
    );
  }
  const patterns = entries.map((e) => e.trim()).filter((e) => e.length > 0);
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith("*")) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return {
    patterns,
    matches: (scope: string) => exact.has(scope) || prefixes.some((prefix) => scope.startsWith(prefix)),
  };
}
