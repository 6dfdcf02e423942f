/**
 * What counts as printable text: names become metric labels and log fields, and
 * diagnostics are printed one per line, so neither may hold a character that ends a
 * line or that a terminal acts on.
 *
 * @module
 */

// C0 and C1 controls (CR, LF, NUL, ESC, …), DEL, the Unicode line and paragraph
// separators, and surrogates that are not part of a pair (with the u flag a paired
// surrogate is one code point, outside the range).
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\uD800-\uDFFF]/u;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, "gu");

/** Whether `text` holds no control character, line separator or lone surrogate. */
export function isPrintable(text: string): boolean {
  return !UNPRINTABLE.test(text);
}

/**
 * Describes the first character that makes `text` unprintable (`a line break`,
 * `a NUL character`, `the control character U+001B`), or `undefined` if there is none.
 * Names the character, never the text around it, so it serves for secrets too.
 */
export function unprintableProblem(text: string): string | undefined {
  const found = UNPRINTABLE.exec(text)?.[0];
  if (found === undefined) return undefined;
  return describeCharacter(found);
}

/** Describes one character that is out of place, for a "got …" part of a message. */
export function describeCharacter(c: string): string {
  if (c === "\r" || c === "\n" || c === "\u2028" || c === "\u2029") return "a line break";
  if (c === "\0") return "a NUL character";
  const code = c.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  if (code >= 0xd800 && code <= 0xdfff) return `an unpaired surrogate ${hex}`;
  if (UNPRINTABLE.test(c)) return `the control character ${hex}`;
  return `the character ${JSON.stringify(c)} (${hex})`;
}

const SHORT_ESCAPES: ReadonlyMap<string, string> = new Map([
  ["\n", "\\n"],
  ["\r", "\\r"],
  ["\t", "\\t"],
]);

/**
 * Escapes what would break a diagnostic line or a log: control characters, line
 * separators and lone surrogates become `\r`, `\n`, `\t` or `\uXXXX`. Text without
 * them is returned unchanged, and the result never holds them, so escaping twice
 * changes nothing.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE_ALL,
    (c) => SHORT_ESCAPES.get(c) ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
