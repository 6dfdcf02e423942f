/**
 * Test support for the JSON editors: a seeded PRNG and a generator of random JSON text
 * with random whitespace, escapes, unicode and number spellings. Not used at run time.
 *
 * @module
 */

export { seededRandom as prng } from "../seeded_random.ts";

/** Random JSON text generation driven by one PRNG. */
export class JsonGen {
  readonly #r: () => number;
  constructor(random: () => number) {
    this.#r = random;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return Math.floor(this.#r() * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Whitespace as JSON allows it (often none). */
  ws(): string {
    if (this.int(3) > 0) return "";
    let s = "";
    for (let i = this.int(4); i >= 0; i--) s += this.pick([" ", "\n", "\r\n", "\t", "  "]);
    return s;
  }

  /** A string value and one of its possible JSON spellings. */
  string(): { value: string; text: string } {
    const pieces = [
      "a",
      "model",
      "gpt-4o",
      " ",
      '"',
      "\\",
      "/",
      "\n",
      "\t",
      "\u0001",
      "é",
      "中文",
      "😀",
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      "\u2028",
    ];
    let value = "";
    for (let i = this.int(6); i > 0; i--) value += this.pick(pieces);
    let text = '"';
    for (const ch of value) text += this.#spell(ch);
    return { value, text: text + '"' };
  }

  #spell(ch: string): string {
    const cp = ch.codePointAt(0)!;
    const u = (n: number) => {
      const hex = n.toString(16).padStart(4, "0");
      return `\\u${this.int(2) ? hex : hex.toUpperCase()}`;
    };
    if (ch === '"') return this.pick(['\\"', u(cp)]);
    if (ch === "\\") return this.pick(["\\\\", u(cp)]);
    if (ch === "\n") return this.pick(["\\n", u(cp)]);
    if (ch === "\t") return this.pick(["\\t", u(cp)]);
    if (cp < 0x20) return u(cp);
    if (ch === "/") return this.pick(["/", "\\/"]);
    if (cp > 0xffff) {
      // Astral: raw UTF-8 or an escaped surrogate pair (upper- or lower-case hex).
      const hi = 0xd800 + ((cp - 0x10000) >> 10);
      const lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
      const esc = `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
      return this.pick([ch, esc, esc.toUpperCase().replaceAll("\\U", "\\u")]);
    }
    if (cp > 0x7f) return this.pick([ch, u(cp)]);
    return ch;
  }

  /** A number in one of its spellings. */
  number(): string {
    return this.pick([
      "0",
      "-0",
      "1",
      "1.0",
      "1.50",
      "-12",
      "1e3",
      "1E+3",
      "2.5e-3",
      "123456789012345678901234567890",
      "0.1",
      String(this.int(1000)),
    ]);
  }

  /** Any JSON value, nested at most `depth` deep. */
  value(depth: number): string {
    const kind = depth <= 0 ? this.int(4) : this.int(7);
    switch (kind) {
      case 0:
        return this.string().text;
      case 1:
        return this.number();
      case 2:
        return this.pick(["true", "false", "null"]);
      case 3:
        return this.pick(["{}", "[]", `{${this.ws()}}`, `[${this.ws()}]`]);
      case 4:
      case 5: {
        const n = this.int(4);
        const members: string[] = [];
        for (let i = 0; i < n; i++) {
          const key = this.int(3) === 0 ? '"model"' : this.string().text;
          members.push(
            `${this.ws()}${key}${this.ws()}:${this.ws()}${this.value(depth - 1)}${this.ws()}`,
          );
        }
        return `{${members.join(",") || this.ws()}}`;
      }
      default: {
        const n = this.int(4);
        const items: string[] = [];
        for (let i = 0; i < n; i++) items.push(`${this.ws()}${this.value(depth - 1)}${this.ws()}`);
        return `[${items.join(",") || this.ws()}]`;
      }
    }
  }
}
