/**
 * Model globs (docs/behaviour.md#model-routing,
 * docs/behaviour.md#model_map): `*` is any run of characters (also none), every other
 * character is literal, matching is case-sensitive and covers the whole model name.
 *
 * Matching never uses a regular expression: the glob is split at its stars into literal
 * pieces, the first must be a prefix, the last a suffix, and the ones between are found
 * left to right with `indexOf`. Taking the leftmost occurrence of each middle piece is
 * always right when `*` is the only wildcard, so there is no backtracking and a hostile
 * model name cannot make matching blow up.
 *
 * @module
 */

/** Longest glob accepted, in characters (Unicode code points). */
export const MAX_MODEL_GLOB_LENGTH = 256;

/** A compiled model glob: `true` when the whole model name matches. */
export type ModelMatcher = (model: string) => boolean;

/**
 * Says what is wrong with a model glob, or `undefined` when it is usable.
 *
 * @example
 * ```ts
 * modelGlobProblem("gpt-4o*"); // undefined
 * modelGlobProblem(""); // "a model glob must not be empty"
 * ```
 */
export function modelGlobProblem(pattern: string): string | undefined {
  if (typeof pattern !== "string") {
    return `a model glob must be a string, got ${pattern === null ? "null" : typeof pattern}`;
  }
  if (pattern.length === 0) return "a model glob must not be empty";
  let length = 0;
  for (const ch of pattern) {
    const cp = ch.codePointAt(0)!;
    // C0, DEL and C1 controls: never part of a real model name, and they make log
    // lines and admin answers ambiguous.
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      const hex = cp.toString(16).toUpperCase().padStart(4, "0");
      return `a model glob must not contain control characters, found U+${hex} at character ${
        length + 1
      }`;
    }
    length++;
  }
  if (length > MAX_MODEL_GLOB_LENGTH) {
    return `a model glob may be at most ${MAX_MODEL_GLOB_LENGTH} characters long, got ${length}`;
  }
  return undefined;
}

/**
 * Compiles a model glob into a matcher. Throws a `TypeError` naming the problem when
 * {@linkcode modelGlobProblem} rejects the glob.
 *
 * @example
 * ```ts
 * const m = modelGlob("gpt-4o*");
 * m("gpt-4o-mini"); // true
 * m("GPT-4o"); // false (case-sensitive)
 * ```
 */
export function modelGlob(pattern: string): ModelMatcher {
  const problem = modelGlobProblem(pattern);
  if (problem !== undefined) throw new TypeError(`${problem}: ${JSON.stringify(pattern)}`);
  const pieces = pattern.split("*");
  if (pieces.length === 1) return (model) => model === pattern;
  const prefix = pieces[0]!;
  const suffix = pieces[pieces.length - 1]!;
  // Consecutive stars leave empty pieces, which match anywhere: drop them.
  const middle = pieces.slice(1, -1).filter((p) => p.length > 0);
  const fixed = prefix.length + suffix.length;
  if (middle.length === 0) {
    if (suffix.length === 0) {
      return prefix.length === 0 ? () => true : (model) => model.startsWith(prefix);
    }
    if (prefix.length === 0) return (model) => model.endsWith(suffix);
    return (model) => model.length >= fixed && model.startsWith(prefix) && model.endsWith(suffix);
  }
  const minLength = fixed + middle.reduce((n, p) => n + p.length, 0);
  return (model) => {
    if (model.length < minLength || !model.startsWith(prefix) || !model.endsWith(suffix)) {
      return false;
    }
    // The middle pieces must fit between the prefix and the suffix, without overlapping
    // either of them.
    const end = model.length - suffix.length;
    let at = prefix.length;
    for (const piece of middle) {
      const found = model.indexOf(piece, at);
      if (found < 0 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}
