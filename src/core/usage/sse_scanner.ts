/**
 * Token usage from a Server-Sent Events answer, read while the bytes pass through.
 *
 * The cost is the product (docs/behaviour.md#token-usage): every event of an LLM stream goes through here, so the scanner works on raw bytes.
 * One loop over each line finds its end and, on the way, the `"usage"` key; nothing is
 * decoded unless an event carries usage (or, in the first events, the model), and only
 * that event is parsed. A line complete inside the chunk is read where it lies; only the
 * incomplete tail of a chunk is copied, into one reused buffer bounded at `maxLine` (a
 * longer line is skipped). No promise, stream or per-event object.
 *
 * @module
 */

import { ascii, bytesAt, CR, keyValueAt, LF, QUOTE, SPACE } from "./byte_scan.ts";
import {
  applySseEvent,
  hasTokens,
  modelOf,
  type SseEventName,
  type TokenTally,
  type UsageReport,
} from "./usage_shapes.ts";

/** The bound on one line (and on one event's data) from docs/behaviour.md#token-usage. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Options of {@linkcode SseUsageScanner}. */
export interface SseScannerOptions {
  /** The clock stamping the first and last event (e.g. the gateway clock's `now`). */
  now: () => number;
  /** Longest line (and longest event data) read, in bytes; default 1 MiB. */
  maxLine?: number;
}

const D = 0x64; // d
const A = 0x61; // a
const T = 0x74; // t
const E = 0x65; // e
const V = 0x76; // v
const N = 0x6e; // n
const L = 0x6c; // l
const U = 0x75; // u
const S = 0x73; // s
const G = 0x67; // g
const FIELD_COLON = 0x3a; // :

/** Buffers above this size are dropped after use, so an idle stream stays small. */
const KEEP_BUFFER = 16 * 1024;
/** Events searched for `"model"` (it comes with the first event in every API). */
const MODEL_EVENTS = 4;
/** Events parsed for the model alone before giving up on finding it that way. */
const MODEL_PARSES = 2;

/** The data holds a `"usage"` key whose value is not `null`. */
const HAS_USAGE = 1;
/** The data holds a `"model"` key with a string value, and the model is still unknown. */
const HAS_MODEL = 2;

const EVENT_NAMES: readonly [Uint8Array, SseEventName][] = [
  [ascii("message_start"), "message_start"],
  [ascii("message_delta"), "message_delta"],
  [ascii("response.completed"), "response.completed"],
  [ascii("response.incomplete"), "response.incomplete"],
];
const DONE = ascii("[DONE]");
const USAGE_KEY = ascii('"usage"');
const MODEL_KEY = ascii('"model"');
/** Where a line's `"usage"` is not known from the line loop: search the line for it. */
const SEARCH = -2;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Reads an SSE body chunk by chunk (WHATWG event-stream rules: `\r\n`, `\n` or `\r`
 * line ends, `:` comments, multi-line `data:` joined with `\n`, a leading BOM) and
 * gathers the usage of OpenAI Chat/Completions, Responses and Anthropic Messages
 * streams. It never changes or keeps the caller's chunks and never throws on bad bytes
 * or bad JSON.
 *
 * @example
 * ```ts
 * import { SseUsageScanner } from "./sse_scanner.ts";
 * const scanner = new SseUsageScanner({ now: () => performance.now() });
 * scanner.scan(new TextEncoder().encode('data: {"usage":{"prompt_tokens":3,"completion_tokens":5}}\n\n'));
 * const report = scanner.end(); // { input: 3, output: 5, events: 1, found: true, ... }
 * ```
 */
export class SseUsageScanner {
  readonly #now: () => number;
  readonly #maxLine: number;

  // The incomplete line carried from one chunk to the next.
  #pending: Uint8Array = EMPTY;
  #pendingLen = 0;
  /** Inside a line over the bound: its bytes are dropped until its end. */
  #skipping = false;
  /** The last chunk ended in `\r`: a `\n` opening the next one belongs to it. */
  #afterCR = false;
  #firstLine = true;

  // The event being read. Its data is [#dataStart, #dataEnd) of #dataArr: the data line
  // where it lies (valid during one scan call) or, once copied, #eventBuf.
  #dataLines = 0;
  #flags = 0;
  #name: SseEventName = undefined;
  /** Part of the event's data was over the bound: the event is not parsed. */
  #tainted = false;
  #dataArr: Uint8Array = EMPTY;
  #dataStart = 0;
  #dataEnd = 0;
  #eventBuf: Uint8Array = EMPTY;

