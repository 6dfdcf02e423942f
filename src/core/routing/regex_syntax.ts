/**
 * The syntax of a `{name:regex}` constraint, read as far as the backtracking analysis
 * needs it: alternatives, sequences, quantifiers, and for each atom the set of
 * characters it may match. JavaScript syntax without flags (Annex B: a `{` that starts
 * no quantifier is a literal); the regex has already compiled, so it is valid.
 *
 * Backreferences and lookarounds are refused while reading: their cost is not modelled.
 *
 * @module
 */

import {
  ALL,
  type CharSet,
  complement,
  DIGIT,
  DOT,
  isSingle,
  normalize,
  single,
  SPACE,
  WORD,
} from "./char_set.ts";

/** A regex refused by the backtracking analysis (`regex_safety.ts`). */
export class RegexHazard extends Error {
  /** Zero-based offset in the regex source of the construct at fault. */
  readonly offset: number;
  /** What is wrong and how to write it instead (the message without its lead). */
  readonly problem: string;

  /**
   * @param offset where the construct starts in the regex source
   * @param problem what is wrong and how to write it instead
   */
  constructor(offset: number, problem: string) {
    super(`regex may backtrack catastrophically: ${problem}`);
    this.name = "RegexHazard";
    this.offset = offset;
    this.problem = problem;
  }
}

/** One atom of a regex. */
export type Atom =
  | { readonly kind: "set"; readonly set: CharSet }
  /** `^`, `$`, `\b`, `\B`: match no character. */
  | { readonly kind: "assert" }
  | { readonly kind: "group"; readonly alts: readonly Sequence[] };

/** An atom with its quantifier (`{1,1}` when it has none; `max` may be Infinity). */
export interface Quantified {
  readonly atom: Atom;
  readonly min: number;
  readonly max: number;
  /** Where the atom starts in the source. */
  readonly offset: number;
}

/** A sequence of quantified atoms: one alternative. */
export type Sequence = readonly Quantified[];

const QUANTIFIER = /^\{(\d+)(?:(,)(\d*))?\}/;

/** Reads a regex source into its alternatives (throws {@linkcode RegexHazard}). */
export function parseRegex(source: string): Sequence[] {
  return new Parser(source).parse();
}

class Parser {
  readonly #src: string;
  #i = 0;
  /** Inside a `(?i:…)` group: sets are then taken as "any character". */
  #caseless = 0;

  constructor(source: string) {
    this.#src = source;
  }

  parse(): Sequence[] {
    return this.#alternatives();
  }

  #alternatives(): Sequence[] {
    const alts = [this.#sequence()];
    while (this.#src[this.#i] === "|") {
      this.#i++;
      alts.push(this.#sequence());
    }
    return alts;
  }

  #sequence(): Sequence {
    const seq: Quantified[] = [];
    while (this.#i < this.#src.length) {
      const c = this.#src[this.#i];
      if (c === "|" || c === ")") break;
      const offset = this.#i;
      const atom = this.#atom();
      if (this.#i <= offset) {
        // Not reached for a regex that compiles; refusing beats looping forever.
        throw new RegexHazard(offset, "this regex syntax is not understood here");
      }
      const { min, max } = this.#quantifier();
      seq.push({ atom, min, max, offset });
    }
    return seq;
  }

