/**
 * Matching one pattern on its own. The router does not use it (it walks a trie); it
 * serves callers that hold a single pattern and tests that need a plain reference.
 *
 * @module
 */

import type { CompiledPattern } from "./pattern.ts";
import { testSegment } from "./regex_safety.ts";

/**
 * Splits a request path into the segments that patterns are matched against: the
 * query string is dropped, the leading `/` removed, nothing decoded. Returns
 * `undefined` for a path that does not start with `/` (such as `*` of `OPTIONS *`).
 */
export function splitPath(path: string): string[] | undefined {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  if (p.charCodeAt(0) !== 0x2f) return undefined;
  return p.slice(1).split("/");
}

/**
 * Matches `path` against one compiled pattern and returns its parameters, or
 * `undefined` when it does not match. Same semantics as `Router.match`.
 *
 * @example
 * ```ts
 * matchPattern(compilePattern("/api/users/:id"), "/api/users/7?x=1"); // { id: "7" }
 * ```
 */
export function matchPattern(
  pattern: CompiledPattern,
  path: string,
): Record<string, string> | undefined {
  const segs = splitPath(path);
  if (segs === undefined) return undefined;
  const pairs: [string, string][] = [];
  const psegs = pattern.segments;
  for (let i = 0; i < psegs.length; i++) {
    const ps = psegs[i]!;
    const seg = segs[i];
    if (seg === undefined) return undefined;
    switch (ps.kind) {
      case "static":
        if (seg !== ps.value) return undefined;
        break;
      case "param":
        if (seg === "") return undefined;
        pairs.push([ps.name, seg]);
        break;
      case "regex":
        if (seg === "" || !testSegment(ps.regex, seg)) return undefined;
        pairs.push([ps.name, seg]);
        break;
      case "wildcard":
        if (seg === "") return undefined;
        break;
      case "rest":
        for (let j = i; j < segs.length; j++) if (segs[j] === "") return undefined;
        return Object.fromEntries(pairs);
    }
  }
  return segs.length === psegs.length ? Object.fromEntries(pairs) : undefined;
}
