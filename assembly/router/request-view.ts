// What the router may read from a request: string metadata only, so that the route table does not
// depend on the wire codec (and another protocol could feed the same router).

export abstract class RequestView {
  /** The service interface (service path). */
  abstract service(): string;
  /** The service version ("" or "0.0.0" when the caller set none). */
  abstract version(): string;
  /** The `group` attachment, "" when absent. */
  abstract group(): string;
  /** The method; for generic calls (`$invoke`, `$invokeAsync`) the real method, argument 0. */
  abstract method(): string;
  /** The attachment `key` as a string, or null when absent or not a string. */
  abstract attachment(key: string): string | null;
  /** True when attachment `key` is a string equal to `value` (implementations may avoid building the string). */
  attachmentEquals(key: string, value: string): bool {
    const v = this.attachment(key);
    return v !== null && v == value;
  }
  /** Argument `index` in its string form (strings as is, integers and booleans in decimal / true|false), or null. */
  abstract argument(index: i32): string | null;
}
