/**
 * Refuses `{name:regex}` constraints whose matching time could explode (ReDoS).
 *
 * JavaScript regexes backtrack: `(a+)+$` takes seconds on 27 characters, because the
 * engine tries every way of splitting the input between the two quantifiers. The
 * router runs constraints on request paths that anyone can send, so a constraint must
 * be cheap on every input, not only on the paths the operator had in mind. Two bounds
 * make it so:
 *
 * - a constraint is never run on a segment longer than {@linkcode MAX_REGEX_SEGMENT};
 * - a constraint is refused at load when a failing match could try more than
 *   {@linkcode MAX_BACKTRACK_COST} ways on such a segment: backreferences and
 *   lookarounds (whose cost this analysis does not model), a quantified group whose
 *   repetitions can be split in more than one way (`(a+)+`, `(a|ab)*`), and runs of
 *   quantifiers that can trade characters (`\d*\d*\d*`, whose cost grows as n³).
 *
 * The analysis is conservative: what it lets through is at most quadratic in the
 * segment length, and it may refuse a regex that is in fact safe; the message then
 * says how to write it so that it passes.
 *
 * @module
 */

import { type CharSet, EMPTY, overlaps, union } from "./char_set.ts";
import {
  type Atom,
  parseRegex,
  type Quantified,
  RegexHazard,
  type Sequence,
} from "./regex_syntax.ts";

export { RegexHazard } from "./regex_syntax.ts";

/**
 * The longest path segment (in UTF-16 code units, which for a path as sent are bytes)
 * that a `{name:regex}` constraint is run on; a longer segment never matches one.
 */
export const MAX_REGEX_SEGMENT = 1024;

/** The longest regex a constraint may hold, so that analysing it stays cheap. */
export const MAX_REGEX_LENGTH = 256;

/**
 * How many ways a failing match may try, at most, on a segment of
 * {@linkcode MAX_REGEX_SEGMENT}: a little over (n + 1)², so that two quantifiers that
 * trade characters (`[a-z]+[a-z0-9]*`, `.*-.*`) pass, each maybe wrapped in an
 * optional group, and three (`\d*\d*\d*`) do not. Measured on 1 KiB: the quadratic
 * worst case takes about 1 ms, the cubic one 250 ms; twenty `a?` before twenty `a`
 * (2²⁰ ways, the most this bound lets through) take 8 ms once V8 has compiled the
 * regex to machine code, 70 ms on the first runs, which it interprets.
 */
export const MAX_BACKTRACK_COST = 1.25 * (MAX_REGEX_SEGMENT + 1) ** 2;

/**
 * Whether a `{name:regex}` constraint accepts a path segment. A segment longer than
 * {@linkcode MAX_REGEX_SEGMENT} never does, whatever the regex: that bounds the work of
 * one test, together with what {@linkcode checkRegexSafety} lets through.
 */
export function testSegment(regex: RegExp, segment: string): boolean {
  return segment.length <= MAX_REGEX_SEGMENT && regex.test(segment);
}

/**
 * Throws a {@linkcode RegexHazard} when `source` (a regex that compiles without flags)
 * could backtrack beyond {@linkcode MAX_BACKTRACK_COST} on a segment of at most
 * {@linkcode MAX_REGEX_SEGMENT} characters.
 *
 * @example
 * ```ts
 * checkRegexSafety("[a-z0-9]+(-[a-z0-9]+)*"); // fine: each repetition starts at a "-"
 * checkRegexSafety("(a+)+"); // throws: nested quantifier
 * ```
 */
