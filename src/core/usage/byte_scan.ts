/**
 * Byte-level helpers for reading JSON without decoding it: finding a key such as
 * `"usage"` in raw bytes, and stepping over JSON values. They are plain loops over the
 * bytes, bounded by the caller's range: on V8 (Deno 2.9) `Uint8Array.prototype.indexOf`
 * is not a vectorised memchr but a loop of about the same speed per byte plus the cost
 * of a call, and it runs to the end of the array rather than of the line.
 *
 * @module
 */

/** `"` */
export const QUOTE = 0x22;
/** `\` */
export const BACKSLASH = 0x5c;
/** `:` */
export const COLON = 0x3a;
/** `,` */
export const COMMA = 0x2c;
/** `{` */
export const OPEN_BRACE = 0x7b;
/** `}` */
export const CLOSE_BRACE = 0x7d;
/** `[` */
export const OPEN_BRACKET = 0x5b;
/** `]` */
export const CLOSE_BRACKET = 0x5d;
/** `\n` */
export const LF = 0x0a;
/** `\r` */
export const CR = 0x0d;
/** ` ` */
export const SPACE = 0x20;

/** The ASCII bytes of `s` (markers are ASCII). */
export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** JSON whitespace. */
export function isWs(b: number | undefined): boolean {
  return b === SPACE || b === LF || b === CR || b === 0x09;
}

/** The first index in [i, e) that is not JSON whitespace, or `e`. */
export function skipWs(a: Uint8Array, i: number, e: number): number {
  while (i < e && isWs(a[i])) i++;
  return i;
}

/** Whether `a` holds `bytes` at `at` (the caller checked the bounds). */
export function bytesAt(a: Uint8Array, at: number, bytes: Uint8Array): boolean {
  for (let k = 0; k < bytes.length; k++) if (a[at + k] !== bytes[k]) return false;
  return true;
}

/**
 * Index just after the JSON string that opens at `i` (`a[i]` is `"`), or -1 when it
 * does not close before `e`. A plain loop: V8's `Uint8Array.prototype.indexOf` is no
 * faster per byte (about 0.5 ns against 0.4 measured) and costs a call per escape.
 */
export function skipString(a: Uint8Array, i: number, e: number): number {
  let k = i + 1;
  while (k < e) {
    const c = a[k];
    if (c === QUOTE) return k + 1;
    k += c === BACKSLASH ? 2 : 1;
  }
  return -1;
}

/**
 * Index just after the JSON value that starts at `i`, or -1 when it does not end before
 * `e`. Strings are jumped over natively; only structure is walked byte by byte. It
 * checks nesting, not grammar: whatever it delimits is handed to `JSON.parse`, which
 * judges.
 */
export function skipValue(a: Uint8Array, i: number, e: number): number {
  const b = a[i];
  if (b === QUOTE) return skipString(a, i, e);
  if (b === OPEN_BRACE || b === OPEN_BRACKET) {
    let depth = 0;
    let k = i;
    while (k < e) {
      const c = a[k];
      if (c === QUOTE) {
        k = skipString(a, k, e);
        if (k === -1) return -1;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return k + 1;
      }
      k++;
    }
    return -1;
  }
  let k = i;
  while (k < e) {
    const c = a[k];
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWs(c)) break;
    k++;
  }
  return k === i ? -1 : k;
}

/**
 * The start of the value of the first occurrence of `key` (with its quotes, e.g.
 * `"usage"`) in [from, e) that reads as a key: after `{`, `,` or `lineStart` (whitespace
 * aside) and followed by `:`. Returns `e` when the line ends before the value shows (the
 * caller treats that as "maybe"), -1 when there is no such occurrence. Inside a string
 * the same letters are preceded by a backslash (`\"usage\"`), so they are not taken.
 * `anchor` is the index in `key` of a byte that is rare in answers (the `g` of
 * `"usage"`): the loop looks for it, then compares the rest.
 */
export function keyValueAt(
  a: Uint8Array,
  from: number,
  e: number,
  lineStart: number,
  key: Uint8Array,
  anchor: number,
): number {
  const anchorByte = key[anchor];
  const last = e - key.length + anchor;
  for (let i = from + anchor; i <= last; i++) {
    if (a[i] !== anchorByte) continue;
    const start = i - anchor;
    if (!bytesAt(a, start, key)) continue;
    const v = afterKey(a, start, start + key.length, e, lineStart);
    if (v !== -1) return v;
  }
  return -1;
}

/** See {@linkcode keyValueAt}: checks what surrounds a key found at [s, k). */
function afterKey(a: Uint8Array, s: number, k: number, e: number, lineStart: number): number {
  let j = s - 1;
  while (j >= lineStart && isWs(a[j])) j--;
  if (j >= lineStart && a[j] !== OPEN_BRACE && a[j] !== COMMA) return -1;
  const c = skipWs(a, k, e);
  if (c === e) return e;
  if (a[c] !== COLON) return -1;
  return skipWs(a, c + 1, e);
}
