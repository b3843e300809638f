/**
 * Parsing YAML files with errors in one style, the same for rules, the proxy configuration and registry
 * files: one line per problem, `FILE:LINE:COL: MESSAGE`, where MESSAGE is the yaml library's own (no
 * code frame, no trailing colon).
 */
import { LineCounter, type YAMLError, parseAllDocuments, parseDocument } from "yaml";

/** A file that is not valid YAML; `problems` holds one `FILE:LINE:COL: MESSAGE` line per error. */
export class YamlSyntaxError extends Error {
  override name = "YamlSyntaxError";
  constructor(
    readonly problems: readonly string[],
    /** `FILE:LINE:COL` of the first problem */
    readonly where: string,
    /** the yaml library's message of the first problem */
    readonly reason: string,
  ) {
    super(problems.join("\n"));
  }
}

function syntaxError(file: string, errors: readonly YAMLError[], lines: LineCounter): YamlSyntaxError {
  const located = errors.map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return { where: `${file}:${line}:${col}`, reason: e.message };
  });
  return new YamlSyntaxError(located.map((l) => `${l.where}: ${l.reason}`), located[0]!.where, located[0]!.reason);
}

const TO_JS = { maxAliasCount: 100 };

/** The value of a one-document YAML file (`null` when empty). Throws `YamlSyntaxError`. */
export function parseYamlFile(text: string, file: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw syntaxError(file, doc.errors, lines);
  return doc.toJS(TO_JS);
}

/** The values of every document of a YAML file (`null` for empty ones). Throws `YamlSyntaxError` listing every error. */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // parseAllDocuments answers an EmptyStream (not an array) for a file holding only comments
  if (!Array.isArray(docs)) return [];
  const errors = docs.flatMap((d) => d.errors);
  if (errors.length > 0) throw syntaxError(file, errors, lines);
  return docs.map((d) => d.toJS(TO_JS) as unknown);
}
