import assert from "node:assert/strict";
import {
  HISTORY_LIMITS,
  HISTORY_SECONDS,
  OTHER,
  quantileMs,
  TrafficHistory,
  trafficHistory,
} from "./history.ts";
import { DURATION_BUCKETS } from "./proxy_metrics.ts";

const T0 = 1_700_000_000_000; // a whole second

Deno.test("history: one slot per second, oldest first, ending at the current second", () => {
  const h = new TrafficHistory();
  h.record(T0, "main", 200, 40, undefined, undefined, undefined);
  h.record(T0 + 300, "main", 502, 40, "upstream_unreachable", undefined, undefined);
  h.record(T0 + 2_000, "main", 429, 1, "rate_limited", undefined, undefined);
  h.record(T0 + 2_500, "main", 200, 40, "upstream_body_cut", undefined, undefined);
  h.record(T0 + 2_600, "main", 429, 3, undefined, undefined, undefined); // an upstream's 429
  const s = h.snapshot(T0 + 2_999);
  assert.equal(s.seconds, HISTORY_SECONDS);
  assert.equal(s.start, T0 / 1000 + 2 - HISTORY_SECONDS + 1);
  const f = s.forwards[0]!;
  assert.equal(f.name, "main");
  assert.equal(f.requests.length, HISTORY_SECONDS);
  assert.deepEqual(f.requests.slice(-3), [2, 0, 3]);
  assert.deepEqual(f.errors.slice(-3), [1, 0, 1], "5xx and a body cut are errors");
  assert.deepEqual(f.rate_limited.slice(-3), [0, 0, 1], "only the proxy's own 429 counts");
  assert.deepEqual(f.total, {
    requests: 5,
    errors: 2,
    rate_limited: 1,
    p50_ms: f.total.p50_ms,
    p95_ms: f.total.p95_ms,
  });
  assert.equal(f.rps_10s, 0.5);
});

Deno.test("history: seconds that pass are cleared, also after a long idle time", () => {
  const h = new TrafficHistory();
  h.record(T0, "main", 200, 5, undefined, undefined, undefined);
  let s = h.snapshot(T0 + (HISTORY_SECONDS - 1) * 1000);
  assert.equal(s.forwards[0]!.requests[0], 1, "still in the window 299 s later");
  s = h.snapshot(T0 + HISTORY_SECONDS * 1000);
  assert.equal(s.forwards.length, 0, "gone after five minutes, series dropped");

  // The same slot index reused a full turn later starts from zero.
  h.record(T0 + 10 * HISTORY_SECONDS * 1000, "main", 200, 5, undefined, undefined, undefined);
  s = h.snapshot(T0 + 10 * HISTORY_SECONDS * 1000);
  assert.equal(s.forwards[0]!.total.requests, 1);

  // A clock that goes back records into the newest second, never into the past.
  h.record(T0, "main", 200, 5, undefined, undefined, undefined);
  s = h.snapshot(T0 + 10 * HISTORY_SECONDS * 1000);
  assert.equal(s.forwards[0]!.requests.at(-1), 2);
});

Deno.test("history: latency p50/p95 from duration buckets, per 5 s and over the window", () => {
  const h = new TrafficHistory();
  for (let i = 0; i < 90; i++) h.record(T0, "main", 200, 40, undefined, undefined, undefined);
  for (let i = 0; i < 10; i++) h.record(T0, "main", 200, 2000, undefined, undefined, undefined);
  const f = h.snapshot(T0 + 6_000).forwards[0]!;
  // 90 in (25, 50] ms and 10 in (1000, 2500] ms: p50 inside the first, p95 in the second.
  assert.ok(f.total.p50_ms! > 25 && f.total.p50_ms! <= 50, `p50 ${f.total.p50_ms}`);
  assert.ok(f.total.p95_ms! > 1000 && f.total.p95_ms! <= 2500, `p95 ${f.total.p95_ms}`);
  // The per-second series covers the 5 s ending at each second.
  const last = HISTORY_SECONDS - 1;
  assert.equal(f.p50_ms[last - 6], f.total.p50_ms);
  assert.equal(f.p50_ms[last - 2], f.total.p50_ms);
  assert.equal(f.p50_ms[last - 1], null, "nothing in the 5 s ending a second ago");
  assert.equal(f.p50_ms[last], null);
});

Deno.test("history: quantiles as histogram_quantile reads them", () => {
  const n = DURATION_BUCKETS.length + 1;
  const counts = new Array(n).fill(0);
  assert.equal(quantileMs(counts, 0.5), null);
  counts[0] = 4; // (0, 10] ms
  assert.equal(quantileMs(counts, 0.5), 5);
  counts.fill(0);
  counts[n - 1] = 3; // +Inf: the highest finite bound
  assert.equal(quantileMs(counts, 0.95), DURATION_BUCKETS.at(-1)! * 1000);
});

Deno.test("history: tokens per model and per client, last minute and per second", () => {
  const h = new TrafficHistory();
  h.record(T0, "main", 200, 100, undefined, { model: "gpt-4o", input: 10, output: 30 }, "team-a");
  h.record(T0 + 1_000, "main", 200, 100, undefined, { model: "gpt-4o", input: 5 }, "team-a");
  h.record(T0 + 1_000, "main", 200, 100, undefined, { input: 1, output: 1 }, undefined);
  h.record(T0 + 1_000, "main", 200, 100, undefined, undefined, "anonymous");
  h.record(T0 + 1_000, "main", 200, 100, undefined, { model: "x" }, undefined); // no usage
  const s = h.snapshot(T0 + 60_500); // the last minute: seconds 1 to 60
  const byName = new Map(s.models.map((m) => [m.name, m]));
  assert.deepEqual([...byName.keys()].sort(), ["gpt-4o", "unknown"]);
  const gpt = byName.get("gpt-4o")!;
  assert.deepEqual(gpt.last_minute, { input: 5, output: 0 }, "the last 60 s only");
  assert.equal(gpt.input.reduce((a, b) => a + b), 15);
  assert.equal(gpt.output.reduce((a, b) => a + b), 30);
  const clients = new Map(s.clients.map((c) => [c.name, c]));
  assert.equal(clients.get("team-a")!.requests_last_minute, 1);
  assert.equal(clients.get("anonymous")!.requests_last_minute, 1);
  assert.deepEqual(clients.get("anonymous")!.last_minute, { input: 0, output: 0 });
});

Deno.test("history: memory is bounded; names past the limits count as other", () => {
  const h = new TrafficHistory();
  const usage = (i: number) => ({ model: `m${i}`, input: 1, output: 1 });
  for (let i = 0; i < HISTORY_LIMITS.models + 50; i++) {
    h.record(T0, `f${i}`, 200, 1, undefined, usage(i), `c${i}`);
  }
  const s = h.snapshot(T0);
  assert.equal(s.forwards.length, HISTORY_LIMITS.forwards + 1);
  assert.equal(s.models.length, HISTORY_LIMITS.models + 1);
  assert.equal(s.clients.length, HISTORY_LIMITS.clients + 1);
  const other = s.models.find((m) => m.name === OTHER)!;
  assert.equal(other.last_minute.input, 50);
  // A long model name is cut.
  h.record(T0, "main", 200, 1, undefined, { model: "x".repeat(1000), input: 1 }, undefined);
});

Deno.test("trafficHistory: one history per owner", () => {
  const a = {};
  const b = {};
  assert.equal(trafficHistory(a), trafficHistory(a));
  assert.notEqual(trafficHistory(a), trafficHistory(b));
});
