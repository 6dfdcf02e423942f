import assert from "node:assert/strict";
import { msUntilToken, refill, TokenBucket } from "./token_bucket.ts";

const limit = { per_second: 1, burst: 3 };

Deno.test("bucket with burst 3 at 1/s admits 3, refuses the 4th for exactly 1000 ms", () => {
  const t0 = 1_700_000_000_000;
  const bucket = new TokenBucket(limit, t0);
  assert.equal(bucket.take(limit, t0), 0);
  assert.equal(bucket.take(limit, t0), 0);
  assert.equal(bucket.take(limit, t0), 0);
  assert.equal(bucket.take(limit, t0), 1000);
  assert.equal(bucket.take(limit, t0 + 999), 1);
  assert.equal(bucket.take(limit, t0 + 1000), 0);
  assert.equal(bucket.take(limit, t0 + 1000), 1000);
});

Deno.test("refill is continuous and capped at burst", () => {
  assert.equal(refill(0, 500, { per_second: 10, burst: 20 }), 5);
  assert.equal(refill(19, 10_000, { per_second: 10, burst: 20 }), 20);
  assert.equal(refill(2, -100, limit), 2); // time going backwards mints nothing
  assert.equal(msUntilToken(0.5, { per_second: 2, burst: 2 }), 250);
  assert.equal(msUntilToken(0, { per_second: 3, burst: 3 }), 334);
});

Deno.test("fractional refill rounding does not refuse a due token", () => {
  const l = { per_second: 10, burst: 1 };
  const bucket = new TokenBucket(l, 0);
  assert.equal(bucket.take(l, 0), 0);
  // Refills of 0.33 + 0.33 + 0.34 tokens must add up to one whole token at 100 ms.
  assert.equal(bucket.take(l, 33), 67);
  assert.equal(bucket.take(l, 66), 34);
  assert.equal(bucket.take(l, 100), 0);
});

Deno.test("isFull once refilled to capacity", () => {
  const bucket = new TokenBucket(limit, 0);
  bucket.take(limit, 0);
  assert.equal(bucket.isFull(limit, 999), false);
  assert.equal(bucket.isFull(limit, 1000), true);
});
