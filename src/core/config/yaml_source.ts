/**
 * The YAML side of loading: parse with source ranges kept, and answer "where in the
 * file is this path?" for diagnostics.
 *
 * @module
 */

import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";
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

/**
 * How many times aliases may be expanded in one file (yaml's measure: each use of an
 * anchor, times the aliases nested in it). A configuration needs a handful; a
 * "billion laughs" file needs millions.
 */
export const MAX_ALIAS_COUNT = 100;

/**
 * How deep mappings and lists may nest. The deepest key a configuration knows is five
 * levels down; the limit keeps every recursive walk over the data far from the stack's
 * end, whatever sits in unknown keys.
 */
export const MAX_DEPTH = 32;

/** Parses `text`; on syntax errors returns them (all of them) instead of a source. */
export function parseYaml(
  text: string,
): { ok: true; source: YamlSource; warnings: YamlProblem[] } | {
  ok: false;
  errors: YamlProblem[];
  warnings: YamlProblem[];
} {
  const lineCounter = new LineCounter();
  // logLevel "error": yaml would otherwise print its own warnings (a mapping used as a
  // key) to the console. resolveKnownTags off: `!!binary`, `!!set` or `!!timestamp`
  // stay plain strings and mappings instead of becoming Buffers, Sets or Dates.
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    logLevel: "error",
    resolveKnownTags: false,
  });
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  };
  const problem =
    (severity: "error" | "warning") =>
    (e: { code: string; message: string; pos: [number, number] }): YamlProblem => ({
      severity,
      position: at(e.pos[0]),
      message: e.code === "DUPLICATE_KEY"
        ? `duplicate key ${JSON.stringify(keyAt(e.pos[0]))}; each key may appear once in a mapping`
        : e.code === "RESOURCE_EXHAUSTION"
        ? `invalid YAML: mappings and lists nested too deeply to read (${e.message}); ` +
          `a configuration nests them at most ${MAX_DEPTH} deep`
        : `invalid YAML: ${e.message}`,
    });
  // yaml's message for a repeated key does not name it; find the key that starts there.
  // The keys are indexed once: a file may repeat many keys.
  let keyOffsets: Map<number, string> | undefined;
  const keyAt = (offset: number): string => {
    if (keyOffsets === undefined) {
      const index = new Map<number, string>();
      visit(doc, {
        Pair(_, pair) {
          const key = pair.key;
          if (!isScalar(key) || key.range === undefined || key.range === null) return;
          if (!index.has(key.range[0])) index.set(key.range[0], String(key.value));
        },
      });
      keyOffsets = index;
    }
    return keyOffsets.get(offset) ?? "";
  };
  const warnings = doc.warnings.map(problem("warning"));
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map(problem("error")), warnings };
  }
  const structural = checkStructure(doc.contents, at);
  if (structural.length > 0) return { ok: false, errors: structural, warnings };
  const root = doc.contents as Node | null;
  const pairsOf = pairIndex();
  const locate = (path: ConfigPath, target: "value" | "key" = "value"): Position => {
    let node: unknown = root;
    let best = root?.range ? at(root.range[0]) : { line: 1, column: 1 };
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairsOf(node).get(String(segment));
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
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // yaml refuses alias bombs (too many alias expansions) here rather than in parsing.
    const message = `invalid YAML: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, errors: [{ severity: "error", position: at(0), message }], warnings };
  }
  return { ok: true, source: { data, empty: root === null, locate }, warnings };
}

/**
 * The pairs of a mapping by key, built once per mapping: a diagnostic for each of many
 * unknown keys must not scan the whole mapping each time. (A key cannot repeat here:
 * a file that repeats one stops at the duplicate-key error.)
 */
function pairIndex(): (map: YAMLMap) => Map<string, Pair> {
  const cache = new WeakMap<YAMLMap, Map<string, Pair>>();
  return (map) => {
    let index = cache.get(map);
    if (index === undefined) {
      index = new Map();
      for (const p of map.items) {
        if (!isPair(p) || !isScalar(p.key)) continue;
        const key = String(p.key.value);
        if (!index.has(key)) index.set(key, p as Pair);
      }
      cache.set(map, index);
    }
    return index;
  };
}

/**
 * Refuses what would make turning the document into data loop or blow up, before it
 * is turned into data: an alias inside the node its anchor names (`a: &a {b: *a}`, or
 * a merge `<<: *a` inside `&a`) would make the data contain itself, and every walk over
 * it would never end; nesting beyond {@linkcode MAX_DEPTH} would exhaust the stack.
 */
function checkStructure(contents: unknown, at: (offset: number) => Position): YamlProblem[] {
  const problems: YamlProblem[] = [];
  // The latest node holding each anchor so far: what an alias at this point refers to
  // (yaml resolves an alias to the last anchor of its name before it).
  const anchors = new Map<string, unknown>();
  let tooDeep = false;
  visit(contents as Node, {
    Node(_, node, path) {
      const start = node.range?.[0] ?? 0;
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target !== undefined && path.includes(target as Node)) {
          const anchorAt = (target as Node).range?.[0];
          const where = anchorAt === undefined
            ? ""
            : ` (line ${at(anchorAt).line}, column ${at(anchorAt).column})`;
          problems.push({
            severity: "error",
            position: at(start),
            message: `invalid YAML: alias *${node.source} is inside the node its anchor ` +
              `&${node.source} names${where}, so the value would contain itself; ` +
              "an alias may only repeat a node that is complete before it",
          });
        }
        return undefined;
      }
      const anchor = (node as { anchor?: string }).anchor;
      if (anchor !== undefined) anchors.set(anchor, node);
      if (isCollection(node) && !tooDeep) {
        const depth = 1 + path.filter((p) => isCollection(p)).length;
        if (depth > MAX_DEPTH) {
          tooDeep = true;
          problems.push({
            severity: "error",
            position: at(start),
            message: `invalid YAML: mappings and lists nested more than ${MAX_DEPTH} deep; ` +
              "a configuration needs far fewer levels",
          });
          return visit.SKIP;
        }
      }
      return undefined;
    },
  });
  return problems;
}
