/**
 * The YAML side of loading: parse with source ranges kept, and answer "where in the
 * file is this path?" for diagnostics.
 *
 * @module
 */

import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { ConfigPath } from "./diagnostics.ts";

/** A 1-based position in the file. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A parsed file: its data, and a way back from a path to the file. */
export interface YamlSource {
  /** The document as plain data (mappings become objects, sequences arrays). */
  readonly data: unknown;
  /** Whether the document is empty (nothing but comments or blanks). */
  readonly empty: boolean;
  /**
   * The position of the value at `path` (or of its key when `at` is `key`). A path that
   * does not reach the file (a missing key, an alias) falls back to the nearest ancestor
   * that does.
   */
  locate(path: ConfigPath, at?: "value" | "key"): Position;
}

/** A YAML syntax problem. */
export interface YamlProblem {
  readonly severity: "error" | "warning";
  readonly position: Position;
  readonly message: string;
}

/** Parses `text`; on syntax errors returns them (all of them) instead of a source. */
export function parseYaml(
  text: string,
): { ok: true; source: YamlSource; warnings: YamlProblem[] } | {
  ok: false;
  errors: YamlProblem[];
  warnings: YamlProblem[];
} {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problem =
    (severity: "error" | "warning") =>
    (e: { code: string; message: string; pos: [number, number] }): YamlProblem => ({
      severity,
      position: at(e.pos[0]),
      message: e.code === "DUPLICATE_KEY"
        ? `duplicate key ${JSON.stringify(keyAt(e.pos[0]))}; each key may appear once in a mapping`
        : `invalid YAML: ${e.message}`,
    });
  // yaml's message for a repeated key does not name it; find the key that starts there.
  const keyAt = (offset: number): string => {
    let found = "";
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
          found = String(pair.key.value);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return found;
  };
  const warnings = doc.warnings.map(problem("warning"));
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map(problem("error")), warnings };
  }
  const root = doc.contents as Node | null;
  const locate = (path: ConfigPath, target: "value" | "key" = "value"): Position => {
    let node: unknown = root;
    let best = root?.range ? at(root.range[0]) : { line: 1, column: 1 };
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment)
        );
        if (pair === undefined) return best;
        const key = pair.key as Node;
        if (last && target === "key" && key.range) return at(key.range[0]);
        const value = pair.value as Node | null;
        if (value === null || !value.range || value.range[0] === value.range[1]) {
          // `key:` with nothing after it: the key is the best place to point at.
          return key.range ? at(key.range[0]) : best;
        }
        node = value;
        best = at(value.range[0]);
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment] as Node | undefined;
        if (item === undefined || !item.range) return best;
        node = item;
        best = at(item.range[0]);
      } else {
        return best;
      }
    }
    return best;
  };
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    // yaml refuses alias bombs (too many alias expansions) here rather than in parsing.
    const message = `invalid YAML: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, errors: [{ severity: "error", position: at(0), message }], warnings };
  }
  return { ok: true, source: { data, empty: root === null, locate }, warnings };
}
