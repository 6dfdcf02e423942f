/**
 * "Did you mean" suggestions for misspelt keys and names.
 *
 * @module
 */

/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Keys the Rust release (or its older READMEs) spelled differently. Too far apart for
 * the edit distance, yet the first thing a migrating user types.
 */
const RENAMES: ReadonlyMap<string, string> = new Map([
  ["upstream_group", "default_group"],
]);

/**
 * The closest candidate to `word`, if one is close enough to be a likely typo: equal
 * ignoring case, a known rename, or at most two edits away (one for very short words,
 * where two edits would match almost anything).
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  // A Map: `word` comes from the file, and may be "constructor" or "__proto__".
  const renamed = RENAMES.get(word);
  if (renamed !== undefined && list.includes(renamed)) return renamed;
  const lower = word.toLowerCase();
  const sameCase = list.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const limit = word.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of list) {
    // The distance is at least the difference in length: skip the quadratic work for a
    // long key pasted where a short one belongs.
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const d = levenshtein(lower, candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hit = suggest(word, candidates);
  return hit === undefined ? "" : `; did you mean "${hit}"?`;
}
