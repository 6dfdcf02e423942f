/**
 * Token-bucket rate limiting (SPEC §4.4): the bucket arithmetic and a bounded keyed
 * limiter.
 *
 * @module
 */

export { RateLimiter, type RateLimiterOptions } from "./rate_limiter.ts";
export { msUntilToken, refill, TokenBucket } from "./token_bucket.ts";
