/**
 * A small, strict JSON scanner over raw UTF-8 bytes that finds where the members of an
 * object sit, so a request body can be edited in place (docs/behaviour.md#model_map: only the value
 * of `model` changes, every other byte stays).
 *
 * It accepts exactly what `new TextDecoder("utf-8", { fatal: true })` followed by
 * `JSON.parse` accepts (a leading byte-order mark is skipped, as the decoder does), so an
 * edit never applies to a body that the request view considers invalid. It is iterative
 * (an explicit stack, no recursion), so deeply nested input cannot overflow the call
 * stack, and it makes one pass over the bytes.
 *
 * @module
 */

/** One member of a scanned object, as byte offsets into the scanned bytes. */
export interface JsonMember {
  /** The key, decoded (escapes resolved), as `JSON.parse` would see it. */
  readonly key: string;
  /** Offset of the key's opening quote. */
  readonly keyStart: number;
  /** Offset of the value's first byte. */
  readonly valueStart: number;
  /** Offset just after the value's last byte. */
  readonly valueEnd: number;
}

/** A scanned object: its byte span and its members in text order (duplicates kept). */
export interface JsonObjectSpan {
  /** Offset of `{`. */
  readonly start: number;
  /** Offset just after `}`. */
  readonly end: number;
  readonly members: readonly JsonMember[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

const decoder = new TextDecoder();

/**
 * Scans a whole JSON document whose top level is an object.
 *
 * @returns the top-level object's span and members, or `undefined` when the bytes are
 * not valid JSON (including invalid UTF-8) or the top-level value is not an object.
 */
export function scanJsonDocument(bytes: Uint8Array): JsonObjectSpan | undefined {
  let pos = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3;
  pos = skipWhitespace(bytes, pos);
  if (bytes[pos] !== OPEN_OBJECT) return undefined;
  const span = scanObject(bytes, pos);
  if (span === undefined) return undefined;
  return skipWhitespace(bytes, span.end) === bytes.length ? span : undefined;
}

/**
 * Scans the object that starts with `{` at `start` (for instance a member's value found
 * by {@linkcode scanJsonDocument}).
 *
 * @returns its span and members, or `undefined` when it is not a valid JSON object.
 */
export function scanObject(bytes: Uint8Array, start: number): JsonObjectSpan | undefined {
  if (bytes[start] !== OPEN_OBJECT) return undefined;
  const members: JsonMember[] = [];
  let pos = skipWhitespace(bytes, start + 1);
  if (bytes[pos] === CLOSE_OBJECT) return { start, end: pos + 1, members };
  for (;;) {
    const keyStart = pos;
    const keyEnd = scanString(bytes, keyStart);
    if (keyEnd < 0) return undefined;
    const key = decodeString(bytes, keyStart, keyEnd);
    pos = skipWhitespace(bytes, keyEnd);
    if (bytes[pos] !== COLON) return undefined;
    const valueStart = skipWhitespace(bytes, pos + 1);
    const valueEnd = skipValue(bytes, valueStart);
    if (valueEnd < 0) return undefined;
    members.push({ key, keyStart, valueStart, valueEnd });
    pos = skipWhitespace(bytes, valueEnd);
    if (bytes[pos] === CLOSE_OBJECT) return { start, end: pos + 1, members };
    if (bytes[pos] !== COMMA) return undefined;
    pos = skipWhitespace(bytes, pos + 1);
  }
}

/** The member `JSON.parse` would read for `key` (the last one), if any. */
export function lastMember(span: JsonObjectSpan, key: string): JsonMember | undefined {
  for (let i = span.members.length - 1; i >= 0; i--) {
    if (span.members[i]!.key === key) return span.members[i];
  }
  return undefined;
}

/** Decodes the string value or key spanning `[start, end)` (quotes included). */
export function decodeString(bytes: Uint8Array, start: number, end: number): string {
  const inner = bytes.subarray(start + 1, end - 1);
  // Most keys and model names carry no escape: decode the bytes directly.
  return inner.includes(BACKSLASH)
    ? JSON.parse(decoder.decode(bytes.subarray(start, end)))
    : decoder.decode(inner);
}

/** Whether the value spanning `[start, end)` is exactly the literal `true`/`false`/`null`. */
export function isLiteral(
  bytes: Uint8Array,
  start: number,
  end: number,
  literal: "true" | "false" | "null",
): boolean {
  const want = literal === "true" ? TRUE : literal === "false" ? FALSE : NULL;
  return end - start === want.length && matchesAt(bytes, start, want);
}

function skipWhitespace(b: Uint8Array, pos: number): number {
  for (;;) {
    const c = b[pos];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else return pos;
  }
}

function matchesAt(b: Uint8Array, pos: number, want: readonly number[]): boolean {
  for (let i = 0; i < want.length; i++) if (b[pos + i] !== want[i]) return false;
  return true;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined &&
    ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

function isContinuation(c: number | undefined): boolean {
  return c !== undefined && c >= 0x80 && c <= 0xbf;
}

/**
 * Scans the string whose opening quote is at `pos`; returns the offset after the closing
 * quote, or -1. Rejects what JSON.parse or a fatal UTF-8 decoder rejects: raw control
 * characters, unknown escapes, and ill-formed UTF-8 (overlong forms, encoded surrogates,
 * code points above U+10FFFF).
 */
function scanString(b: Uint8Array, pos: number): number {
  if (b[pos] !== QUOTE) return -1;
  const n = b.length;
  let i = pos + 1;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x80) {
      if (c === BACKSLASH) {
        const e = b[i + 1];
        if (
          e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 ||
          e === 0x6e || e === 0x72 || e === 0x74
        ) i += 2;
        else if (
          e === 0x75 && isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) &&
          isHex(b[i + 5])
        ) i += 6;
        else return -1;
      } else if (c < 0x20) return -1;
      else i++;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (!isContinuation(b[i + 1])) return -1;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      const c1 = b[i + 1];
      if (c1 === undefined) return -1;
      // E0 needs A0..BF (no overlong forms); ED needs 80..9F (no surrogates).
      const lo = c === 0xe0 ? 0xa0 : 0x80;
      const hi = c === 0xed ? 0x9f : 0xbf;
      if (c1 < lo || c1 > hi || !isContinuation(b[i + 2])) return -1;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const c1 = b[i + 1];
      if (c1 === undefined) return -1;
      // F0 needs 90..BF (no overlong forms); F4 needs 80..8F (nothing above U+10FFFF).
      const lo = c === 0xf0 ? 0x90 : 0x80;
      const hi = c === 0xf4 ? 0x8f : 0xbf;
      if (c1 < lo || c1 > hi || !isContinuation(b[i + 2]) || !isContinuation(b[i + 3])) {
        return -1;
      }
      i += 4;
    } else return -1;
  }
  return -1;
}

