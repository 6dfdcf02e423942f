/**
 * Token bucket arithmetic (docs/behaviour.md#rate-limits-per-ip): capacity `burst`, refilled
 * continuously at `per_second` tokens per second, starting full.
 *
 * @module
 */

import type { RateLimitConfig } from "../config/types.ts";

// Refill sums fractions of a token; without a little slack, 0.1 + 0.2 style rounding
// would refuse a token that is due, or promise one a millisecond late.
const EPSILON = 1e-9;

/**
 * Tokens in a bucket that held `tokens` and then refilled for `elapsedMs`.
 *
 * @example
 * ```ts
 * refill(0, 1_000, { per_second: 1, burst: 3 }); // 1
 * ```
 */
export function refill(tokens: number, elapsedMs: number, limit: RateLimitConfig): number {
  if (!(elapsedMs > 0)) return Math.min(tokens, limit.burst);
  return Math.min(limit.burst, tokens + (elapsedMs * limit.per_second) / 1000);
}

/**
 * Whole milliseconds until a bucket holding `tokens` has one token (0 if it has one).
 *
 * @example
 * ```ts
 * msUntilToken(0, { per_second: 1, burst: 3 }); // 1000
 * ```
 */
export function msUntilToken(tokens: number, limit: RateLimitConfig): number {
  const missing = 1 - tokens;
  if (missing <= EPSILON) return 0;
  if (!(limit.per_second > 0)) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.ceil((missing * 1000) / limit.per_second - EPSILON));
}

/**
 * One client's bucket. Two numbers of state, so it serialises trivially; the limit is
 * passed on each call because a configuration reload may change it.
 *
 * @example
 * ```ts
 * const limit = { per_second: 1, burst: 3 };
 * const bucket = new TokenBucket(limit, Date.now());
 * bucket.take(limit, Date.now()); // 0: allowed
 * ```
 */
export class TokenBucket {
  /** Tokens held at `updatedAt`. */
  tokens: number;
  /** When `tokens` was last brought up to date (ms since epoch). */
  updatedAt: number;

  /** A full bucket as of `now`. */
  constructor(limit: RateLimitConfig, now: number) {
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /** Takes one token: returns 0 when taken, else the ms until one is available. */
  take(limit: RateLimitConfig, now: number): number {
    this.#catchUp(limit, now);
    if (this.tokens >= 1 - EPSILON) {
      this.tokens = Math.max(0, this.tokens - 1);
      return 0;
    }
    return msUntilToken(this.tokens, limit);
  }

  /** True when the bucket has refilled to capacity, i.e. it equals a fresh bucket. */
  isFull(limit: RateLimitConfig, now: number): boolean {
    return refill(this.tokens, now - this.updatedAt, limit) >= limit.burst - EPSILON;
  }

  #catchUp(limit: RateLimitConfig, now: number): void {
    this.tokens = refill(this.tokens, now - this.updatedAt, limit);
    // A clock stepping backwards must not mint tokens later, so time only moves on.
    if (now > this.updatedAt) this.updatedAt = now;
  }
}
