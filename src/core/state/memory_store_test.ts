import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { GroupConfig, Strategy, UpstreamConfig } from "../config/types.ts";
import { MemoryStateStore } from "./memory_store.ts";
import type { GroupState, Selection, StateEvents } from "./types.ts";

const BREAKER = { threshold: 0.5, cooldown: 30 };

function upstream(name: string, extra: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    name,
    url: `http://${name}.test`,
    auth: { type: "none" },
    headers: [],
    weight: 1,
    breaker: BREAKER,
    ...extra,
  };
}

function groupConfig(
  strategy: Strategy,
  members: (string | [string, number])[],
  name = "g",
): GroupConfig {
  return {
    name,
    upstreams: members.map((m) =>
      typeof m === "string" ? { name: m, weight: 1 } : { name: m[0], weight: m[1] }
    ),
    balance: { strategy },
    http_client: {
      agent: "LLMProxy/1.0",
      keepalive: 30,
      stream: true,
      timeout: { connect: 10, request: 300, idle: 60 },
      stream_usage: false,
    },
  };
}

function upstreamMap(...ups: UpstreamConfig[]): Map<string, UpstreamConfig> {
  return new Map(ups.map((u) => [u.name, u]));
}

function recorder() {
  const log: string[] = [];
  const events: StateEvents = {
    breakerChange: (g, u, from, to) => log.push(`${g}/${u} ${from}>${to}`),
    breakerCall: (g, u, result) => log.push(`${g}/${u} ${result}`),
  };
  return { log, events };
}

async function pick(group: GroupState, exclude?: ReadonlySet<string>): Promise<Selection> {
  const r = await group.select(exclude);
  assert.ok(r.ok, `expected a selection, got ${JSON.stringify(r)}`);
  return r.selection;
}

/** Five failed attempts open the upstream's breaker. */
async function failUntilOpen(group: GroupState, name: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const s = await pick(group, undefined);
    assert.equal(s.upstream, name);
    await group.settle(s, { kind: "failure" });
    await group.release(s);
  }
}

async function inFlight(group: GroupState, name: string): Promise<number> {
  return (await group.status()).find((m) => m.upstream === name)!.inFlight;
}

Deno.test("in-flight returns to 0 after success, failure and cancellation; never negative", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(groupConfig("response_aware", ["a"]), upstreamMap(upstream("a")));

  const s1 = await pick(g);
  const s2 = await pick(g);
  const s3 = await pick(g);
  assert.equal(await inFlight(g, "a"), 3);
  assert.notEqual(s1.id, s2.id);

  await g.settle(s1, { kind: "success", latencyMs: 100 });
  await g.release(s1);
  await g.settle(s2, { kind: "failure" });
  await g.release(s2);
  await g.release(s3); // never settled: settles as cancelled
  assert.equal(await inFlight(g, "a"), 0);

  // Double release, late settle and unknown ids are ignored.
  await g.release(s1);
  await g.release(s3);
  await g.settle(s1, { kind: "failure" });
  await g.release({ id: 987654, upstream: "a", probe: false });
  assert.equal(await inFlight(g, "a"), 0);
  store.dispose();
});

Deno.test("settle counts once per selection", async () => {
  const clock = new ManualClock();
  const { log, events } = recorder();
  const store = new MemoryStateStore({ clock, events });
  const g = store.group(groupConfig("roundrobin", ["a"]), upstreamMap(upstream("a")));
  const s = await pick(g);
  for (let i = 0; i < 10; i++) await g.settle(s, { kind: "failure" });
  await g.release(s);
  assert.deepEqual(log, ["g/a failure"]);
  const [status] = await g.status();
  assert.equal(status!.breaker, "closed");
  assert.equal(status!.successRate, 0.85);
  store.dispose();
});

