import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { ClientLimitsConfig } from "../config/types.ts";
import { MemoryClientLimiter } from "./client_limiter.ts";
import { MemoryStateStore } from "./memory_store.ts";
import type { ClientAdmission, ClientReservation } from "./types.ts";

function setup(start = Date.UTC(2026, 0, 2, 12)) {
  const clock = new ManualClock(start);
  const limiter = new MemoryClientLimiter({ clock });
  return { clock, limiter };
}

function reservation(a: ClientAdmission): ClientReservation {
  assert.ok(a.allowed, `expected an admission, got ${JSON.stringify(a)}`);
  return a.reservation;
}

function refusal(a: ClientAdmission): { reason: string; retryAfterMs: number } {
  assert.ok(!a.allowed, `expected a refusal, got ${JSON.stringify(a)}`);
  return { reason: a.reason, retryAfterMs: a.retryAfterMs };
}

Deno.test("client bucket: N per minute starts full, refills N/60 per second, says when", async () => {
  const { clock, limiter } = setup();
  const limits = { requests_per_minute: 3 };
  for (let i = 0; i < 3; i++) reservation(await limiter.admit("a", limits, 0));
  // 3/60 per second: one token every 20 s.
  assert.deepEqual(refusal(await limiter.admit("a", limits, 0)), {
    reason: "rate_limited",
    retryAfterMs: 20_000,
  });
  // Another client has its own bucket.
  reservation(await limiter.admit("b", limits, 0));
  clock.advance(15_000);
  assert.deepEqual(refusal(await limiter.admit("a", limits, 0)).retryAfterMs, 5_000);
  clock.advance(5_000);
  reservation(await limiter.admit("a", limits, 0));
  assert.equal(refusal(await limiter.admit("a", limits, 0)).reason, "rate_limited");
  // After a minute it is full again: a burst of 3, not more.
  clock.advance(60_000);
  for (let i = 0; i < 3; i++) reservation(await limiter.admit("a", limits, 0));
  assert.equal((await limiter.admit("a", limits, 0)).allowed, false);
});

Deno.test("client window: settled tokens count for exactly 60 s", async () => {
  const { clock, limiter } = setup();
  const limits = { tokens_per_minute: 100 };
  const r = reservation(await limiter.admit("a", limits, 60));
  await limiter.settle(r, 60);
  assert.deepEqual(refusal(await limiter.admit("a", limits, 50)), {
    reason: "tokens_rate_limited",
    retryAfterMs: 60_000,
  });
  // 40 still fit next to the 60.
  await limiter.settle(reservation(await limiter.admit("a", limits, 40)), 0);
  clock.advance(59_999);
  assert.deepEqual(refusal(await limiter.admit("a", limits, 50)).retryAfterMs, 1);
  clock.advance(1);
  reservation(await limiter.admit("a", limits, 50));
});

Deno.test("client window: Retry-After waits for just enough of the window to expire", async () => {
  const { clock, limiter } = setup();
  const limits = { tokens_per_minute: 100 };
  await limiter.settle(reservation(await limiter.admit("a", limits, 30)), 30);
  clock.advance(10_000);
  await limiter.settle(reservation(await limiter.admit("a", limits, 30)), 30);
  clock.advance(10_000);
  await limiter.settle(reservation(await limiter.admit("a", limits, 30)), 30);
  // 90 used; 40 more needs 30 to expire: the first, 40 s from now.
  assert.equal(refusal(await limiter.admit("a", limits, 40)).retryAfterMs, 40_000);
  // 70 more needs 60 to expire: the second, 50 s from now.
  assert.equal(refusal(await limiter.admit("a", limits, 70)).retryAfterMs, 50_000);
});

