/**
 * The short history behind the admin dashboard (`/ui`, `/api/v1/stats`): what the
 * gateway did in each of the last 300 seconds, kept in memory so the page works with
 * no Prometheus.
 *
 * - Per forward, per second: requests, errors (status ≥ 500, or a body cut or timed out
 *   mid-stream),
 *   requests the proxy refused with 429 (rate limits, client limits), and the request
 *   durations as counts over {@linkcode DURATION_BUCKETS}, from which the page's p50 and
 *   p95 are read as `histogram_quantile` reads a Prometheus histogram.
 * - Per model and per client, per second: input and output tokens reported by answers
 *   (clients also: requests).
 *
 * Memory is bounded: each series is one ring of 300 one-second slots, and the number of
 * series is capped ({@linkcode HISTORY_LIMITS}; later names count as `other`); series
 * that saw nothing for five minutes are dropped. Recording is a few array increments
 * and no allocation once a series exists; there are no timers: a slot is cleared when
 * time first moves past it, by a record or a read.
 *
 * @module
 */

import { DURATION_BUCKETS } from "./proxy_metrics.ts";

/** How many one-second slots the history keeps. */
export const HISTORY_SECONDS = 300;

/** The most series of each kind; later names are counted under `other`. */
export const HISTORY_LIMITS: Readonly<{ forwards: number; models: number; clients: number }> =
  Object.freeze({ forwards: 32, models: 64, clients: 64 });

/** The name series beyond the limits are counted under. */
export const OTHER = "other";

/** Longest model or client name kept, in UTF-16 units. */
const MAX_NAME_LENGTH = 128;

// Forward fields per slot: requests, errors, rate limited, then one count per duration
// bucket (+Inf last).
const F_REQUESTS = 0;
const F_ERRORS = 1;
const F_LIMITED = 2;
const F_BUCKETS = 3;
const BOUNDS_MS: readonly number[] = DURATION_BUCKETS.map((s) => s * 1000);
const FORWARD_FIELDS = F_BUCKETS + BOUNDS_MS.length + 1;

// Model fields: input, output. Client fields: requests, input, output.
const M_INPUT = 0;
const M_OUTPUT = 1;
const MODEL_FIELDS = 2;
const C_REQUESTS = 0;
const C_INPUT = 1;
const C_OUTPUT = 2;
const CLIENT_FIELDS = 3;

/** Token usage of one answer, as the exchange knows it (`Exchange.usage`). */
export interface HistoryUsage {
  readonly model?: string;
  readonly input?: number;
  readonly output?: number;
}

/** One series: `fields` numbers per slot, slot-major. */
interface Series {
  readonly data: Float64Array;
  /** The last second anything was recorded in it. */
  last: number;
}

/** A capped set of named series with the same fields. */
class SeriesSet {
  readonly #fields: number;
  readonly #max: number;
  readonly map: Map<string, Series> = new Map();

  constructor(fields: number, max: number) {
    this.#fields = fields;
    this.#max = max;
  }