Deno.test("response_aware through the store prefers the 100 ms member", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(
    groupConfig("response_aware", ["slow", "fast"]),
    upstreamMap(upstream("slow"), upstream("fast")),
  );
  // Teach both members their latency; exclude steers each attempt, as retries would.
  // (Without it, sequential traffic would stay on whichever member answered first
  // below the pessimistic 2000 ms start: the untried one is only explored under load.)
  for (let i = 0; i < 40; i++) {
    const s = await pick(g, new Set([i % 2 === 0 ? "slow" : "fast"]));
    await g.settle(s, { kind: "success", latencyMs: s.upstream === "fast" ? 100 : 300 });
    await g.release(s);
  }
  const counts = { slow: 0, fast: 0 };
  for (let i = 0; i < 20; i++) {
    const s = await pick(g);
    counts[s.upstream as "slow" | "fast"]++;
    await g.settle(s, { kind: "success", latencyMs: s.upstream === "fast" ? 100 : 300 });
    await g.release(s);
  }
  assert.equal(counts.fast, 20);

  // With requests held open on "fast", the load spreads to "slow".
  const held = [await pick(g), await pick(g), await pick(g)];
  assert.deepEqual(held.map((s) => s.upstream), ["fast", "fast", "fast"]);
  assert.equal((await pick(g)).upstream, "slow");
  for (const s of held) await g.release(s);
  assert.equal(await inFlight(g, "fast"), 0);
  store.dispose();
});

Deno.test("all breakers open: ok:false with retryAfterMs to the earliest half-open", async () => {
  const clock = new ManualClock();
  const { log, events } = recorder();
  const store = new MemoryStateStore({ clock, events });
  const g = store.group(
    groupConfig("failover", ["a", "b"]),
    upstreamMap(upstream("a"), upstream("b", { breaker: { threshold: 0.5, cooldown: 60 } })),
  );
  await failUntilOpen(g, "a"); // a opens at t0, half-open at t0 + 30 s
  clock.advance(1_000);
  await failUntilOpen(g, "b"); // b opens at t0 + 1 s, half-open at t0 + 61 s
  clock.advance(10_500);
  log.length = 0;

  const r = await g.select();
  assert.deepEqual(r, { ok: false, retryAfterMs: 19_000 }); // 18.5 s, rounded up
  assert.deepEqual(log, ["g/a rejected", "g/b rejected"]);

  clock.advance(18_499);
  assert.deepEqual(await g.select(), { ok: false, retryAfterMs: 1000 }); // at least 1 s
  clock.advance(1);
  assert.ok(log.includes("g/a open>half_open"), "timer announced half-open");
  const probe = await pick(g);
  assert.deepEqual([probe.upstream, probe.probe], ["a", true]);
  // The only available member's probe is out: nothing else to offer.
  assert.deepEqual(await g.select(), { ok: false, retryAfterMs: 1000 });
  await g.settle(probe, { kind: "success", latencyMs: 50 });
  await g.release(probe);
  assert.equal((await g.status())[0]!.breaker, "closed");
  assert.equal((await pick(g)).probe, false);
  store.dispose();
});

Deno.test("a cancelled probe (release without settle) frees the probe slot", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(groupConfig("roundrobin", ["a"]), upstreamMap(upstream("a")));
  await failUntilOpen(g, "a");
  clock.advance(30_000);
  const probe = await pick(g);
  assert.equal(probe.probe, true);
  assert.equal((await g.select()).ok, false);
  await g.release(probe);
  const again = await pick(g);
  assert.equal(again.probe, true);
  await g.settle(again, { kind: "failure" });
  await g.release(again);
  assert.equal((await g.status())[0]!.breaker, "open");
  assert.equal(await inFlight(g, "a"), 0);
  store.dispose();
});

Deno.test("roundrobin skips a member whose breaker is open", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(
    groupConfig("roundrobin", ["a", "b", "c"]),
    upstreamMap(upstream("a"), upstream("b"), upstream("c")),
  );
  // Open b's breaker: fail every attempt that lands on b.
  let fails = 0;
  while (fails < 5) {
    const s = await pick(g);
    await g.settle(s, { kind: s.upstream === "b" ? "failure" : "success" });
    await g.release(s);
    if (s.upstream === "b") fails++;
  }
  const seq: string[] = [];
  for (let i = 0; i < 6; i++) {
    const s = await pick(g);
    seq.push(s.upstream);
    await g.release(s);
  }
  assert.ok(!seq.includes("b"));
  assert.deepEqual(seq.slice(0, 2).sort(), ["a", "c"]);
  store.dispose();
});