Deno.test("client window: reservations count; settling replaces the estimate by the usage", async () => {
  const { limiter } = setup();
  const limits = { tokens_per_minute: 100 };
  const r = reservation(await limiter.admit("a", limits, 60));
  assert.deepEqual(await limiter.usage("a"), {
    requests_last_minute: 1,
    tokens_last_minute: 60,
    tokens_today: 60,
  });
  // Only the running request stands in the way: it may end any moment.
  assert.deepEqual(refusal(await limiter.admit("a", limits, 50)), {
    reason: "tokens_rate_limited",
    retryAfterMs: 1_000,
  });
  await limiter.settle(r, 10);
  assert.deepEqual(await limiter.usage("a"), {
    requests_last_minute: 1,
    tokens_last_minute: 10,
    tokens_today: 10,
  });
  reservation(await limiter.admit("a", limits, 90));
  assert.equal((await limiter.admit("a", limits, 1)).allowed, false);
});

Deno.test("client settle: no usage reported keeps the estimate; settling twice counts once", async () => {
  const { limiter } = setup();
  const r = reservation(await limiter.admit("a", {}, 25));
  await limiter.settle(r, undefined);
  await limiter.settle(r, undefined);
  await limiter.settle(r, 1_000);
  assert.deepEqual(await limiter.usage("a"), {
    requests_last_minute: 1,
    tokens_last_minute: 25,
    tokens_today: 25,
  });
  // A foreign reservation of this instance (never admitted) is ignored as well.
  await limiter.settle({ ...r, id: `${r.id}0` }, 5);
  assert.equal((await limiter.usage("a")).tokens_today, 25);
});

Deno.test("client limits: an estimate larger than a limit itself is refused", async () => {
  const noon = Date.UTC(2026, 0, 2, 12);
  const { limiter } = setup(noon);
  assert.deepEqual(refusal(await limiter.admit("a", { tokens_per_minute: 100 }, 101)), {
    reason: "tokens_rate_limited",
    retryAfterMs: 60_000,
  });
  assert.deepEqual(refusal(await limiter.admit("a", { tokens_per_day: 100 }, 101)), {
    reason: "budget_exceeded",
    retryAfterMs: 12 * 3_600_000,
  });
  // Refusals leave no state behind.
  assert.equal(limiter.size, 0);
});

Deno.test("client limits: one decision, checked in order, nothing taken on a refusal", async () => {
  const { clock, limiter } = setup();
  const limits = { requests_per_minute: 2, tokens_per_minute: 10, tokens_per_day: 100 };
  const r = reservation(await limiter.admit("a", limits, 10));
  // Window full: refused by tokens; the request token stays in the bucket.
  for (let i = 0; i < 5; i++) {
    assert.equal(refusal(await limiter.admit("a", limits, 5)).reason, "tokens_rate_limited");
  }
  await limiter.settle(r, 0);
  reservation(await limiter.admit("a", limits, 5)); // the second token
  // Bucket empty, window fine: the bucket speaks.
  assert.equal(refusal(await limiter.admit("a", limits, 0)).reason, "rate_limited");
  // Bucket empty and window full: the bucket speaks first.
  assert.equal(refusal(await limiter.admit("a", limits, 6)).reason, "rate_limited");
  assert.deepEqual(await limiter.usage("a"), {
    requests_last_minute: 2,
    tokens_last_minute: 5,
    tokens_today: 5,
  });

  // Window and budget both over: the window speaks first; once it is free, the budget.
  const day = { tokens_per_minute: 10, tokens_per_day: 10 };
  await limiter.settle(reservation(await limiter.admit("b", day, 10)), 10);
  assert.equal(refusal(await limiter.admit("b", day, 1)).reason, "tokens_rate_limited");
  clock.advance(60_000);
  assert.equal(refusal(await limiter.admit("b", day, 1)).reason, "budget_exceeded");
});

Deno.test("client budget: 23:59:59.9 refuses until midnight, 00:00 starts a new day", async () => {
  const { clock, limiter } = setup(Date.UTC(2026, 0, 2, 23, 59, 59, 0));
  const limits = { tokens_per_day: 100 };
  await limiter.settle(reservation(await limiter.admit("a", limits, 100)), 100);
  clock.advance(900); // 23:59:59.900
  assert.deepEqual(refusal(await limiter.admit("a", limits, 1)), {
    reason: "budget_exceeded",
    retryAfterMs: 100,
  });
  assert.equal((await limiter.usage("a")).tokens_today, 100);
  clock.advance(100); // 00:00:00.000
  assert.equal((await limiter.usage("a")).tokens_today, 0);
  // The minute window does not care about midnight.
  assert.equal((await limiter.usage("a")).tokens_last_minute, 100);
  await limiter.settle(reservation(await limiter.admit("a", limits, 100)), 100);
  assert.deepEqual(refusal(await limiter.admit("a", limits, 1)), {
    reason: "budget_exceeded",
    retryAfterMs: 86_400_000,
  });
});

