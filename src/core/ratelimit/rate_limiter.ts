/**
 * Many token buckets keyed by string (forward + client IP), with memory bounded under
 * a flood of distinct keys.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import type { RateLimitConfig } from "../config/types.ts";
import type { RateDecision } from "./types.ts";
import { TokenBucket } from "./token_bucket.ts";

/** Settings of a {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Time source (default: the system clock). */
  readonly clock?: Clock;
  /** Hard cap on stored buckets (default 100,000); see {@linkcode RateLimiter}. */
  readonly maxKeys?: number;
  /** A `take` at least this long after the last sweep sweeps first (default 10 s). */
  readonly sweepIntervalMs?: number;
  /** The map may grow to this size before growth alone triggers a sweep (default 1024). */
  readonly minSweepSize?: number;
}

// Allowed decisions carry no data, so one frozen object serves them all.
const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });

/**
 * Token buckets by key (docs/behaviour.md#rate-limits-per-ip).
 *
 * A bucket that has refilled to capacity behaves exactly like a missing one, so such
 * buckets are dropped by a sweep. Sweeps are driven by `take` calls, never by timers,
 * and are amortised: one runs when the map has doubled since the last sweep (O(n)
 * work after ≥ n/2 inserts) and when `sweepIntervalMs` has passed since the last one.
 *
 * Past `maxKeys` live buckets (a flood faster than buckets refill), the oldest-created
 * buckets are evicted in batches. This is deliberately lenient: an evicted client
 * starts again with a full bucket, which is the price of bounded memory; the cap only
 * binds when more distinct clients are active than it allows.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter();
 * const d = limiter.take("fwd|203.0.113.7", { per_second: 1, burst: 3 });
 * if (!d.allowed) console.log(`retry in ${d.retryAfterMs} ms`);
 * ```
 */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #sweepIntervalMs: number;
  readonly #minSweepSize: number;
  // Map keeps insertion order, which gives "oldest created first" for eviction for free.
  readonly #buckets = new Map<string, KeyedBucket>();
  #sizeAfterSweep = 0;
  #lastSweepAt: number;

  constructor(options: RateLimiterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#maxKeys = Math.max(1, Math.floor(options.maxKeys ?? 100_000));
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.#minSweepSize = Math.max(1, options.minSweepSize ?? 1024);
    this.#lastSweepAt = this.#clock.now();
  }

  /** Number of buckets currently stored. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from the bucket `key`, creating it full if absent. */
  take(key: string, limit: RateLimitConfig): RateDecision {
    const now = this.#clock.now();
    if (now - this.#lastSweepAt >= this.#sweepIntervalMs) this.sweep();

    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#makeRoom();
      bucket = new KeyedBucket(limit, now);
      this.#buckets.set(key, bucket);
    } else {
      // A reload may have changed the limit; the sweep judges fullness by the latest.
      bucket.limit = limit;
    }

    const wait = bucket.take(limit, now);
    return wait === 0 ? ALLOWED : { allowed: false, retryAfterMs: wait };
  }

  /** Drops every bucket that is full again; returns how many were dropped. */
  sweep(): number {
    const now = this.#clock.now();
    let dropped = 0;
    // Deleting the current entry while iterating a Map is well-defined in JS.
    for (const [key, bucket] of this.#buckets) {
      if (bucket.isFull(bucket.limit, now)) {
        this.#buckets.delete(key);
        dropped++;
      }
    }
    this.#lastSweepAt = now;
    this.#sizeAfterSweep = this.#buckets.size;
    return dropped;
  }

  /** Forgets every bucket. */
  clear(): void {
    this.#buckets.clear();
    this.#sizeAfterSweep = 0;
  }

  /** Keeps the map bounded before one more bucket is inserted. */
  #makeRoom(): void {
    let swept = false;
    if (this.#buckets.size >= Math.max(this.#minSweepSize, 2 * this.#sizeAfterSweep)) {
      this.sweep();
      swept = true;
    }
    if (this.#buckets.size < this.#maxKeys) return;
    if (!swept) this.sweep();
    if (this.#buckets.size < this.#maxKeys) return;
    // Evict a batch, not one, so the O(n) sweep above is paid once per batch of
    // inserts rather than on every insert while at the cap.
    let evict = this.#buckets.size - this.#maxKeys + 1 + Math.floor(this.#maxKeys / 16);
    for (const key of this.#buckets.keys()) {
      if (evict-- <= 0) break;
      this.#buckets.delete(key);
    }
    this.#sizeAfterSweep = this.#buckets.size;
  }
}

/** A bucket that remembers the limit it was last used with, for the sweep. */
class KeyedBucket extends TokenBucket {
  limit: RateLimitConfig;

  constructor(limit: RateLimitConfig, now: number) {
    super(limit, now);
    this.limit = limit;
  }
}