  #quantifier(): { min: number; max: number } {
    const src = this.#src;
    let min = 1;
    let max = 1;
    const c = src[this.#i];
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = QUANTIFIER.exec(src.slice(this.#i));
      if (m === null) return { min, max }; // a literal "{", read as the next atom
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      this.#i += m[0].length - 1;
    } else return { min, max };
    this.#i++;
    if (src[this.#i] === "?") this.#i++; // lazy: the same ways, tried in another order
    return { min, max };
  }

  #atom(): Atom {
    const src = this.#src;
    const start = this.#i;
    const c = src[this.#i]!;
    switch (c) {
      case "(":
        return this.#group();
      case "[":
        return this.#set(this.#class());
      case ".":
        this.#i++;
        return this.#set(DOT);
      case "^":
      case "$":
        this.#i++;
        return { kind: "assert" };
      case "\\":
        return this.#escape(start);
      default:
        this.#i++;
        return this.#set(single(c.charCodeAt(0)));
    }
  }

  #set(set: CharSet): Atom {
    // Case folding reaches beyond ASCII (K, the Kelvin sign, folds to k), so inside
    // (?i:…) a set is taken as any character: safe, if stricter than needed.
    return { kind: "set", set: this.#caseless > 0 ? ALL : set };
  }

  #group(): Atom {
    const src = this.#src;
    const start = this.#i;
    let caseless = false;
    if (/^\(\?<?[=!]/.test(src.slice(start, start + 4))) {
      throw new RegexHazard(
        start,
        "lookaheads and lookbehinds ((?=…), (?!…), (?<=…), (?<!…)) are not allowed in a " +
          "segment constraint; the regex must match the whole segment anyway, so write " +
          "what it may hold instead",
      );
    }
    if (src.startsWith("(?:", start)) this.#i += 3;
    else if (src.startsWith("(?<", start)) this.#i = Math.max(src.indexOf(">", start), start) + 1;
    else if (src.startsWith("(?", start)) {
      // A modifiers group such as (?i:…) or (?-i:…).
      const colon = Math.max(src.indexOf(":", start), start + 1);
      const flags = src.slice(start + 2, colon);
      caseless = flags.split("-")[0]!.includes("i");
      this.#i = colon + 1;
    } else this.#i++;
    if (caseless) this.#caseless++;
    const alts = this.#alternatives();
    if (caseless) this.#caseless--;
    this.#i++; // ")"
    return { kind: "group", alts };
  }

  #escape(start: number): Atom {
    const src = this.#src;
    const c = src[start + 1] ?? "\\";
    this.#i = start + 2;
    if (c === "b" || c === "B") return { kind: "assert" };
    if (/[1-9]/.test(c) || (c === "k" && src[start + 2] === "<")) {
      throw new RegexHazard(
        start,
        `backreferences (${c === "k" ? "\\k<name>" : `\\${c}`}) are not allowed in a ` +
          "segment constraint: they make matching cost impossible to bound; to match a " +
          "digit write it in a class, as in [1]",
      );
    }
    return this.#set(this.#escapeSet(c, false));
  }

  /** The set of an escape `\c` whose letter is at `this.#i - 1`, in a class or not. */
  #escapeSet(c: string, inClass: boolean): CharSet {
    const src = this.#src;
    switch (c) {
      case "d":
        return DIGIT;
      case "D":
        return complement(DIGIT);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "n":
        return single(0x0a);
      case "r":
        return single(0x0d);
      case "t":
        return single(0x09);
      case "v":
        return single(0x0b);
      case "f":
        return single(0x0c);
      case "b":
        return single(0x08); // only reached in a class
      case "x":
      case "u": {
        const digits = c === "x" ? 2 : 4;
        const hex = src.slice(this.#i, this.#i + digits);
        if (new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) {
          this.#i += digits;
          return single(parseInt(hex, 16));
        }
        return single(c.charCodeAt(0));
      }
      case "c": {
        const letter = src[this.#i];
        if (letter !== undefined && /[A-Za-z]/.test(letter)) {
          this.#i++;
          return single(letter.charCodeAt(0) % 32);
        }
        // Annex B: "\c" with no letter is a backslash and a "c"; in a class, with a
        // digit or "_", a control character. Any of them, to stay on the safe side.
        if (inClass && letter !== undefined && /[0-9_]/.test(letter)) this.#i++;
        return normalize([[0, 0x1f], [0x5c, 0x5c], [0x63, 0x63]]);
      }
      default:
        if (/[0-7]/.test(c)) {
          // A legacy octal escape (\0, \012; in a class also \1 to \7).
          const m = /^[0-7]{0,2}/.exec(src.slice(this.#i))![0];
          const digits = (c + m).slice(0, c <= "3" ? 3 : 2);
          this.#i += digits.length - 1;
          return single(parseInt(digits, 8));
        }
        return single(c.charCodeAt(0)); // an identity escape: the character itself
    }
  }

  #class(): CharSet {
    const src = this.#src;
    this.#i++; // "["
    const negated = src[this.#i] === "^";
    if (negated) this.#i++;
    const ranges: (readonly [number, number])[] = [];
    // Annex B: "]" right after "[" or "[^" closes an empty class.
    while (this.#i < src.length && src[this.#i] !== "]") {
      const lo = this.#classAtom();
      if (src[this.#i] === "-" && src[this.#i + 1] !== "]" && this.#i + 1 < src.length) {
        const save = this.#i;
        this.#i++;
        const hi = this.#classAtom();
        if (isSingle(lo) && isSingle(hi)) {
          ranges.push([lo[0]![0], hi[0]![0]]);
          continue;
        }
        // A class escape next to "-" (as in [\d-x]) makes "-" a literal (Annex B).
        this.#i = save;
      }
      ranges.push(...lo);
    }
    this.#i++; // "]"
    const set = normalize(ranges);
    return negated ? complement(set) : set;
  }

  #classAtom(): CharSet {
    const src = this.#src;
    const c = src[this.#i]!;
    if (c !== "\\") {
      this.#i++;
      return single(c.charCodeAt(0));
    }
    const letter = src[this.#i + 1] ?? "\\";
    this.#i += 2;
    return this.#escapeSet(letter, true);
  }
}