Deno.test("client budget: a settle after midnight counts in the new day", async () => {
  const { clock, limiter } = setup(Date.UTC(2026, 0, 2, 23, 59, 59, 900));
  const limits = { tokens_per_day: 100 };
  const r = reservation(await limiter.admit("a", limits, 80));
  assert.equal((await limiter.usage("a")).tokens_today, 80);
  clock.advance(200);
  // Still running: its reservation counts in the new day.
  assert.equal((await limiter.usage("a")).tokens_today, 80);
  assert.equal(refusal(await limiter.admit("a", limits, 30)).reason, "budget_exceeded");
  await limiter.settle(r, 70);
  assert.equal((await limiter.usage("a")).tokens_today, 70);
  reservation(await limiter.admit("a", limits, 30));
});

Deno.test("client limits: 50 concurrent admissions with room for 10 estimates admit 10", async () => {
  const { limiter } = setup();
  const limits = { requests_per_minute: 1_000, tokens_per_minute: 1_000 };
  const all = await Promise.all(
    Array.from({ length: 50 }, () => limiter.admit("a", limits, 100)),
  );
  const admitted = all.filter((a) => a.allowed);
  assert.equal(admitted.length, 10);
  const ids = new Set(admitted.map((a) => a.allowed ? a.reservation.id : ""));
  assert.equal(ids.size, 10, "reservation ids are unique");
  for (const a of all) if (!a.allowed) assert.equal(a.reason, "tokens_rate_limited");
  assert.deepEqual(await limiter.usage("a"), {
    requests_last_minute: 10,
    tokens_last_minute: 1_000,
    tokens_today: 1_000,
  });
});

Deno.test("client usage: requests_last_minute counts admissions of the last 60 s", async () => {
  const { clock, limiter } = setup();
  assert.deepEqual(await limiter.usage("nobody"), {
    requests_last_minute: 0,
    tokens_last_minute: 0,
    tokens_today: 0,
  });
  await limiter.admit("a", {}, 0);
  clock.advance(30_000);
  await limiter.admit("a", {}, 0);
  await limiter.admit("a", { requests_per_minute: 1 }, 0);
  await limiter.admit("a", { requests_per_minute: 1 }, 0); // refused: not counted
  assert.equal((await limiter.usage("a")).requests_last_minute, 3);
  clock.advance(30_000);
  assert.equal((await limiter.usage("a")).requests_last_minute, 2);
  clock.advance(30_000);
  assert.equal((await limiter.usage("a")).requests_last_minute, 0);
});

Deno.test("client limits: a reservation never settled is settled at its estimate after the lease", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 12));
  const limiter = new MemoryClientLimiter({ clock, reservationLeaseMs: 600_000 });
  const r = reservation(await limiter.admit("a", { tokens_per_minute: 100 }, 100));
  clock.advance(599_999);
  assert.equal((await limiter.admit("a", { tokens_per_minute: 100 }, 1)).allowed, false);
  clock.advance(1);
  const u = await limiter.usage("a");
  assert.deepEqual(u, { requests_last_minute: 0, tokens_last_minute: 100, tokens_today: 100 });
  // A late settle changes nothing more.
  await limiter.settle(r, 5);
  assert.deepEqual(await limiter.usage("a"), u);
  clock.advance(60_000);
  reservation(await limiter.admit("a", { tokens_per_minute: 100 }, 100));
});