  // What was learned.
  readonly #tally: TokenTally = {};
  #model: string | undefined;
  #modelParses = 0;
  #events = 0;
  #firstAt: number | undefined;
  #lastAt: number | undefined;
  #oversize = false;
  /** `now()` of the current scan call, taken once for all its events. */
  #stamp: number | undefined;
  #ended: UsageReport | undefined;

  /** Creates a scanner for one answer. */
  constructor(options: SseScannerOptions) {
    this.#now = options.now;
    this.#maxLine = options.maxLine ?? MAX_LINE_BYTES;
  }

  /**
   * Reads one chunk of the body as it passes to the client. Synchronous; keeps no
   * reference to `chunk` after it returns (bytes it still needs are copied).
   */
  scan(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0 || this.#ended) return;
    this.#stamp = undefined;
    let p = 0;
    if (this.#afterCR) {
      this.#afterCR = false;
      if (chunk[0] === LF) p = 1;
    }
    while (p < n) {
      // One pass finds the line end and the first `"usage"` (found by its rare `g`):
      // V8's indexOf is no faster per byte, and this reads each byte once.
      let i = p;
      let key = -1;
      for (; i < n; i++) {
        const b = chunk[i]!;
        if (b <= CR) {
          if (b === LF || b === CR) break;
        } else if (
          b === G && key === -1 && i - p >= 4 && chunk[i - 1] === A && chunk[i - 2] === S &&
          chunk[i - 3] === U && chunk[i - 4] === QUOTE && chunk[i + 1] === E &&
          chunk[i + 2] === QUOTE
        ) key = i - 4;
      }
      if (i === n) {
        this.#keepData();
        this.#carry(chunk, p, n);
        return;
      }
      let next = i + 1;
      if (chunk[i] === CR) {
        if (next === n) this.#afterCR = true;
        else if (chunk[next] === LF) next++;
      }
      this.#endLine(chunk, p, i, key);
      p = next;
    }
    this.#keepData();
  }

