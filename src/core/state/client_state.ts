/**
 * The limits state of one client (docs/behaviour.md#client-behaviour): a request bucket, a sliding
 * 60 s window of tokens, today's tokens and the reservations of running requests.
 *
 * @module
 */

import type { ClientLimitsConfig, RateLimitConfig } from "../config/types.ts";
import { msUntilToken, refill, TokenBucket } from "../ratelimit/token_bucket.ts";
import { SlidingWindow, WINDOW_MS } from "./sliding_window.ts";
import type { ClientRefusal, ClientUsage } from "./types.ts";
import { DAY_MS, msUntilUtcMidnight, utcDay } from "./utc_day.ts";

/** A refusal before it is handed out. */
export interface Refusal {
  readonly reason: ClientRefusal;
  readonly retryAfterMs: number;
}

/** Wait when only reservations of running requests stand in the way (they may end any time). */
export const RESERVATIONS_RETRY_MS = 1_000;

/** One client's state as stored (by a Durable Object); plain JSON. */
export interface ClientSnapshot {
  /** UTC day number (days since the epoch) `today` belongs to. */
  readonly day: number;
  /** Tokens settled during `day`. */
  readonly today: number;
  /** Settled tokens of the sliding window: `[first, last, amount]`. */
  readonly tokens: readonly (readonly number[])[];
  /** Admitted requests of the sliding window: `[first, last, count]`. */
  readonly requests: readonly (readonly number[])[];
  /** The request bucket when it is not full. */
  readonly bucket?: {
    readonly tokens: number;
    readonly updatedAt: number;
    readonly requests_per_minute: number;
  };
  /** Running requests' reservations: `[id, tokens, reservedAt]`. */
  readonly reservations: readonly (readonly [string, number, number])[];
}

interface Held {
  readonly tokens: number;
  readonly at: number;
}

/** The bucket of `requests_per_minute: n`: capacity n, refilled at n/60 per second. */
export function requestBucketLimit(perMinute: number): RateLimitConfig {
  return { per_second: perMinute / 60, burst: perMinute };
}

/** A limit that is set; anything but a positive finite number counts as unset. */
function active(limit: number | undefined): limit is number {
  return typeof limit === "number" && Number.isFinite(limit) && limit > 0;
}

/**
 * The state of one client. Pieces that hold nothing (a full bucket, an empty window,
 * no reservations) are released by {@linkcode ClientState.compact}, so an idle client
 * costs a handful of numbers until its day ends, then nothing.
 */
export class ClientState {
  /** Undefined: full (or no request limit). */
  bucket: TokenBucket | undefined;
  /** The requests-per-minute the bucket was last used with (judges fullness). */
  bucketPerMinute = 0;
  /** Settled tokens of the last 60 s; undefined when empty. */
  tokens: SlidingWindow | undefined;
  /** Admitted requests of the last 60 s; undefined when empty. */
  requests: SlidingWindow | undefined;
  /** Reservations by id, oldest first; undefined when none. */
  held: Map<string, Held> | undefined;
  /** Sum of `held`. */
  reserved = 0;
  /** UTC day `today` counts. */
  day: number;
  /** Tokens settled during `day`. */
  today = 0;

  constructor(now: number) {
    this.day = utcDay(now);
  }

