/**
 * Reading rules files: YAML (one or more documents) → validated `DubboRoute`s, and a watched source that
 * keeps the last good rules when a file is bad, at start or on reload.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { watchFile, type FileWatch } from "../../common/watch-file.js";
import type { DubboRoute } from "./types.js";
import { RulesError, validateRules } from "./validate.js";

/** Parses and validates YAML text. Throws `RulesError` (YAML syntax errors included, with line numbers). */
export function parseRules(text: string, source = "rules"): DubboRoute[] {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const problems: string[] = [];
  const values: unknown[] = [];
  docs.forEach((doc, index) => {
    for (const err of doc.errors) problems.push(`${source} document ${index}: YAML: ${err.message.split("\n")[0]}`);
    values.push(doc.errors.length > 0 ? null : doc.toJS({ maxAliasCount: 100 }));
  });
  if (problems.length > 0) throw new RulesError(problems);
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
