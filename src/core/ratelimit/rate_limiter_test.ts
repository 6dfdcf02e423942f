import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { RateLimiter } from "./rate_limiter.ts";

const limit = { per_second: 1, burst: 3 };

Deno.test("limiter: burst 3 at 1/s admits 3, refuses the 4th (1000 ms), admits after 1 s", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(limiter.take("k", limit), { allowed: true, retryAfterMs: 0 });
  }
  assert.deepEqual(limiter.take("k", limit), { allowed: false, retryAfterMs: 1000 });
  // Another key has its own bucket.
  assert.equal(limiter.take("other", limit).allowed, true);
  clock.advance(1000);
  assert.deepEqual(limiter.take("k", limit), { allowed: true, retryAfterMs: 0 });
  assert.equal(limiter.take("k", limit).allowed, false);
});

Deno.test("limiter: 1,000,000 distinct keys with a moving clock keep the map small", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock });
  let max = 0;
  for (let i = 0; i < 1_000_000; i++) {
    assert.equal(limiter.take(`10.${i >>> 16}.${(i >>> 8) & 255}.${i & 255}`, limit).allowed, true);
    if (limiter.size > max) max = limiter.size;
    clock.advance(1);
  }
  // A bucket refills 1 token in 1 s, so ~1000 keys are live at any time.
  assert.ok(max < 5_000, `map grew to ${max}`);
});

Deno.test("limiter: a flood without clock movement stays under the hard cap", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock });
  let max = 0;
  for (let i = 0; i < 1_000_000; i++) {
    limiter.take(`ip${i}`, limit);
    if (limiter.size > max) max = limiter.size;
  }
  assert.ok(max <= 100_000, `map grew to ${max}`);
  assert.ok(limiter.size > 50_000, "the cap evicts in batches, not everything");
});

Deno.test("limiter: eviction at a small cap drops the oldest keys (lenient to them)", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock, maxKeys: 10, minSweepSize: 1 });
  for (let i = 0; i < 3; i++) limiter.take("old", limit);
  assert.equal(limiter.take("old", limit).allowed, false);
  for (let i = 0; i < 10; i++) limiter.take(`new${i}`, limit);
  assert.ok(limiter.size <= 10);
  // "old" was evicted, so it starts again with a full bucket.
  assert.equal(limiter.take("old", limit).allowed, true);
});

Deno.test("limiter: periodic sweep on take drops refilled buckets", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock, sweepIntervalMs: 10_000 });
  for (let i = 0; i < 100; i++) limiter.take(`k${i}`, limit);
  assert.equal(limiter.size, 100);
  clock.advance(10_000);
  limiter.take("fresh", limit);
  assert.equal(limiter.size, 1);
});

Deno.test("limiter: a refused key is not dropped by a sweep", () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ clock });
  for (let i = 0; i < 4; i++) limiter.take("busy", limit);
  clock.advance(500);
  assert.equal(limiter.sweep(), 0);
  assert.equal(limiter.take("busy", limit).retryAfterMs, 500);
});
