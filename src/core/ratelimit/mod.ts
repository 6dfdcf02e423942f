/**
 * Token-bucket rate limiting (docs/behaviour.md#rate-limits-per-ip): the bucket arithmetic and a
 * bounded keyed limiter.
 *
 * @module
 */

export { RateLimiter, type RateLimiterOptions } from "./rate_limiter.ts";
export { msUntilToken, refill, TokenBucket } from "./token_bucket.ts";
export type { RateDecision } from "./types.ts";
