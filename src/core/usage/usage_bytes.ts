/**
 * Reads a `usage` object's counts straight from its bytes, without decoding it to a
 * string or building objects: the common case of a JSON answer (every count a plain
 * integer) costs one pass over a few hundred bytes. Anything outside that case (a
 * fraction or exponent, a negative number, an escape, a nested array, a raw control
 * byte) returns `undefined`, and the caller falls back to `JSON.parse` and
 * {@linkcode readUsage}, so both ways read the same counts from the same bytes.
 *
 * @module
 */

import {
  ascii,
  BACKSLASH,
  bytesAt,
  CLOSE_BRACE,
  COLON,
  COMMA,
  OPEN_BRACE,
  QUOTE,
  skipWs,
} from "./byte_scan.ts";
import type { TokenTally } from "./usage_shapes.ts";

// What a top-level key of `usage` holds, by its index in TOP_KEYS.
const PROMPT = 0;
const INPUT = 1;
const COMPLETION = 2;
const OUTPUT = 3;
const CACHE_READ = 4;
const PROMPT_DETAILS = 5;
const INPUT_DETAILS = 6;
const COMPLETION_DETAILS = 7;
const OUTPUT_DETAILS = 8;

const TOP_KEYS = [
  "prompt_tokens",
  "input_tokens",
  "completion_tokens",
  "output_tokens",
  "cache_read_input_tokens",
  "prompt_tokens_details",
  "input_tokens_details",
  "completion_tokens_details",
  "output_tokens_details",
].map((s) => ascii(s));
const CACHED = [ascii("cached_tokens")];
const REASONING = [ascii("reasoning_tokens")];

/** A value that is not a count (null, a string, an object where a count belongs). */
const NOT_COUNT = -1;
/** Bytes this reader does not handle: the caller falls back to `JSON.parse`. */
const UNSURE = -2;

/**
 * Reads the `usage` object at [s, e) of `a` into `into`, as
 * `readUsage(JSON.parse(text), into)` would. Returns whether it read a count, or
 * `undefined` when the bytes are outside what it handles (the caller then parses them).
 */
export function readUsageBytes(
  a: Uint8Array,
  s: number,
  e: number,
  into: TokenTally,
): boolean | undefined {
  if (a[s] !== OPEN_BRACE) return undefined;
  // One slot per key of TOP_KEYS; a details key's slot holds its inner count.
  const c = [
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
    NOT_COUNT,
  ];
  const end = walkObject(a, s, e, TOP_KEYS, (key, v) => topValue(a, v, e, key, c));
  if (end !== e) return undefined;
  const pick = (x: number, y: number) => x >= 0 ? x : y >= 0 ? y : NOT_COUNT;
  const input = pick(c[PROMPT]!, c[INPUT]!);
  const output = pick(c[COMPLETION]!, c[OUTPUT]!);
  const cached = pick(pick(c[PROMPT_DETAILS]!, c[INPUT_DETAILS]!), c[CACHE_READ]!);
  const reasoning = pick(c[COMPLETION_DETAILS]!, c[OUTPUT_DETAILS]!);
  if (input >= 0) into.input = input;
  if (output >= 0) into.output = output;
  if (cached >= 0) into.cachedInput = cached;
  if (reasoning >= 0) into.reasoning = reasoning;
  return input >= 0 || output >= 0 || cached >= 0 || reasoning >= 0;
}

/** Reads one value of the top-level object; returns the index after it, or -1. */
function topValue(a: Uint8Array, v: number, e: number, key: number, c: number[]): number {
  if (key < PROMPT_DETAILS) {
    const n = countAt(a, v, e);
    if (key >= 0) c[key] = n;
    return n === UNSURE ? -1 : pos;
  }
  // A details object replaces an earlier one with the same key as a whole.
  c[key] = NOT_COUNT;
  if (a[v] !== OPEN_BRACE) return countAt(a, v, e) === UNSURE ? -1 : pos;
  const names = key === PROMPT_DETAILS || key === INPUT_DETAILS ? CACHED : REASONING;
  return walkObject(a, v, e, names, (inner, w) => {
    const n = countAt(a, w, e);
    if (n === UNSURE) return -1;
    if (inner === 0) c[key] = n;
    return pos;
  });
}