  /** Why a request of `estimate` tokens may not start now, or undefined when it may. */
  check(limits: ClientLimitsConfig, estimate: number, now: number): Refusal | undefined {
    const rpm = limits.requests_per_minute;
    if (active(rpm) && this.bucket !== undefined) {
      const limit = requestBucketLimit(rpm);
      const wait = msUntilToken(
        refill(this.bucket.tokens, now - this.bucket.updatedAt, limit),
        limit,
      );
      if (wait > 0) {
        return { reason: "rate_limited", retryAfterMs: Number.isFinite(wait) ? wait : WINDOW_MS };
      }
    }

    const tpm = limits.tokens_per_minute;
    if (active(tpm)) {
      // More than the whole window can ever hold: refused; a minute is the honest wait
      // (the limit may be raised by then), never "forever".
      if (estimate > tpm) return { reason: "tokens_rate_limited", retryAfterMs: WINDOW_MS };
      const used = this.tokens?.total(now) ?? 0;
      const over = used + this.reserved + estimate - tpm;
      if (over > 0) {
        const wait = this.tokens?.msUntilFreed(over, now);
        return { reason: "tokens_rate_limited", retryAfterMs: wait ?? RESERVATIONS_RETRY_MS };
      }
    }

    const tpd = limits.tokens_per_day;
    if (active(tpd)) {
      const today = this.#today(now);
      if (estimate > tpd || today + this.reserved + estimate > tpd) {
        return { reason: "budget_exceeded", retryAfterMs: Math.max(1, msUntilUtcMidnight(now)) };
      }
    }
    return undefined;
  }

  /**
   * Counts an admitted request: takes its request token (when a request limit is set)
   * and holds `estimate` tokens under `id`. Call only after {@linkcode check} passed.
   */
  admit(limits: ClientLimitsConfig, estimate: number, now: number, id: string): void {
    const rpm = limits.requests_per_minute;
    if (active(rpm)) {
      const limit = requestBucketLimit(rpm);
      this.bucket ??= new TokenBucket(limit, now);
      this.bucketPerMinute = rpm;
      this.bucket.take(limit, now);
    } else {
      this.bucket = undefined;
    }
    (this.requests ??= new SlidingWindow()).add(1, now);
    this.hold(id, estimate, now);
  }

  /** Holds `tokens` under `id` (an admission, or a reservation restored from storage). */
  hold(id: string, tokens: number, at: number): void {
    const held = this.held ??= new Map();
    const prior = held.get(id);
    if (prior !== undefined) this.reserved -= prior.tokens;
    held.set(id, { tokens, at });
    this.reserved += tokens;
  }

  /**
   * Ends the reservation `id`, recording `used` (or its estimate when undefined) now.
   * Returns false, recording nothing, when there is no such reservation.
   */
  settle(id: string, used: number | undefined, now: number): boolean {
    const h = this.held?.get(id);
    if (h === undefined) return false;
    this.#release(id, h);
    this.record(used ?? h.tokens, now);
    return true;
  }

  /** Records `tokens` used at `now` in the window and in today's count. */
  record(tokens: number, now: number): void {
    if (!(tokens > 0)) return;
    (this.tokens ??= new SlidingWindow()).add(tokens, now);
    this.#today(now);
    this.today += tokens;
  }

  /**
   * Reservations held for `leaseMs` or longer belong to requests whose end was never
   * reported (an isolate that died): each is settled at its estimate.
   */
  expireHeld(leaseMs: number, now: number): void {
    const held = this.held;
    if (held === undefined) return;
    // Oldest first (insertion order), so the scan stops at the first live one.
    for (const [id, h] of held) {
      if (now - h.at < leaseMs) break;
      this.#release(id, h);
      this.record(h.tokens, now);
    }
  }

  /** Figures for the admin API; reservations count in both token figures. */
  usage(now: number): ClientUsage {
    return {
      requests_last_minute: this.requests?.total(now) ?? 0,
      tokens_last_minute: (this.tokens?.total(now) ?? 0) + this.reserved,
      tokens_today: this.#today(now) + this.reserved,
    };
  }

  /**
   * Releases the pieces that hold nothing as of `now`; true when nothing at all is
   * left (the state equals a fresh one and may be dropped).
   */
  compact(now: number): boolean {
    if (this.bucket !== undefined) {
      const limit = requestBucketLimit(this.bucketPerMinute);
      if (!active(this.bucketPerMinute) || this.bucket.isFull(limit, now)) this.bucket = undefined;
    }
    if (this.tokens?.isEmpty(now)) this.tokens = undefined;
    if (this.requests?.isEmpty(now)) this.requests = undefined;
    return this.bucket === undefined && this.tokens === undefined &&
      this.requests === undefined && this.held === undefined && this.#today(now) === 0;
  }

