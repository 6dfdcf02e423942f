import assert from "node:assert/strict";
import { SlidingWindow } from "./sliding_window.ts";
import { msUntilUtcMidnight, utcDay } from "./utc_day.ts";

Deno.test("window: an amount counts for exactly 60 s", () => {
  const w = new SlidingWindow();
  w.add(100, 1_000);
  assert.equal(w.total(1_000), 100);
  assert.equal(w.total(60_999), 100);
  assert.equal(w.total(61_000), 0);
  assert.equal(w.isEmpty(61_000), true);
});

Deno.test("window: records 1 s or more apart expire on their own", () => {
  const w = new SlidingWindow();
  w.add(10, 0);
  w.add(20, 1_000);
  w.add(30, 2_500);
  assert.equal(w.total(59_999), 60);
  assert.equal(w.total(60_000), 50);
  assert.equal(w.total(61_000), 30);
  assert.equal(w.total(62_500), 0);
});

Deno.test("window: records less than 1 s apart share an entry, freed with the latest", () => {
  const w = new SlidingWindow();
  w.add(10, 0);
  w.add(20, 400);
  w.add(30, 999);
  assert.deepEqual(w.toJSON(), [[0, 999, 60]]);
  assert.equal(w.total(60_998), 60, "never freed early");
  assert.equal(w.total(60_999), 0);
});

Deno.test("window: msUntilFreed walks the oldest entries; undefined when not enough", () => {
  const w = new SlidingWindow();
  w.add(10, 0);
  w.add(20, 5_000);
  assert.equal(w.msUntilFreed(0, 10_000), 0);
  assert.equal(w.msUntilFreed(5, 10_000), 50_000);
  assert.equal(w.msUntilFreed(10, 10_000), 50_000);
  assert.equal(w.msUntilFreed(11, 10_000), 55_000);
  assert.equal(w.msUntilFreed(31, 10_000), undefined);
  assert.equal(w.emptyAt(10_000), 65_000);
});

Deno.test("window: a record every millisecond for 10 minutes keeps at most 61 entries", () => {
  const w = new SlidingWindow();
  let max = 0;
  for (let t = 0; t < 600_000; t++) {
    w.add(1, t);
    max = Math.max(max, w.toJSON().length);
    if (t % 50_000 === 0) assert.ok(w.total(t) <= 61_000);
  }
  assert.ok(max <= 61, `entries: ${max}`);
  // Exact count of the last 60 s, give or take the one grouped second.
  const total = w.total(599_999);
  assert.ok(total >= 60_000 && total <= 61_000, `total ${total}`);
});

Deno.test("window: from() restores what toJSON() wrote and skips junk", () => {
  const w = new SlidingWindow();
  w.add(5, 0);
  w.add(7, 2_000);
  const back = SlidingWindow.from([...w.toJSON(), [1, 0, 3], [NaN, 1, 1], [3, 4, -1]]);
  assert.equal(back.total(2_000), 12);
  assert.equal(back.total(60_000), 7);
});

Deno.test("utc day: the day number and the time to midnight", () => {
  const late = Date.UTC(2026, 0, 2, 23, 59, 59, 900);
  assert.equal(utcDay(late), utcDay(Date.UTC(2026, 0, 2)));
  assert.equal(utcDay(late + 100), utcDay(late) + 1);
  assert.equal(msUntilUtcMidnight(late), 100);
  assert.equal(msUntilUtcMidnight(Date.UTC(2026, 0, 3)), 86_400_000);
});