/**
 * Walks the object that opens at `s`, calling `onValue` with the index in `names` of
 * each key (-1 for others) and the start of its value; `onValue` returns the index after
 * the value or -1. Returns the index after the object, or -1 for anything unhandled.
 */
function walkObject(
  a: Uint8Array,
  s: number,
  e: number,
  names: Uint8Array[],
  onValue: (key: number, v: number) => number,
): number {
  let i = skipWs(a, s + 1, e);
  if (a[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (a[i] !== QUOTE) return -1;
    const keyEnd = plainStringEnd(a, i, e);
    if (keyEnd === -1) return -1;
    const key = nameIndex(a, i + 1, keyEnd - 1, names);
    const colon = skipWs(a, keyEnd, e);
    if (a[colon] !== COLON) return -1;
    const after = onValue(key, skipWs(a, colon + 1, e));
    if (after === -1) return -1;
    i = skipWs(a, after, e);
    if (a[i] === CLOSE_BRACE) return i + 1;
    if (a[i] !== COMMA) return -1;
    i = skipWs(a, i + 1, e);
  }
}

/** Where the value {@linkcode countAt} read last ends (saves a tuple per value). */
let pos = -1;

/**
 * The count at `v` (its end in `pos`): a non-negative integer, NOT_COUNT for `null`,
 * `true`, `false`, a plain string or an object of those, UNSURE for anything else.
 */
function countAt(a: Uint8Array, v: number, e: number): number {
  const b = a[v];
  if (b !== undefined && b >= 0x30 && b <= 0x39) {
    let k = v + 1;
    let n = b - 0x30;
    while (k < e && a[k]! >= 0x30 && a[k]! <= 0x39) n = n * 10 + a[k++]! - 0x30;
    // A leading zero, a fraction, an exponent or more digits than a safe integer holds.
    if ((b === 0x30 && k > v + 1) || k - v > 15) return UNSURE;
    const next = a[k];
    if (next === 0x2e || next === 0x65 || next === 0x45) return UNSURE;
    pos = k;
    return n;
  }
  if (b === QUOTE) return settle(plainStringEnd(a, v, e));
  if (b === OPEN_BRACE) {
    return settle(walkObject(a, v, e, [], (_k, w) => countAt(a, w, e) === UNSURE ? -1 : pos));
  }
  for (const word of LITERALS) {
    if (v + word.length <= e && bytesAt(a, v, word)) return settle(v + word.length);
  }
  return UNSURE;
}

/** NOT_COUNT ending at `end`, or UNSURE when `end` is -1. */
function settle(end: number): number {
  pos = end;
  return end === -1 ? UNSURE : NOT_COUNT;
}

const LITERALS = ["null", "true", "false"].map((s) => ascii(s));

/** End of the string at `i` when it has no escape or control byte, else -1. */
function plainStringEnd(a: Uint8Array, i: number, e: number): number {
  for (let k = i + 1; k < e; k++) {
    const c = a[k]!;
    if (c === QUOTE) return k + 1;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** Index in `names` of the bytes [s, k), or -1. */
function nameIndex(a: Uint8Array, s: number, k: number, names: Uint8Array[]): number {
  const len = k - s;
  for (let n = 0; n < names.length; n++) {
    const name = names[n]!;
    if (name.length === len && bytesAt(a, s, name)) return n;
  }
  return -1;
}

/**
 * The string at [s, e) (quotes included) when it is plain ASCII without escapes, else
 * undefined (the caller decodes and parses it). The last one read is kept, so an answer
 * naming the same model as the one before costs a comparison, not a new string.
 */
export function asciiStringAt(a: Uint8Array, s: number, e: number): string | undefined {
  const len = e - s - 2;
  if (len < 0 || a[s] !== QUOTE || a[e - 1] !== QUOTE) return undefined;
  if (lastBytes.length === len && bytesAt(a, s + 1, lastBytes)) return lastString;
  for (let k = s + 1; k < e - 1; k++) {
    const c = a[k]!;
    if (c === BACKSLASH || c < 0x20 || c >= 0x80) return undefined;
  }
  const bytes = a.slice(s + 1, e - 1);
  lastString = String.fromCharCode.apply(null, bytes as unknown as number[]);
  lastBytes = bytes;
  return lastString;
}

let lastBytes: Uint8Array = new Uint8Array(0);
let lastString = "";