export function checkRegexSafety(source: string): void {
  if (source.length > MAX_REGEX_LENGTH) {
    throw new RegexHazard(
      MAX_REGEX_LENGTH,
      `it is ${source.length} characters long, too long to check; at most ` +
        `${MAX_REGEX_LENGTH} are allowed in one segment constraint`,
    );
  }
  const alts = parseRegex(source);
  const cost = costOfAlternatives(alts);
  if (cost > MAX_BACKTRACK_COST) {
    throw new RegexHazard(
      0,
      "quantifiers that can match the same characters follow one another (as in " +
        "\\d*\\d*\\d* or .*-.*-.*), so a failing match tries a number of ways that grows " +
        "with a power of the segment length; merge them into one quantifier, or separate " +
        "them with a character that neither can match (as in [0-9]+-[0-9]+-[0-9]+)",
    );
  }
}

/** One step of a flattened sequence, as the cost model sees it. */
interface Term {
  /** Every character the term may consume. */
  readonly set: CharSet;
  /** The characters the term may start with. */
  readonly first: CharSet;
  readonly nullable: boolean;
  /** How many ways the term may match at one place (1: exactly one). */
  readonly choices: number;
}

const SEGMENT_WAYS = MAX_REGEX_SEGMENT + 1;

function costOfAlternatives(alts: readonly Sequence[]): number {
  let sum = 0;
  for (const alt of alts) sum += costOf(termsOf(alt));
  return sum;
}

/**
 * The ways a sequence may try: two quantifiers "trade" when characters the first can
 * take could be left to the second instead (the second may start with one of them,
 * and nothing fixed in between stops the first from reaching there). The ways of a
 * chain of trading quantifiers multiply; unrelated ones do not (each is settled by
 * the character that follows it).
 */
function costOf(terms: readonly Term[]): number {
  const chain: number[] = terms.map(() => 0);
  let worst = 1;
  for (let j = 0; j < terms.length; j++) {
    const tj = terms[j]!;
    if (tj.choices <= 1) continue;
    let before = 1;
    for (let i = 0; i < j; i++) {
      if (chain[i]! > before && trades(terms, i, j)) before = chain[i]!;
    }
    chain[j] = before * tj.choices;
    if (chain[j]! > worst) worst = chain[j]!;
  }
  return worst;
}

function trades(terms: readonly Term[], i: number, j: number): boolean {
  const ti = terms[i]!;
  if (!overlaps(ti.set, terms[j]!.first)) return false;
  for (let m = i + 1; m < j; m++) {
    const tm = terms[m]!;
    if (!tm.nullable && !overlaps(tm.set, ti.set)) return false;
  }
  return true;
}

function setOf(atom: Atom): CharSet {
  if (atom.kind === "set") return atom.set;
  if (atom.kind === "assert") return EMPTY;
  let set = EMPTY;
  for (const alt of atom.alts) for (const q of alt) set = union(set, setOf(q.atom));
  return set;
}

function firstOf(terms: readonly Term[]): CharSet {
  let first = EMPTY;
  for (const t of terms) {
    first = union(first, t.first);
    if (!t.nullable) break;
  }
  return first;
}

/** The ways `min` to `max` repetitions may be chosen, capped at a segment's length. */
function repetitionChoices(min: number, max: number): number {
  return max === Infinity ? SEGMENT_WAYS : Math.min(SEGMENT_WAYS, max - min + 1);
}

function termsOf(seq: Sequence): Term[] {
  const terms: Term[] = [];
  for (const q of seq) {
    const { atom, min, max } = q;
    if (max === 0 || atom.kind === "assert") continue;
    if (atom.kind === "set") {
      terms.push({
        set: atom.set,
        first: atom.set,
        nullable: min === 0,
        choices: repetitionChoices(min, max),
      });
      continue;
    }
    if (max > 1) {
      terms.push(repeatedGroup(atom.alts, q));
      continue;
    }
    if (atom.alts.length === 1 && min === 1) {
      terms.push(...termsOf(atom.alts[0]!));
      continue;
    }
    // An optional group or an alternation: one term, whose ways are its branches'.
    const branches = atom.alts.map(termsOf);
    const nullable = min === 0 || branches.some((b) => b.every((t) => t.nullable));
    let first = EMPTY;
    for (const b of branches) first = union(first, firstOf(b));
    let choices = min === 0 ? 1 : 0;
    for (const b of branches) choices += costOf(b);
    terms.push({ set: setOf(atom), first, nullable, choices });
  }
  return terms;
}

