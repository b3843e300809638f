/**
 * Reading rules files: YAML (one or more documents) → validated `DubboRoute`s, and a watched source that
 * keeps the last good rules when a file is bad, at start or on reload.
 */
import { readFileSync } from "node:fs";
import { YamlSyntaxError, parseYamlDocuments } from "../../common/yaml-file.js";
import { watchFile, type FileWatch } from "../../common/watch-file.js";
import type { DubboRoute } from "./types.js";
import { RulesError, validateRules } from "./validate.js";

/**
 * Parses and validates YAML text. Throws `RulesError`: one line per problem, YAML syntax errors as
 * `SOURCE:LINE:COL: MESSAGE` (common/yaml-file.ts).
 */
export function parseRules(text: string, source = "rules"): DubboRoute[] {
  let values: unknown[];
  try {
    values = parseYamlDocuments(text, source);
  } catch (err) {
    if (err instanceof YamlSyntaxError) throw new RulesError([...err.problems]);
    throw err;
  }
  return validateRules(values, source);
}

export function loadRulesFile(path: string): DubboRoute[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new RulesError([`${path}: cannot read: ${(err as Error).message}`]);
  }
  return parseRules(text, path);
}

export interface RulesWatchCallbacks {
  /** new valid rules (not called for the initial load) */
  onRules(rules: DubboRoute[]): void;
  /** a reload failed; the last good rules stay in force */
  onError?(error: Error): void;
}

/**
 * Loads `path` now (throws when the first load fails: there is no good state to keep yet) and then follows
 * the file. A bad edit is reported through `onError` and changes nothing.
 */
export class RulesFile {
  private current: DubboRoute[];
  private readonly watch: FileWatch;

  constructor(
    readonly path: string,
    private readonly callbacks: RulesWatchCallbacks,
    debounceMs = 100,
  ) {
    this.current = loadRulesFile(path);
    this.watch = watchFile(path, () => this.reload(), debounceMs);
  }

  /**
   * Re-read the file now (the watch does it on every change; SIGHUP asks for it): valid rules replace the
   * current ones and go to `onRules`, even when equal; a bad file goes to `onError` and changes nothing.
   */
  reload(): void {
    try {
      const next = loadRulesFile(this.path);
      this.current = next;
      this.callbacks.onRules(next);
    } catch (err) {
      this.callbacks.onError?.(err as Error);
    }
  }

  /** The last good rules. The returned array must not be altered. */
  get rules(): readonly DubboRoute[] {
    return this.current;
  }

  close(): void {
    this.watch.close();
  }
}