  /**
   * A data line still waiting for its event's end lies in the caller's chunk or in the
   * carry buffer, which the next bytes overwrite: copy it before either goes.
   */
  #keepData(): void {
    if (this.#dataLines > 0 && !this.#tainted && this.#dataArr !== this.#eventBuf) {
      this.#copyData();
    }
  }

  /**
   * Ends the body and returns what was learned; later calls return the same report. A
   * last line or event left open by the end of the body is read as if closed, so usage
   * sent without the final blank line still counts (a cut JSON simply fails to parse).
   */
  end(): UsageReport {
    if (this.#ended) return this.#ended;
    this.#stamp = undefined;
    if (this.#skipping) this.#skipping = false;
    else if (this.#pendingLen > 0) {
      const len = this.#pendingLen;
      this.#pendingLen = 0;
      this.#line(this.#pending.subarray(0, len), 0, len, SEARCH);
    }
    this.#dispatch();
    this.#pending = EMPTY;
    this.#eventBuf = EMPTY;
    const t = this.#tally;
    const report: UsageReport = {
      events: this.#events,
      found: hasTokens(t),
      oversize: this.#oversize,
    };
    if (t.input !== undefined) report.input = t.input;
    if (t.output !== undefined) report.output = t.output;
    if (t.cachedInput !== undefined) report.cachedInput = t.cachedInput;
    if (t.reasoning !== undefined) report.reasoning = t.reasoning;
    if (this.#model !== undefined) report.model = this.#model;
    if (this.#firstAt !== undefined) report.firstEventAt = this.#firstAt;
    if (this.#lastAt !== undefined) report.lastEventAt = this.#lastAt;
    this.#ended = report;
    return report;
  }

  /** Bytes held for the incomplete line (for tests: never above `maxLine`). */
  get pendingBytes(): number {
    return this.#pendingLen;
  }

  /** Capacity of the buffers held (for tests and memory checks). */
  get bufferedCapacity(): number {
    return this.#pending.length + this.#eventBuf.length;
  }

  /**
   * A line ends at `eol` in `chunk`; it began at `p` or in the carried bytes. `key` is
   * where `"usage"` first shows in [p, eol), or -1.
   */
  #endLine(chunk: Uint8Array, p: number, eol: number, key: number): void {
    if (this.#skipping) {
      this.#skipping = false;
      return;
    }
    const held = this.#pendingLen;
    if (held === 0) {
      if (eol - p > this.#maxLine) this.#skipLine(EMPTY, 0, chunk, p, eol);
      else this.#line(chunk, p, eol, key);
      return;
    }
    const total = held + (eol - p);
    if (total > this.#maxLine) {
      this.#pendingLen = 0;
      this.#skipLine(this.#pending, held, chunk, p, eol);
      return;
    }
    this.#reserve(total);
    this.#pending.set(chunk.subarray(p, eol), held);
    this.#pendingLen = 0;
    const line = this.#pending.subarray(0, total);
    this.#line(line, 0, total, SEARCH);
    if (this.#pending.length > KEEP_BUFFER) this.#pending = EMPTY;
  }

  /** Keeps the incomplete tail [p, n) of a chunk for the next one. */
  #carry(chunk: Uint8Array, p: number, n: number): void {
    if (this.#skipping) return;
    const held = this.#pendingLen;
    const total = held + (n - p);
    if (total > this.#maxLine) {
      // Too long to be read: note what it was, drop it, skip the rest of it.
      this.#pendingLen = 0;
      this.#skipLine(this.#pending, held, chunk, p, n);
      this.#skipping = true;
      this.#pending = EMPTY;
      return;
    }
    this.#reserve(total);
    this.#pending.set(p === 0 && n === chunk.length ? chunk : chunk.subarray(p, n), held);
    this.#pendingLen = total;
  }

  /** Makes the carry buffer hold `size` bytes, keeping what it holds. */
  #reserve(size: number): void {
    if (this.#pending.length >= size) return;
    let cap = Math.max(256, this.#pending.length * 2);
    while (cap < size) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.#maxLine));
    grown.set(this.#pending.subarray(0, this.#pendingLen));
    this.#pending = grown;
  }

  /**
   * A line over the bound is not read; when it is a `data:` line its event is still an
   * event, but one whose data is unknown. Its first bytes are in `head[0, …)` followed
   * by `tail[p, e)`.
   */
  #skipLine(head: Uint8Array, headLen: number, tail: Uint8Array, p: number, e: number): void {
    this.#oversize = true;
    this.#firstLine = false;
    const at = (k: number) => k < headLen ? head[k] : tail[p + k - headLen];
    const len = headLen + (e - p);
    if (len >= 5 && at(0) === D && at(1) === A && at(2) === T && at(3) === A) {
      if (at(4) === FIELD_COLON) {
        this.#dataLines++;
        this.#tainted = true;
      }
    }
  }

  /**
   * One complete line [s, e) of `a`, without its line end; `key` as in #endLine, or
   * SEARCH when the line was not looked at yet.
   */
  #line(a: Uint8Array, s: number, e: number, key: number): void {
    if (this.#firstLine) {
      this.#firstLine = false;
      if (e - s >= 3 && a[s] === 0xef && a[s + 1] === 0xbb && a[s + 2] === 0xbf) s += 3;
    }
    if (s === e) {
      this.#dispatch();
      return;
    }
    const b = a[s];
    if (b === D) {
      if (e - s < 4 || a[s + 1] !== A || a[s + 2] !== T || a[s + 3] !== A) return;
      if (e - s === 4) this.#data(a, e, e, -1);
      else if (a[s + 4] === FIELD_COLON) {
        let v = s + 5;
        if (v < e && a[v] === SPACE) v++;
        this.#data(a, v, e, key);
      }
      return;
    }
    if (b === E) {
      if (e - s < 5 || a[s + 1] !== V || a[s + 2] !== E || a[s + 3] !== N || a[s + 4] !== T) {
        return;
      }
      let v = s + 5;
      if (v < e) {
        if (a[v] !== FIELD_COLON) return;
        v++;
        if (v < e && a[v] === SPACE) v++;
      }
      this.#name = eventName(a, v, e);
    }
    // Comments (`:`), `id`, `retry` and unknown fields do not matter here.
  }

  /** One `data:` value [v, e) of `a`; `key` as in #line. */
  #data(a: Uint8Array, v: number, e: number, key: number): void {
    const lines = ++this.#dataLines;
    if (this.#tainted) return;
    this.#flags |= this.#markers(a, v, e, key);
    if (lines === 1) {
      this.#dataArr = a;
      this.#dataStart = v;
      this.#dataEnd = e;
      return;
    }
    // Several data lines: the event's data is their join with `\n`, built in #eventBuf.
    if (this.#dataArr !== this.#eventBuf) this.#copyData();
    const len = this.#dataEnd;
    const total = len + 1 + (e - v);
    if (total > this.#maxLine) {
      this.#tainted = true;
      this.#oversize = true;
      return;
    }
    this.#reserveEvent(total, len);
    this.#eventBuf[len] = LF;
    this.#eventBuf.set(a.subarray(v, e), len + 1);
    this.#dataArr = this.#eventBuf;
    this.#dataEnd = total;
  }

  /** Moves the event's data from where it lies into #eventBuf. */
  #copyData(): void {
    const len = this.#dataEnd - this.#dataStart;
    this.#reserveEvent(len, 0);
    this.#eventBuf.set(this.#dataArr.subarray(this.#dataStart, this.#dataEnd));
    this.#dataArr = this.#eventBuf;
    this.#dataStart = 0;
    this.#dataEnd = len;
  }

  /** Makes #eventBuf hold `size` bytes, keeping its first `keep`. */
  #reserveEvent(size: number, keep: number): void {
    if (this.#eventBuf.length >= size) return;
    let cap = Math.max(256, this.#eventBuf.length * 2);
    while (cap < size) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.#maxLine));
    if (keep > 0) grown.set(this.#eventBuf.subarray(0, keep));
    this.#eventBuf = grown;
  }

  /** Which of the keys that matter one data value holds; `key` as in #line. */
  #markers(a: Uint8Array, v: number, e: number, key: number): number {
    let flags = 0;
    // No `"usage"` anywhere in the line: nothing to look at.
    let from = key === -1 ? e : key >= v ? key : v;
    while (from < e) {
      const at = keyValueAt(a, from, e, v, USAGE_KEY, 4);
      if (at === -1) break;
      // `"usage":null` (every chunk of an OpenAI stream with include_usage) is nothing.
      if (
        at + 4 <= e && a[at] === N && a[at + 1] === U && a[at + 2] === L && a[at + 3] === L
      ) {
        from = at + 4;
        continue;
      }
      flags = HAS_USAGE;
      break;
    }
    if (
      this.#model === undefined && this.#events < MODEL_EVENTS &&
      this.#modelParses < MODEL_PARSES
    ) {
      const at = keyValueAt(a, v, e, v, MODEL_KEY, 3);
      if (at !== -1 && (at === e || a[at] === QUOTE)) flags |= HAS_MODEL;
    }
    return flags;
  }

  /** A blank line: the event is complete. */
  #dispatch(): void {
    const lines = this.#dataLines;
    if (lines > 0) {
      const a = this.#dataArr;
      const s = this.#dataStart;
      const e = this.#dataEnd;
      const done = !this.#tainted && e - s === DONE.length && bytesAt(a, s, DONE);
      if (!done) {
        this.#stamp ??= this.#now();
        this.#firstAt ??= this.#stamp;
        this.#lastAt = this.#stamp;
        this.#events++;
      }
      if (this.#flags !== 0 && !this.#tainted) this.#read(a, s, e);
    }
    this.#dataLines = 0;
    this.#flags = 0;
    this.#name = undefined;
    this.#tainted = false;
    this.#dataArr = EMPTY;
    this.#dataStart = 0;
    this.#dataEnd = 0;
    if (this.#eventBuf.length > KEEP_BUFFER) this.#eventBuf = EMPTY;
  }

  /** Parses the data of an event that carries usage or the model. */
  #read(a: Uint8Array, s: number, e: number): void {
    if ((this.#flags & HAS_USAGE) === 0) this.#modelParses++;
    let data: unknown;
    try {
      data = JSON.parse(decoder.decode(a.subarray(s, e)));
    } catch {
      return;
    }
    if (this.#flags & HAS_USAGE) applySseEvent(data, this.#name, this.#tally);
    this.#model ??= modelOf(data);
  }
}

/** The `event:` names that matter, else undefined. */
function eventName(a: Uint8Array, v: number, e: number): SseEventName {
  const len = e - v;
  for (const [bytes, name] of EVENT_NAMES) {
    if (bytes.length === len && bytesAt(a, v, bytes)) return name;
  }
  return undefined;
}