  /** The series of `name` (created on first use; `other` once the set is full). */
  get(name: string, second: number): Series {
    let s = this.map.get(name);
    if (s === undefined) {
      const key = this.map.size >= this.#max ? OTHER : name;
      s = this.map.get(key);
      if (s === undefined) {
        s = { data: new Float64Array(HISTORY_SECONDS * this.#fields), last: second };
        this.map.set(key, s);
      }
    }
    s.last = second;
    return s;
  }

  /** Zeroes one slot of every series. */
  clearSlot(slot: number): void {
    const f = this.#fields;
    for (const s of this.map.values()) s.data.fill(0, slot * f, slot * f + f);
  }

  /** Drops series that recorded nothing within the window ending at `second`. */
  prune(second: number): void {
    for (const [name, s] of this.map) {
      if (s.last <= second - HISTORY_SECONDS) this.map.delete(name);
    }
  }

  /** Field `field` of a series, oldest slot first, for the window ending at `second`. */
  column(s: Series, field: number, second: number): number[] {
    const out = new Array<number>(HISTORY_SECONDS);
    const f = this.#fields;
    for (let i = 0; i < HISTORY_SECONDS; i++) {
      const sec = second - HISTORY_SECONDS + 1 + i;
      out[i] = s.data[slotOf(sec) * f + field]!;
    }
    return out;
  }

  /** Sum of field `field` over the last `seconds` seconds up to `second`. */
  sum(s: Series, field: number, second: number, seconds: number): number {
    let total = 0;
    const f = this.#fields;
    const n = Math.min(seconds, HISTORY_SECONDS);
    for (let i = 0; i < n; i++) total += s.data[slotOf(second - i) * f + field]!;
    return total;
  }
}

function slotOf(second: number): number {
  const r = second % HISTORY_SECONDS;
  return r < 0 ? r + HISTORY_SECONDS : r;
}

/** A forward's last five minutes. Arrays hold one value per second, oldest first. */
export interface ForwardHistory {
  readonly name: string;
  readonly requests: number[];
  readonly errors: number[];
  readonly rate_limited: number[];
  /** Median duration in ms over the 5 s ending at each second (null: no request). */
  readonly p50_ms: (number | null)[];
  /** 95th percentile duration in ms over the 5 s ending at each second. */
  readonly p95_ms: (number | null)[];
  /** Totals over the whole window. */
  readonly total: {
    readonly requests: number;
    readonly errors: number;
    readonly rate_limited: number;
    readonly p50_ms: number | null;
    readonly p95_ms: number | null;
  };
  /** Requests per second over the last 10 s. */
  readonly rps_10s: number;
}

/** Tokens of one model (or client) over the window, per second, oldest first. */
export interface TokenHistory {
  readonly name: string;
  readonly input: number[];
  readonly output: number[];
  /** Tokens in the last 60 s. */
  readonly last_minute: { readonly input: number; readonly output: number };
  /** Requests in the last 60 s (clients only). */
  readonly requests_last_minute?: number;
}

/** Everything the history holds, for one read. */
export interface HistorySnapshot {
  /** The epoch second of the first slot; slot `i` is second `start + i`. */
  readonly start: number;
  readonly seconds: number;
  readonly forwards: ForwardHistory[];
  readonly models: TokenHistory[];
  readonly clients: TokenHistory[];
}

/**
 * The last five minutes of traffic, one-second resolution, bounded memory.
 *
 * @example
 * ```ts
 * import { TrafficHistory } from "./history.ts";
 * const h = new TrafficHistory();
 * const now = Date.now();
 * h.record(now, "main", 200, 120, undefined, { model: "gpt-4o", input: 12, output: 40 });
 * h.snapshot(now).forwards[0]?.total.requests; // 1
 * ```
 */
export class TrafficHistory {
  readonly #forwards = new SeriesSet(FORWARD_FIELDS, HISTORY_LIMITS.forwards);
  readonly #models = new SeriesSet(MODEL_FIELDS, HISTORY_LIMITS.models);
  readonly #clients = new SeriesSet(CLIENT_FIELDS, HISTORY_LIMITS.clients);
  /** The newest second seen; slots after it hold nothing yet. */
  #second = Number.NEGATIVE_INFINITY;

  /**
   * Records one request's end. `now` is the clock's time (ms since the epoch), `error`
   * the code the access log shows (`rate_limited`, `upstream_body_cut`, …), `usage` the
   * tokens the answer reported, `client` the client's name when client keys are on.
   */
  record(
    now: number,
    forward: string,
    status: number,
    durationMs: number,
    error: string | undefined,
    usage: HistoryUsage | undefined,
    client: string | undefined,
  ): void {
    const second = this.#advance(now);
    const slot = slotOf(second);
    const fwd = this.#forwards.get(forward, second).data;
    const base = slot * FORWARD_FIELDS;
    fwd[base + F_REQUESTS]!++;
    if (status >= 500 || error === "upstream_body_cut" || error === "upstream_timeout") {
      fwd[base + F_ERRORS]!++;
    } else if (status === 429 && error !== undefined) fwd[base + F_LIMITED]!++;
    let b = 0;
    const n = BOUNDS_MS.length;
    while (b < n && !(durationMs <= BOUNDS_MS[b]!)) b++;
    fwd[base + F_BUCKETS + b]!++;

    const input = usage?.input;
    const output = usage?.output;
    const tokens = input !== undefined || output !== undefined;
    if (tokens) {
      const m = this.#models.get(nameOf(usage!.model, "unknown"), second).data;
      m[slot * MODEL_FIELDS + M_INPUT]! += input ?? 0;
      m[slot * MODEL_FIELDS + M_OUTPUT]! += output ?? 0;
    }
    if (client !== undefined) {
      const c = this.#clients.get(nameOf(client, "anonymous"), second).data;
      const cb = slot * CLIENT_FIELDS;
      c[cb + C_REQUESTS]!++;
      if (tokens) {
        c[cb + C_INPUT]! += input ?? 0;
        c[cb + C_OUTPUT]! += output ?? 0;
      }
    }
  }

  /** The window ending at the second of `now`. */
  snapshot(now: number): HistorySnapshot {
    const second = this.#advance(now);
    for (const set of [this.#forwards, this.#models, this.#clients]) set.prune(second);
    const start = second - HISTORY_SECONDS + 1;
    const forwards: ForwardHistory[] = [];
    for (const [name, s] of this.#forwards.map) {
      const set = this.#forwards;
      const buckets = (from: number, seconds: number) => {
        const counts = new Array<number>(BOUNDS_MS.length + 1).fill(0);
        for (let i = 0; i < seconds && i < HISTORY_SECONDS; i++) {
          const sec = from - i;
          if (sec < start) break;
          const base = slotOf(sec) * FORWARD_FIELDS + F_BUCKETS;
          for (let k = 0; k < counts.length; k++) counts[k]! += s.data[base + k]!;
        }
        return counts;
      };
      const p50: (number | null)[] = [];
      const p95: (number | null)[] = [];
      for (let i = 0; i < HISTORY_SECONDS; i++) {
        const counts = buckets(start + i, 5);
        p50.push(quantileMs(counts, 0.5));
        p95.push(quantileMs(counts, 0.95));
      }
      const all = buckets(second, HISTORY_SECONDS);
      forwards.push({
        name,
        requests: set.column(s, F_REQUESTS, second),
        errors: set.column(s, F_ERRORS, second),
        rate_limited: set.column(s, F_LIMITED, second),
        p50_ms: p50,
        p95_ms: p95,
        total: {
          requests: set.sum(s, F_REQUESTS, second, HISTORY_SECONDS),
          errors: set.sum(s, F_ERRORS, second, HISTORY_SECONDS),
          rate_limited: set.sum(s, F_LIMITED, second, HISTORY_SECONDS),
          p50_ms: quantileMs(all, 0.5),
          p95_ms: quantileMs(all, 0.95),
        },
        rps_10s: set.sum(s, F_REQUESTS, second, 10) / 10,
      });
    }
    const models: TokenHistory[] = [];
    for (const [name, s] of this.#models.map) {
      const set = this.#models;
      models.push({
        name,
        input: set.column(s, M_INPUT, second),
        output: set.column(s, M_OUTPUT, second),
        last_minute: {
          input: set.sum(s, M_INPUT, second, 60),
          output: set.sum(s, M_OUTPUT, second, 60),
        },
      });
    }
    const clients: TokenHistory[] = [];
    for (const [name, s] of this.#clients.map) {
      const set = this.#clients;
      clients.push({
        name,
        input: set.column(s, C_INPUT, second),
        output: set.column(s, C_OUTPUT, second),
        last_minute: {
          input: set.sum(s, C_INPUT, second, 60),
          output: set.sum(s, C_OUTPUT, second, 60),
        },
        requests_last_minute: set.sum(s, C_REQUESTS, second, 60),
      });
    }
    return { start, seconds: HISTORY_SECONDS, forwards, models, clients };
  }

  /**
   * Moves the ring forward to the second of `now`, clearing the slots of the seconds it
   * skips (all of them after five idle minutes). A clock that goes back records into
   * the newest second rather than into slots of the past.
   */
  #advance(now: number): number {
    const second = Math.floor(now / 1000);
    const last = this.#second;
    if (second <= last) return last;
    this.#second = second;
    const from = last === Number.NEGATIVE_INFINITY ? second - HISTORY_SECONDS + 1 : last + 1;
    const first = Math.max(from, second - HISTORY_SECONDS + 1);
    for (let s = first; s <= second; s++) {
      const slot = slotOf(s);
      this.#forwards.clearSlot(slot);
      this.#models.clearSlot(slot);
      this.#clients.clearSlot(slot);
    }
    return second;
  }
}

function nameOf(name: string | undefined, fallback: string): string {
  if (name === undefined || name === "") return fallback;
  return name.length > MAX_NAME_LENGTH ? name.slice(0, MAX_NAME_LENGTH) : name;
}

/**
 * The `q` quantile in ms of per-bucket counts over {@linkcode DURATION_BUCKETS} (+Inf
 * last), interpolated within the bucket as Prometheus' `histogram_quantile` does; null
 * when there is nothing. A quantile in the +Inf bucket is the highest finite bound.
 */
export function quantileMs(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= rank && c > 0) {
      if (i >= BOUNDS_MS.length) return BOUNDS_MS[BOUNDS_MS.length - 1]!;
      const lower = i === 0 ? 0 : BOUNDS_MS[i - 1]!;
      const upper = BOUNDS_MS[i]!;
      return lower + (upper - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return BOUNDS_MS[BOUNDS_MS.length - 1]!;
}

const histories = new WeakMap<object, TrafficHistory>();

/**
 * The history of one gateway (any object that owns it), created on first use. The
 * gateway records into it as each request ends; the admin dashboard reads it.
 */
export function trafficHistory(owner: object): TrafficHistory {
  let h = histories.get(owner);
  if (h === undefined) {
    h = new TrafficHistory();
    histories.set(owner, h);
  }
  return h;
}
