// Compiled string matchers (configuration time) and their pure evaluation (per request).

export const enum MatchKind {
  Exact = 0,
  Prefix = 1,
  Suffix = 2,
  Present = 3,
}

/** One of exact / prefix / suffix / present. A missing value (null) matches nothing. */
export class StringMatcher {
  constructor(public kind: MatchKind, public value: string) {}

  matches(subject: string | null): bool {
    if (subject === null) return false;
    switch (this.kind) {
      case MatchKind.Exact:
        return subject == this.value;
      case MatchKind.Prefix:
        return subject.startsWith(this.value);
      case MatchKind.Suffix:
        return subject.endsWith(this.value);
      default:
        return true;
    }
  }
}

/** A service interface pattern: exact, or a prefix glob ending in `*` (`*` alone matches any). */
export class InterfaceMatcher {
  isGlob: bool = false;
  prefix: string = "";

  constructor(public pattern: string) {
    const glob = pattern.endsWith("*");
    this.isGlob = glob;
    this.prefix = glob ? pattern.substring(0, pattern.length - 1) : pattern;
  }

  matches(service: string): bool {
    return this.isGlob ? service.startsWith(this.prefix) : service == this.prefix;
  }
}