Deno.test("Retry-After pause makes a member unavailable until it passes (capped at 60 s)", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(
    groupConfig("failover", ["a", "b"]),
    upstreamMap(upstream("a", { breaker: undefined }), upstream("b", { breaker: undefined })),
  );
  const s = await pick(g);
  assert.equal(s.upstream, "a");
  await g.settle(s, { kind: "success", unavailableForMs: 5_000 });
  await g.release(s);
  assert.equal((await pick(g)).upstream, "b");
  clock.advance(4_999);
  assert.equal((await pick(g)).upstream, "b");
  clock.advance(1);
  assert.equal((await pick(g)).upstream, "a");

  // Both paused: the 503 waits for the earlier one; 10 minutes is capped at 60 s.
  const x = await pick(g);
  await g.settle(x, { kind: "success", unavailableForMs: 600_000 });
  const y = await pick(g);
  assert.equal(y.upstream, "b");
  await g.settle(y, { kind: "failure", unavailableForMs: 2_500 });
  assert.deepEqual(await g.select(), { ok: false, retryAfterMs: 3_000 });
  clock.advance(2_500);
  assert.equal((await pick(g)).upstream, "b");
  clock.advance(57_499);
  assert.equal((await pick(g)).upstream, "b");
  clock.advance(1);
  assert.equal((await pick(g)).upstream, "a");
  store.dispose();
});

Deno.test("exclude prefers untried members, falls back to tried ones", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g = store.group(
    groupConfig("failover", ["a", "b", "c"]),
    upstreamMap(upstream("a"), upstream("b"), upstream("c")),
  );
  assert.equal((await pick(g, new Set(["a"]))).upstream, "b");
  assert.equal((await pick(g, new Set(["a", "b"]))).upstream, "c");
  assert.equal((await pick(g, new Set(["a", "b", "c"]))).upstream, "a");
  assert.equal((await pick(g, new Set(["zzz"]))).upstream, "a");
  store.dispose();
});

Deno.test("carry-over keeps an open breaker when settings are unchanged, resets on url change", async () => {
  const clock = new ManualClock();
  const { log, events } = recorder();
  const store = new MemoryStateStore({ clock, events });
  const ups = upstreamMap(upstream("a"), upstream("b"));
  const g1 = store.group(groupConfig("failover", ["a", "b"]), ups);
  await failUntilOpen(g1, "a");
  const pending = await pick(g1); // on b, open across the swap
  assert.equal(pending.upstream, "b");

  // Same url and breaker, new weight and auth: state carries over.
  const ups2 = upstreamMap(
    upstream("a", { weight: 7, auth: { type: "bearer", token: "t" } }),
    upstream("b"),
  );
  const g2 = store.group(groupConfig("failover", [["a", 3], "b"]), ups2);
  assert.deepEqual((await g2.status()).map((m) => [m.upstream, m.breaker, m.inFlight]), [
    ["a", "open", 0],
    ["b", "closed", 1],
  ]);
  assert.equal((await pick(g2)).upstream, "b");

  // The selection made before the swap settles and releases on the old handle.
  await g1.settle(pending, { kind: "success" });
  await g1.release(pending);
  assert.equal(await inFlight(g2, "b"), 1); // only the pick made on g2 remains

  // The breaker timer survived the swap.
  clock.advance(30_000);
  assert.ok(log.includes("g/a open>half_open"));
  assert.equal((await g2.status())[0]!.breaker, "half_open");

  // url change: a starts afresh (closed, initial figures).
  const ups3 = upstreamMap(upstream("a", { url: "http://elsewhere.test" }), upstream("b"));
  const g3 = store.group(groupConfig("failover", ["a", "b"]), ups3);
  const [a3] = await g3.status();
  assert.deepEqual(a3, {
    upstream: "a",
    breaker: "closed",
    inFlight: 0,
    latencyMs: 2000,
    successRate: 1,
  });
  assert.equal((await pick(g3)).upstream, "a");
  store.dispose();
});