  /**
   * When this state will hold nothing if no request comes (epoch ms; at most `now`
   * when it already holds nothing). Reservations count until their lease ends.
   */
  idleAt(leaseMs: number, now: number): number {
    let at = now;
    if (this.bucket !== undefined && active(this.bucketPerMinute)) {
      const limit = requestBucketLimit(this.bucketPerMinute);
      const tokens = refill(this.bucket.tokens, now - this.bucket.updatedAt, limit);
      at = Math.max(at, now + Math.ceil(((limit.burst - tokens) * 1000) / limit.per_second));
    }
    if (this.tokens !== undefined) at = Math.max(at, this.tokens.emptyAt(now));
    if (this.requests !== undefined) at = Math.max(at, this.requests.emptyAt(now));
    if (this.held !== undefined) {
      let newest = 0;
      for (const h of this.held.values()) newest = Math.max(newest, h.at);
      // Settled at the lease's end, they then stay in the window for a minute.
      at = Math.max(at, newest + leaseMs + WINDOW_MS);
    }
    if (this.#today(now) > 0) at = Math.max(at, (this.day + 1) * DAY_MS);
    return at;
  }

  /** The state as stored. */
  toJSON(): ClientSnapshot {
    return {
      day: this.day,
      today: this.today,
      tokens: this.tokens?.toJSON() ?? [],
      requests: this.requests?.toJSON() ?? [],
      ...(this.bucket !== undefined && active(this.bucketPerMinute)
        ? {
          bucket: {
            tokens: this.bucket.tokens,
            updatedAt: this.bucket.updatedAt,
            requests_per_minute: this.bucketPerMinute,
          },
        }
        : {}),
      reservations: [...(this.held ?? [])].map(([id, h]) => [id, h.tokens, h.at] as const),
    };
  }

  /** A state restored from storage (anything malformed is left out). */
  static from(snap: ClientSnapshot, now: number): ClientState {
    const s = new ClientState(now);
    if (isCount(snap.day) && isCount(snap.today)) {
      s.day = snap.day;
      s.today = snap.today;
    }
    if (Array.isArray(snap.tokens)) s.tokens = SlidingWindow.from(snap.tokens);
    if (Array.isArray(snap.requests)) s.requests = SlidingWindow.from(snap.requests);
    const b = snap.bucket;
    if (b !== undefined && active(b.requests_per_minute) && isCount(b.tokens)) {
      const limit = requestBucketLimit(b.requests_per_minute);
      s.bucket = new TokenBucket(limit, Number.isFinite(b.updatedAt) ? b.updatedAt : now);
      s.bucket.tokens = Math.min(b.tokens, limit.burst);
      s.bucketPerMinute = b.requests_per_minute;
    }
    if (Array.isArray(snap.reservations)) {
      for (const r of snap.reservations) {
        if (!Array.isArray(r)) continue;
        const [id, tokens, at] = r;
        if (typeof id === "string" && isCount(tokens) && Number.isFinite(at)) {
          s.hold(id, tokens, at);
        }
      }
    }
    return s;
  }

  /** Today's settled tokens, starting a new day when `now` has passed midnight. */
  #today(now: number): number {
    const day = utcDay(now);
    // A clock stepping back over midnight keeps the later day rather than resetting.
    if (day > this.day) {
      this.day = day;
      this.today = 0;
    }
    return this.today;
  }

  #release(id: string, h: Held): void {
    const held = this.held!;
    held.delete(id);
    this.reserved -= h.tokens;
    if (held.size === 0) {
      this.held = undefined;
      this.reserved = 0; // no drift from float sums once empty
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}
