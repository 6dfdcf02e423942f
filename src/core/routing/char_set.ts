/**
 * Character sets for the regex analysis: sorted, disjoint, inclusive ranges of UTF-16
 * code units (a regex without the `u` flag matches code units), with what the analysis
 * asks of them: union, complement, and whether two sets share a character.
 *
 * @module
 */

/** Sorted, disjoint, inclusive `[low, high]` ranges of UTF-16 code units. */
export type CharSet = readonly (readonly [number, number])[];

/** The highest code unit. */
export const MAX_UNIT = 0xffff;
/** No character. */
export const EMPTY: CharSet = [];
/** Every character. */
export const ALL: CharSet = [[0, MAX_UNIT]];
/** `\d` */
export const DIGIT: CharSet = [[0x30, 0x39]];
/** `\w` */
export const WORD: CharSet = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
/** `\s`: ECMAScript white space and line terminators. */
export const SPACE: CharSet = normalize([
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
const LINE_TERMINATORS: CharSet = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]];
/** `.` without the `s` flag: anything but a line terminator. */
export const DOT: CharSet = complement(LINE_TERMINATORS);

/** The set of one code unit. */
export function single(code: number): CharSet {
  return [[code, code]];
}

/** Sorts and merges ranges into a {@linkcode CharSet}. */
export function normalize(ranges: (readonly [number, number])[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The characters of either set. */
export function union(a: CharSet, b: CharSet): CharSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

/** The characters not in `set`. */
export function complement(set: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_UNIT) out.push([next, MAX_UNIT]);
  return out;
}

/** Whether the two sets share a character. */
export function overlaps(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if (ahi < blo) i++;
    else if (bhi < alo) j++;
    else return true;
  }
  return false;
}

/** Whether `set` holds exactly one character. */
export function isSingle(set: CharSet): boolean {
  return set.length === 1 && set[0]![0] === set[0]![1];
}