Deno.test("breaker settings change resets the member; removed members stop their timers", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const g1 = store.group(
    groupConfig("failover", ["a", "b"]),
    upstreamMap(upstream("a"), upstream("b")),
  );
  await failUntilOpen(g1, "a");
  assert.equal(clock.pendingTimers, 1);
  const g2 = store.group(
    groupConfig("failover", ["a", "b"]),
    upstreamMap(upstream("a", { breaker: { threshold: 0.9, cooldown: 30 } }), upstream("b")),
  );
  assert.equal((await g2.status())[0]!.breaker, "closed");
  assert.equal(clock.pendingTimers, 0, "the replaced breaker's timer was cancelled");

  await failUntilOpen(g2, "a");
  assert.equal(clock.pendingTimers, 1);
  store.group(groupConfig("failover", ["b"]), upstreamMap(upstream("b")));
  assert.equal(clock.pendingTimers, 0, "the removed member's timer was cancelled");
  store.dispose();
});

Deno.test("WRR position carries over a rebuild; retain drops groups and their timers", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const ups = upstreamMap(upstream("a"), upstream("b"));
  const cfg = groupConfig("weighted_roundrobin", [["a", 8], ["b", 2]]);
  const g1 = store.group(cfg, ups);
  const seq: string[] = [];
  for (let i = 0; i < 5; i++) seq.push((await pick(g1)).upstream);
  const g2 = store.group(cfg, ups);
  for (let i = 0; i < 5; i++) seq.push((await pick(g2)).upstream);
  assert.equal(seq.filter((n) => n === "a").length, 8);
  assert.equal(seq.filter((n) => n === "b").length, 2);

  const other = store.group(groupConfig("roundrobin", ["a"], "other"), ups);
  await failUntilOpen(other, "a");
  assert.equal(clock.pendingTimers, 1);
  store.retain(new Set(["g"]));
  assert.equal(clock.pendingTimers, 0);
  // A fresh "other" starts with fresh state.
  const again = store.group(groupConfig("roundrobin", ["a"], "other"), ups);
  assert.equal((await again.status())[0]!.breaker, "closed");
  store.dispose();
});

Deno.test("breakers are per (group, upstream) pair", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const ups = upstreamMap(upstream("a"));
  const g = store.group(groupConfig("roundrobin", ["a"], "g"), ups);
  const h = store.group(groupConfig("roundrobin", ["a"], "h"), ups);
  await failUntilOpen(g, "a");
  assert.equal((await h.status())[0]!.breaker, "closed");
  assert.equal((await h.select()).ok, true);
  store.dispose();
});

Deno.test("random strategy stays among available members", async () => {
  const clock = new ManualClock();
  let x = 0;
  const store = new MemoryStateStore({ clock, random: () => (x = (x + 0.37) % 1) });
  const g = store.group(
    groupConfig("random", ["a", "b", "c"]),
    upstreamMap(upstream("a"), upstream("b", { breaker: undefined }), upstream("c")),
  );
  const s = await pick(g, new Set(["a", "c"]));
  assert.equal(s.upstream, "b");
  await g.settle(s, { kind: "success", unavailableForMs: 10_000 });
  for (let i = 0; i < 30; i++) {
    const t = await pick(g);
    assert.notEqual(t.upstream, "b");
    await g.release(t);
  }
  store.dispose();
});

Deno.test("group() rejects a member without an upstream and changes nothing", () => {
  const store = new MemoryStateStore({ clock: new ManualClock() });
  assert.throws(
    () => store.group(groupConfig("roundrobin", ["a", "ghost"]), upstreamMap(upstream("a"))),
    /member "ghost" is not among the configured upstreams/,
  );
});

Deno.test("rateLimit delegates to the token buckets", async () => {
  const clock = new ManualClock();
  const store = new MemoryStateStore({ clock });
  const limit = { per_second: 1, burst: 3 };
  for (let i = 0; i < 3; i++) {
    assert.equal((await store.rateLimit("f|1.2.3.4", limit)).allowed, true);
  }
  assert.deepEqual(await store.rateLimit("f|1.2.3.4", limit), {
    allowed: false,
    retryAfterMs: 1000,
  });
  clock.advance(1000);
  assert.equal((await store.rateLimit("f|1.2.3.4", limit)).allowed, true);
});
