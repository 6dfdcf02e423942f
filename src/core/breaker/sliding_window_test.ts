import assert from "node:assert/strict";
import { SlidingWindow } from "./sliding_window.ts";

Deno.test("sliding window counts within the window and expires old buckets", () => {
  const w = new SlidingWindow(60_000, 60);
  const t0 = 1_700_000_000_000;
  w.record(t0, true);
  w.record(t0 + 500, false);
  w.record(t0 + 30_000, true);
  assert.equal(w.calls, 3);
  assert.equal(w.failures, 2);
  w.advance(t0 + 60_000);
  assert.equal(w.calls, 1);
  assert.equal(w.failures, 1);
  w.advance(t0 + 200_000);
  assert.equal(w.calls, 0);
});

Deno.test("sliding window survives a JSON round trip", () => {
  const a = new SlidingWindow(10_000, 10);
  a.record(5_000, true);
  a.record(6_000, false);
  const b = new SlidingWindow(10_000, 10);
  b.restore(JSON.parse(JSON.stringify(a)));
  assert.equal(b.calls, 2);
  assert.equal(b.failures, 1);
  b.advance(15_500);
  assert.equal(b.calls, 1);
});
