// Envoy filter-state keys a module may set through the `set_envoy_filter_state` foreign function. Envoy looks
// the key up among its registered StreamInfo::FilterState::ObjectFactory names (unknown → NotFound) and asks the
// factory to build the object from the value bytes (refused → BadArgument). This registry reproduces the
// well-known keys a network filter uses, with the value checks their factories make.

/** Returns true when the factory accepts the value. */
export type FilterStateValidator = (value: string) => boolean;

const anyValue: FilterStateValidator = () => true;

const isUint = (max: number): FilterStateValidator => (value) => {
  if (!/^[0-9]+$/.test(value)) return false;
  const n = Number(value);
  return Number.isSafeInteger(n) && n <= max;
};

/** "a.b.c.d:port" or "[v6]:port", as Envoy's address factories parse them. */
export const isIpPort: FilterStateValidator = (value) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(value);
  if (m === null || Number(m[3]) > 65535) return false;
  if (m[2] !== undefined) {
    const parts = m[2].split(".");
    return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
  }
  return m[1]!.includes(":");
};

/** The keys known to Envoy's factory registry that matter to a network filter. */
export const ENVOY_FILTER_STATE_KEYS: ReadonlyMap<string, FilterStateValidator> = new Map([
  // tcp_proxy's per-connection cluster: any name (tcp_proxy reports an unknown cluster when it connects).
  ["envoy.tcp_proxy.cluster", anyValue],
  ["envoy.tcp_proxy.per_connection_idle_timeout_ms", isUint(Number.MAX_SAFE_INTEGER)],
  ["envoy.upstream.dynamic_host", anyValue],
  ["envoy.upstream.dynamic_port", isUint(0xffffffff)],
  ["envoy.network.upstream_server_name", anyValue],
  ["envoy.network.transport_socket.original_dst_address", isIpPort],
  ["envoy.filters.listener.original_dst.local_ip", isIpPort],
  ["envoy.filters.listener.original_dst.remote_ip", isIpPort],
]);
