/**
 * Token usage from a non-streaming JSON answer (docs/behaviour.md#token-usage).
 *
 * The body is copied aside while it passes (up to a bound; a larger answer is not read
 * at all) and read once at its end: the top-level object's keys are walked in raw bytes,
 * and only the values of `usage` and `model` are decoded and parsed. The answer's text,
 * usually most of its bytes, is stepped over by a tight byte loop and never decoded.
 *
 * @module
 */

import {
  CLOSE_BRACE,
  COLON,
  COMMA,
  OPEN_BRACE,
  QUOTE,
  skipString,
  skipValue,
  skipWs,
} from "./byte_scan.ts";
import { readUsage, type TokenTally, type UsageReport } from "./usage_shapes.ts";
import { asciiStringAt, readUsageBytes } from "./usage_bytes.ts";

/** The largest JSON answer read for usage (larger ones report nothing). */
export const MAX_JSON_BYTES = 1024 * 1024;

/** Options of {@linkcode JsonUsageScanner}. */
export interface JsonScannerOptions {
  /** Largest body read, in bytes; default 1 MiB. */
  maxBytes?: number;
  /**
   * The answer's `Content-Length`, when it has one: the copy is sized once, and a body
   * declared over the bound is not copied at all.
   */
  contentLength?: number;
}

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Collects a JSON answer (bounded) and reads its usage at the end.
 *
 * @example
 * ```ts
 * import { JsonUsageScanner } from "./json_usage.ts";
 * const scanner = new JsonUsageScanner();
 * scanner.scan(new TextEncoder().encode('{"model":"m","usage":{"input_tokens":2,"output_tokens":7}}'));
 * scanner.end(); // { input: 2, output: 7, model: "m", events: 0, found: true, oversize: false }
 * ```
 */
export class JsonUsageScanner {
  readonly #max: number;
  /** The declared length, when it is within the bound; -1 otherwise. */
  readonly #declared: number = -1;
  #buf: Uint8Array = EMPTY;
  #len = 0;
  #oversize = false;
  #ended: UsageReport | undefined;

  /** Creates a scanner for one answer. */
  constructor(options: JsonScannerOptions = {}) {
    this.#max = options.maxBytes ?? MAX_JSON_BYTES;
    const declared = options.contentLength;
    if (declared !== undefined && Number.isSafeInteger(declared) && declared >= 0) {
      if (declared > this.#max) this.#oversize = true;
      else this.#declared = declared;
    }
  }

  /** Copies one chunk aside (nothing once the body is known to be over the bound). */
  scan(chunk: Uint8Array): void {
    if (this.#oversize || this.#ended) return;
    const n = chunk.length;
    if (n === 0) return;
    if (this.#len === 0 && n === this.#declared) {
      // The whole answer in one piece (as the runtimes hand over most small answers):
      // read it where it lies instead of copying it aside.
      this.#ended = reportOf(chunk, false);
      return;
    }
    if (this.#buf.length === 0 && this.#declared > 0) {
      this.#buf = new Uint8Array(this.#declared);
    }
    const total = this.#len + n;
    if (total > this.#max) {
      this.#oversize = true;
      this.#buf = EMPTY;
      return;
    }
    if (total > this.#buf.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(total, this.#buf.length * 2, 1024), this.#max),
      );
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = total;
  }

  /** Bytes held (never above the bound). */
  get bufferedBytes(): number {
    return this.#len;
  }

  /** Reads the collected answer; later calls return the same report. */
  end(): UsageReport {
    if (this.#ended) return this.#ended;
    const report = reportOf(this.#buf.subarray(0, this.#len), this.#oversize);
    this.#buf = EMPTY;
    this.#ended = report;
    return report;
  }
}

/** The report of a whole answer (nothing read when it was over the bound). */
function reportOf(body: Uint8Array, oversize: boolean): UsageReport {
  const report: UsageReport = { events: 0, found: false, oversize };
  if (oversize) return report;
  const found = readJsonUsage(body);
  const t = found.tokens;
  if (t.input !== undefined) report.input = t.input;
  if (t.output !== undefined) report.output = t.output;
  if (t.cachedInput !== undefined) report.cachedInput = t.cachedInput;
  if (t.reasoning !== undefined) report.reasoning = t.reasoning;
  report.found = found.found;
  if (found.model !== undefined) report.model = found.model;
  return report;
}

/** What {@linkcode readJsonUsage} finds. */
export interface JsonUsage {
  /** The counts the top-level `usage` states. */
  tokens: TokenTally;
  /** Whether any count was read. */
  found: boolean;
  /** The top-level string `model`. */
  model?: string;
}

/**
 * Reads the top-level `usage` and `model` of a whole JSON answer in raw bytes. Values of
 * other keys are stepped over without decoding; a body that is not a JSON object, or is
 * cut, yields what was read before the damage (usually nothing).
 */
export function readJsonUsage(a: Uint8Array): JsonUsage {
  const out: JsonUsage = { tokens: {}, found: false };
  const e = a.length;
  let i = skipWs(a, 0, e);
  if (e - i >= 3 && a[i] === 0xef && a[i + 1] === 0xbb && a[i + 2] === 0xbf) {
    i = skipWs(a, i + 3, e);
  }
  if (a[i] !== OPEN_BRACE) return out;
  i = skipWs(a, i + 1, e);
  while (i < e && a[i] === QUOTE) {
    const keyEnd = skipString(a, i, e);
    if (keyEnd === -1) return out;
    const key = keyOf(a, i, keyEnd);
    const colon = skipWs(a, keyEnd, e);
    if (a[colon] !== COLON) return out;
    const v = skipWs(a, colon + 1, e);
    const end = skipValue(a, v, e);
    if (end === -1) return out;
    if (key === "usage") {
      const tally: TokenTally = {};
      // A later `usage` key replaces an earlier one, as in JSON.parse.
      if (readUsageBytes(a, v, end, tally) ?? readUsage(parse(a, v, end), tally)) {
        out.tokens = tally;
        out.found = true;
      } else {
        out.tokens = {};
        out.found = false;
      }
    } else if (key === "model" && a[v] === QUOTE) {
      const model = asciiStringAt(a, v, end) ?? parse(a, v, end);
      if (typeof model === "string") out.model = model;
    }
    i = skipWs(a, end, e);
    if (a[i] === COMMA) i = skipWs(a, i + 1, e);
    else if (a[i] === CLOSE_BRACE) break;
    else return out;
  }
  return out;
}

/** `usage` or `model` when the key string [s, k) is one of them (unescaped), else "". */
function keyOf(a: Uint8Array, s: number, k: number): string {
  const len = k - s;
  if (len !== 7) return "";
  // "usage" / "model": 5 letters between the quotes.
  if (a[s + 1] === 0x75 && a[s + 2] === 0x73 && a[s + 3] === 0x61 && a[s + 4] === 0x67) {
    return a[s + 5] === 0x65 ? "usage" : "";
  }
  if (a[s + 1] === 0x6d && a[s + 2] === 0x6f && a[s + 3] === 0x64 && a[s + 4] === 0x65) {
    return a[s + 5] === 0x6c ? "model" : "";
  }
  return "";
}

/** JSON.parse of [s, e) of `a`, or undefined when it is not valid JSON. */
function parse(a: Uint8Array, s: number, e: number): unknown {
  try {
    return JSON.parse(decoder.decode(a.subarray(s, e)));
  } catch {
    return undefined;
  }
}