Deno.test("client limits: snapshot and restore keep window, day, bucket and reservations", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 12));
  const first = new MemoryClientLimiter({ clock });
  const limits = { requests_per_minute: 2, tokens_per_minute: 100, tokens_per_day: 150 };
  await first.settle(reservation(await first.admit("a", limits, 40)), 40);
  const running = reservation(await first.admit("a", limits, 30));
  const snap = first.snapshot("a");
  assert.ok(snap !== undefined);
  const json = JSON.parse(JSON.stringify(snap));

  const second = new MemoryClientLimiter({ clock });
  second.restore("a", json);
  assert.deepEqual(await second.usage("a"), await first.usage("a"));
  assert.equal(refusal(await second.admit("a", limits, 1)).reason, "rate_limited");
  clock.advance(30_000);
  // The restored reservation settles by its id; a settle repeated changes nothing.
  await second.settle(running, 20);
  await second.settle(running, 20);
  assert.deepEqual(await second.usage("a"), {
    requests_last_minute: 2,
    tokens_last_minute: 60,
    tokens_today: 60,
  });
  clock.advance(31_000);
  assert.equal((await second.usage("a")).tokens_last_minute, 20);
  // Past the day: nothing is left, so nothing is stored.
  clock.advance(86_400_000);
  assert.equal(second.snapshot("a"), undefined);
  assert.equal(second.size, 0);
});

Deno.test("client limits: a settle of a lost reservation of another instance counts once", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 12));
  const before = new MemoryClientLimiter({ clock, idPrefix: "old." });
  const after = new MemoryClientLimiter({ clock, idPrefix: "new." });
  const r = reservation(await before.admit("a", {}, 30));
  await after.settle(r, undefined);
  await after.settle(r, undefined);
  assert.equal((await after.usage("a")).tokens_today, 30);
});

Deno.test("client limits: 100,000 clients stay bounded and are dropped once idle", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 12));
  const limiter = new MemoryClientLimiter({ clock });
  const limits: ClientLimitsConfig = {
    requests_per_minute: 60,
    tokens_per_minute: 1_000,
    tokens_per_day: 10_000,
  };
  for (let i = 0; i < 100_000; i++) {
    const a = await limiter.admit(`client-${i}`, limits, 10);
    await limiter.settle(reservation(a), 10);
    if (i % 100 === 0) clock.advance(1);
  }
  assert.ok(limiter.size <= 100_000);
  // A minute later only today's count is left of each (they used tokens today).
  clock.advance(61_000);
  limiter.sweep();
  assert.equal(limiter.size, 100_000);
  assert.deepEqual(await limiter.usage("client-7"), {
    requests_last_minute: 0,
    tokens_last_minute: 0,
    tokens_today: 10,
  });
  // Once the day is over, nothing.
  clock.advance(86_400_000);
  limiter.sweep();
  assert.equal(limiter.size, 0);

  // Clients that used no tokens leave once their bucket is full and window empty,
  // without an explicit sweep: admissions sweep as they go.
  let max = 0;
  for (let i = 0; i < 100_000; i++) {
    const a = await limiter.admit(`quiet-${i}`, { requests_per_minute: 600 }, 0);
    await limiter.settle(reservation(a), 0);
    clock.advance(10);
    max = Math.max(max, limiter.size);
  }
  // Each holds something for 60 s (its request in the window): ~6,000 at a time.
  assert.ok(max < 15_000, `grew to ${max}`);
});

Deno.test("client limits: a flood of names without time passing stays under the hard cap", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 12));
  const limiter = new MemoryClientLimiter({ clock, maxClients: 10_000 });
  let max = 0;
  for (let i = 0; i < 100_000; i++) {
    await limiter.admit(`c${i}`, { tokens_per_day: 100 }, 1);
    max = Math.max(max, limiter.size);
  }
  assert.ok(max <= 10_000, `grew to ${max}`);
  assert.ok(limiter.size > 5_000, "evicts in batches, not everything");
});

Deno.test("memory store: clients is a client limiter on the store's clock", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 23, 59, 59, 500));
  const store = new MemoryStateStore({ clock });
  const limits = { tokens_per_day: 10 };
  await store.clients.settle(reservation(await store.clients.admit("a", limits, 10)), 10);
  assert.deepEqual(refusal(await store.clients.admit("a", limits, 1)), {
    reason: "budget_exceeded",
    retryAfterMs: 500,
  });
  clock.advance(500);
  reservation(await store.clients.admit("a", limits, 1));
});
