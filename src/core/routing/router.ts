/**
 * The per-forward router: compiled once per configuration snapshot, asked once per
 * request.
 *
 * @module
 */

import { splitPath } from "./match_pattern.ts";
import { type CompiledPattern, compilePattern } from "./pattern.ts";
import { comparePatterns } from "./priority.ts";
import { testSegment } from "./regex_safety.ts";

/** One routing rule: a pattern and what a match on it yields. */
export interface RouteRule<T> {
  /** The pattern (docs/behaviour.md#patterns syntax). */
  readonly path: string;
  /** Returned with a match, typically the target group. */
  readonly value: T;
}

/** The rule that won for a request path. */
export interface RouteMatch<T> {
  /** The winning rule's pattern as written (bounded cardinality, fit for metric labels). */
  readonly pattern: string;
  /** The winning rule's value. */
  readonly value: T;
  /** Captured parameters by name, as they appear in the path (not percent-decoded). */
  readonly params: Record<string, string>;
}

interface Entry<T> {
  readonly pattern: CompiledPattern;
  readonly value: T;
  /** [name, path segment index] for each parameter, so captures cost nothing during the walk. */
  readonly slots: readonly (readonly [string, number])[];
}

const NONE = Number.POSITIVE_INFINITY;

// Ranks are positions in the priority order computed at construction, so "better" is
// a number comparison during lookup. Every node also knows the best rank in its
// subtree, which lets the walk skip branches that cannot beat what it already holds.
class Node {
  statics: Map<string, Node> | undefined;
  regexes: Map<string, { readonly regex: RegExp; readonly node: Node }> | undefined;
  param: Node | undefined;
  wildcard: Node | undefined;
  /** Best rank among rules that end exactly at this node. */
  endRank = NONE;
  /** Best rank among rules whose trailing `*` starts right after this node. */
  restRank = NONE;
  /** Best rank of any rule at or below this node. */
  bestRank = NONE;
}

/**
 * Matches request paths against routing rules with the priority of docs/behaviour.md#priority.
 *
 * Fully static rules are answered from a hash map; the others live in a segment trie
 * (static children, then regex, `:name` and `*` children) that is walked with
 * backtracking, so `/api/users/admins` still reaches `/api/users/:id` when
 * `/api/users/admin` exists. Each trie node is visited at most once per lookup.
 *
 * @example
 * ```ts
 * const router = new Router([
 *   { path: "/api/users/admin", value: "admins" },
 *   { path: "/api/users/:id", value: "users" },
 * ]);
 * router.match("/api/users/42?x=1"); // { pattern: "/api/users/:id", value: "users", params: { id: "42" } }
 * router.match("/other"); // undefined
 * ```
 */
export class Router<T> {
  readonly #entries: Entry<T>[];
  readonly #exact = new Map<string, number>();
  readonly #root = new Node();

