/**
 * Route priority (docs/behaviour.md#priority). Kept apart from the router so that the same order is
 * used by the trie, by tests that check it against a brute-force matcher, and by anyone
 * who needs to explain to an operator why one rule won.
 *
 * @module
 */

import type { CompiledPattern, PatternSegment } from "./pattern.ts";

// Rule 3 ranks kinds at the first position where two patterns differ. Static ranks
// above every parameter so that, with equal static counts, the rule that commits to
// literal text earlier wins (`/a/b/:x` before `/a/:x/b`).
function kindRank(s: PatternSegment): number {
  switch (s.kind) {
    case "static":
      return 3;
    case "regex":
      return 2;
    case "param":
      return 1;
    case "wildcard":
    case "rest":
      return 0;
  }
}

/**
 * Orders two patterns by the rules 1 to 4 of docs/behaviour.md#priority: negative when `a` takes
 * priority over `b`, positive when `b` does, 0 when only their order in the file can decide (rule
 * 5, which is the caller's to apply).
 *
 * 1. a fully static pattern wins; 2. more static segments win; 3. at the first
 * position where the kinds differ, static beats `{name:regex}` beats `:name` beats
 * `*`; 4. more segments win.
 *
 * @example
 * ```ts
 * comparePatterns(compilePattern("/a/{id:\\d+}"), compilePattern("/a/:id")) < 0; // true
 * ```
 */
export function comparePatterns(a: CompiledPattern, b: CompiledPattern): number {
  if (a.isStatic !== b.isStatic) return a.isStatic ? -1 : 1;
  if (a.staticCount !== b.staticCount) return b.staticCount - a.staticCount;
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = kindRank(b.segments[i]!) - kindRank(a.segments[i]!);
    if (d !== 0) return d;
  }
  return b.segments.length - a.segments.length;
}
