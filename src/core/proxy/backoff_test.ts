import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { backoffMs, parseRetryAfter, sleep } from "./backoff.ts";

Deno.test("backoff doubles with full jitter and caps at 30 s", () => {
  assert.equal(backoffMs(1, 500, () => 0.999999), 499);
  assert.equal(backoffMs(3, 500, () => 0.5), 1000);
  assert.equal(backoffMs(20, 500, () => 0.5), 15_000);
  assert.equal(backoffMs(1, 500, () => 0), 0);
});

Deno.test("Retry-After reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("sleep ends early when the client leaves", async () => {
  const clock = new ManualClock();
  const ac = new AbortController();
  const p = sleep(10_000, clock, ac.signal);
  ac.abort();
  assert.equal(await p, false);
  assert.equal(clock.pendingTimers, 0);
  const q = sleep(1000, clock, new AbortController().signal);
  clock.advance(1000);
  assert.equal(await q, true);
});