  /**
   * Compiles every rule. Rules with the same shape may coexist; the earlier one wins.
   *
   * @throws {RoutePatternError} for the first pattern that does not compile.
   */
  constructor(rules: readonly RouteRule<T>[]) {
    const compiled = rules.map((r, index) => ({
      pattern: compilePattern(r.path),
      value: r.value,
      index,
    }));
    compiled.sort((a, b) => comparePatterns(a.pattern, b.pattern) || a.index - b.index);
    this.#entries = compiled.map(({ pattern, value }) => ({
      pattern,
      value,
      slots: paramSlots(pattern),
    }));
    this.#entries.forEach((e, rank) => {
      if (!e.pattern.isStatic) this.#insert(e.pattern, rank);
      else if (!this.#exact.has(e.pattern.source)) this.#exact.set(e.pattern.source, rank);
    });
  }

  /** Number of rules. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Finds the rule for a request path, or `undefined` (the caller then uses the
   * forward's default group). Any `?query` is ignored; matching is case-sensitive,
   * on the path as sent (not percent-decoded), and a trailing slash is significant.
   */
  match(path: string): RouteMatch<T> | undefined {
    const q = path.indexOf("?");
    const p = q < 0 ? path : path.slice(0, q);
    const exact = this.#exact.get(p);
    if (exact !== undefined) return this.#result(exact, []);
    if (this.#root.bestRank === NONE) return undefined;
    const segs = splitPath(p);
    if (segs === undefined) return undefined;
    let lastEmpty = segs.length - 1;
    while (lastEmpty >= 0 && segs[lastEmpty] !== "") lastEmpty--;
    const rank = walk(this.#root, segs, 0, lastEmpty, NONE);
    return rank === NONE ? undefined : this.#result(rank, segs);
  }

  #result(rank: number, segs: readonly string[]): RouteMatch<T> {
    const e = this.#entries[rank]!;
    const params: Record<string, string> = {};
    for (const [name, i] of e.slots) {
      // Plain assignment to "__proto__" would set the prototype and drop the value.
      if (name === "__proto__") {
        Object.defineProperty(params, name, {
          value: segs[i],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else params[name] = segs[i]!;
    }
    return { pattern: e.pattern.source, value: e.value, params };
  }

  #insert(pattern: CompiledPattern, rank: number): void {
    let node = this.#root;
    // Entries arrive in rank order, so the first rank to reach a node is its best.
    if (node.bestRank === NONE) node.bestRank = rank;
    for (const s of pattern.segments) {
      switch (s.kind) {
        case "rest":
          if (node.restRank === NONE) node.restRank = rank;
          return;
        case "static": {
          node.statics ??= new Map();
          let next = node.statics.get(s.value);
          if (next === undefined) node.statics.set(s.value, next = new Node());
          node = next;
          break;
        }
        case "regex": {
          node.regexes ??= new Map();
          let edge = node.regexes.get(s.source);
          if (edge === undefined) {
            node.regexes.set(s.source, edge = { regex: s.regex, node: new Node() });
          }
          node = edge.node;
          break;
        }
        case "param":
          node = node.param ??= new Node();
          break;
        case "wildcard":
          node = node.wildcard ??= new Node();
          break;
      }
      if (node.bestRank === NONE) node.bestRank = rank;
    }
    if (node.endRank === NONE) node.endRank = rank;
  }
}

function paramSlots(pattern: CompiledPattern): [string, number][] {
  const slots: [string, number][] = [];
  pattern.segments.forEach((s, i) => {
    if (s.kind === "param" || s.kind === "regex") slots.push([s.name, i]);
  });
  return slots;
}

/**
 * Returns the best (lowest) rank reachable from `node` for `segs[i..]`, or `best` if
 * nothing there beats it. `lastEmpty` is the index of the last empty path segment,
 * so a trailing `*` can check "all remaining segments are non-empty" in O(1).
 */
function walk(
  node: Node,
  segs: readonly string[],
  i: number,
  lastEmpty: number,
  best: number,
): number {
  if (node.bestRank >= best) return best;
  if (i === segs.length) return node.endRank < best ? node.endRank : best;
  if (node.restRank < best && i > lastEmpty) best = node.restRank;
  const seg = segs[i]!;
  const s = node.statics?.get(seg);
  if (s !== undefined) best = walk(s, segs, i + 1, lastEmpty, best);
  // No dynamic segment form matches an empty segment.
  if (seg === "") return best;
  if (node.regexes !== undefined) {
    for (const edge of node.regexes.values()) {
      if (edge.node.bestRank < best && testSegment(edge.regex, seg)) {
        best = walk(edge.node, segs, i + 1, lastEmpty, best);
      }
    }
  }
  if (node.param !== undefined) best = walk(node.param, segs, i + 1, lastEmpty, best);
  if (node.wildcard !== undefined) best = walk(node.wildcard, segs, i + 1, lastEmpty, best);
  return best;
}