/**
 * A group repeated more than once (`(…)+`, `(…){2,}`, even `(…){3}`). Every repetition
 * must match in one way only, and where one ends and the next starts must be settled
 * by the input, or the ways multiply with each repetition:
 *
 * - every alternation inside has branches that start with different characters, none
 *   of them empty (`(a|ab)+` and `(a|)+` may split "abab…" many ways);
 * - no quantifier inside may take a character a repetition starts with (`(a+)+`,
 *   `(-a*-?)+`); `(-[a-z]+)*` is fine: only a "-" starts a repetition, and `[a-z]+`
 *   stops there;
 * - nothing inside trades with anything else inside (`(-\d+\d+)+`).
 */
function repeatedGroup(alts: readonly Sequence[], q: Quantified): Term {
  checkAlternations(alts);
  const branches = alts.map(termsOf);
  let first = EMPTY;
  for (const b of branches) first = union(first, firstOf(b));
  const quantified = quantifiersIn(alts);
  const nested = quantified.find((inner) => overlaps(setOf(inner.atom), first)) ??
    (branches.some(hasTrade) ? quantified[0] : undefined);
  if (nested !== undefined) {
    throw new RegexHazard(
      q.offset,
      "nested quantifier: a repeated group holds a quantifier that can also match " +
        "where the next repetition starts (as in (a+)+ or (\\d*-?)+), so the input " +
        "can be split between repetitions in exponentially many ways; write one " +
        "quantifier (as in [a-z0-9-]+), or start each repetition with a character " +
        "the inner quantifier cannot match (as in [a-z0-9]+(-[a-z0-9]+)*)",
    );
  }
  const nullable = q.min === 0 || branches.some((b) => b.every((t) => t.nullable));
  const choices = quantified.length > 0 ? SEGMENT_WAYS : repetitionChoices(q.min, q.max);
  return { set: setOf(q.atom), first, nullable, choices };
}

/** Every quantifier that leaves a choice (`*`, `?`, `{2,5}`, not `{3}`), at any depth. */
function quantifiersIn(alts: readonly Sequence[]): Quantified[] {
  const found: Quantified[] = [];
  for (const alt of alts) {
    for (const q of alt) {
      if (q.atom.kind === "assert" || q.max === 0) continue;
      if (q.max > q.min || (q.atom.kind === "group" && q.max > 1)) found.push(q);
      if (q.atom.kind === "group") found.push(...quantifiersIn(q.atom.alts));
    }
  }
  return found;
}

/** Refuses an alternation, at any depth, whose branches may match the same text. */
function checkAlternations(alts: readonly Sequence[]): void {
  if (alts.length > 1) {
    const branches = alts.map(termsOf);
    const firsts = branches.map(firstOf);
    const empty = branches.findIndex((b) => b.every((t) => t.nullable));
    const clash = firsts.findIndex((f, i) => firsts.slice(0, i).some((g) => overlaps(f, g)));
    const at = empty >= 0 ? empty : clash;
    if (at >= 0) {
      throw new RegexHazard(
        alts[at]![0]?.offset ?? 0,
        "a repeated group has branches that can match the same text (as in (a|ab)+ or " +
          "(a|)+); make every branch start with a different character, or use a " +
          "character class such as [ab]+",
      );
    }
  }
  for (const alt of alts) {
    for (const q of alt) if (q.atom.kind === "group") checkAlternations(q.atom.alts);
  }
}

/** Whether two quantifiers of a sequence trade (see {@linkcode costOf}). */
function hasTrade(terms: readonly Term[]): boolean {
  for (let j = 0; j < terms.length; j++) {
    if (terms[j]!.choices <= 1) continue;
    for (let i = 0; i < j; i++) {
      if (terms[i]!.choices > 1 && trades(terms, i, j)) return true;
    }
  }
  return false;
}