function skipDigits(b: Uint8Array, pos: number): number {
  while (b[pos]! >= ZERO && b[pos]! <= NINE) pos++;
  return pos;
}

/** Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; returns its end, or -1. */
function scanNumber(b: Uint8Array, pos: number): number {
  let i = pos;
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (b[i]! >= 0x31 && b[i]! <= NINE) i = skipDigits(b, i + 1);
  else return -1;
  if (b[i] === DOT) {
    const start = i + 1;
    i = skipDigits(b, start);
    if (i === start) return -1;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === PLUS || b[i] === MINUS) i++;
    const start = i;
    i = skipDigits(b, start);
    if (i === start) return -1;
  }
  return i;
}

/** Scans one scalar (string, number, literal) at `pos`; returns its end, or -1. */
function scanScalar(b: Uint8Array, pos: number): number {
  const c = b[pos];
  if (c === QUOTE) return scanString(b, pos);
  if (c === 0x74) return matchesAt(b, pos, TRUE) ? pos + 4 : -1;
  if (c === 0x66) return matchesAt(b, pos, FALSE) ? pos + 5 : -1;
  if (c === 0x6e) return matchesAt(b, pos, NULL) ? pos + 4 : -1;
  return scanNumber(b, pos);
}

/**
 * Skips one value starting at `pos` (no leading whitespace); returns the offset after
 * it, or -1 when it is not valid JSON. Containers are walked with an explicit stack.
 */
function skipValue(b: Uint8Array, pos: number): number {
  // One entry per open container: the byte that closes it.
  const closers: number[] = [];
  for (;;) {
    // Here a value is expected at `pos`.
    const c = b[pos];
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
      pos = skipWhitespace(b, pos + 1);
      if (b[pos] === close) {
        pos++;
      } else {
        closers.push(close);
        if (close === CLOSE_OBJECT) {
          pos = skipKey(b, pos);
          if (pos < 0) return -1;
        }
        continue;
      }
    } else {
      pos = scanScalar(b, pos);
      if (pos < 0) return -1;
    }
    // A value just ended: close containers, or move to the next element.
    for (;;) {
      if (closers.length === 0) return pos;
      pos = skipWhitespace(b, pos);
      const close = closers[closers.length - 1];
      if (b[pos] === close) {
        closers.pop();
        pos++;
        continue;
      }
      if (b[pos] !== COMMA) return -1;
      pos = skipWhitespace(b, pos + 1);
      if (close === CLOSE_OBJECT) {
        pos = skipKey(b, pos);
        if (pos < 0) return -1;
      }
      break;
    }
  }
}

/** Skips `"key" :` and the whitespace after it; returns where the value starts, or -1. */
function skipKey(b: Uint8Array, pos: number): number {
  const end = scanString(b, pos);
  if (end < 0) return -1;
  const colon = skipWhitespace(b, end);
  if (b[colon] !== COLON) return -1;
  return skipWhitespace(b, colon + 1);
}
