import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { Deadlines } from "./deadlines.ts";

Deno.test("deadlines: fire in order, never early, at most one slot late", () => {
  const clock = new ManualClock(1_000_003);
  const d = new Deadlines(clock);
  const fired: string[] = [];
  d.add(100, () => fired.push("a"));
  d.add(50, () => fired.push("b"));
  d.add(100, () => fired.push("c"));
  clock.advance(49);
  assert.deepEqual(fired, []);
  clock.advance(1 + Deadlines.SLOT_MS);
  assert.deepEqual(fired, ["b"]);
  clock.advance(50);
  assert.deepEqual(fired, ["b", "a", "c"]);
  assert.equal(d.size, 0);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("deadlines: a cancelled one never fires and leaves nothing behind", () => {
  const clock = new ManualClock();
  const d = new Deadlines(clock);
  let fired = 0;
  const handles = Array.from({ length: 1000 }, () => d.add(30_000, () => fired++));
  // Steady traffic with one timeout arms the timer once, not per deadline.
  assert.equal(clock.pendingTimers, 1);
  for (const h of handles) d.cancel(h);
  d.cancel(handles[0]!);
  assert.equal(d.size, 0);
  clock.advance(60_000);
  assert.equal(fired, 0);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("deadlines: an earlier one re-arms; a throwing one does not stop the rest", () => {
  const clock = new ManualClock();
  const d = new Deadlines(clock);
  const fired: string[] = [];
  d.add(10_000, () => fired.push("late"));
  d.add(20, () => {
    fired.push("early");
    throw new Error("boom");
  });
  d.add(20, () => fired.push("early too"));
  clock.advance(20 + Deadlines.SLOT_MS);
  assert.deepEqual(fired, ["early", "early too"]);
  clock.advance(10_000);
  assert.deepEqual(fired, ["early", "early too", "late"]);
});
