/**
 * Breakers, Retry-After pauses and the stored configuration shared by stores on one
 * redis-server of the test's own (docs/behaviour.md#redis): an opening reaches the
 * other store at once, half-open admits one probe across both, a probe's success
 * closes both, a cancelled probe frees the fleet's slot, and configuration versions
 * arrive by message and by the periodic check.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../core/clock.ts";
import type { GroupConfig, UpstreamConfig } from "../core/config/types.ts";
import type { GroupState, Selection } from "../core/state/types.ts";
import { eventually, withDeadline } from "../../tests/deadline.ts";
import { RedisServer } from "../../tests/fleet/redis_server.ts";
import { RedisStateStore } from "./redis_store.ts";

const T0 = 1_700_000_000_000;
const TEST = { sanitizeOps: false, sanitizeResources: false };

const UPSTREAM: UpstreamConfig = {
  name: "u",
  url: "http://u.test",
  auth: { type: "none" },
  headers: [],
  weight: 1,
  breaker: { threshold: 0.5, cooldown: 2 },
};
const UPSTREAMS = new Map([["u", UPSTREAM]]);
const GROUP: GroupConfig = {
  name: "g",
  upstreams: [{ name: "u", weight: 1 }],
  balance: { strategy: "roundrobin" },
  http_client: {
    agent: "LLMProxy/1.0",
    keepalive: 30,
    stream: true,
    timeout: { connect: 10, request: 300, idle: 60 },
    stream_usage: false,
  },
};

async function withTwo(
  fn: (
    ctx: { clock: ManualClock; s1: RedisStateStore; s2: RedisStateStore; redis: RedisServer },
  ) => Promise<void>,
): Promise<void> {
  const redis = await RedisServer.start();
  const clock = new ManualClock(T0);
  const make = () =>
    new RedisStateStore({
      url: redis.url,
      prefix: "sb:",
      timeoutMs: 250,
      clock,
      healthIntervalMs: 100,
      refreshIntervalMs: 100,
    });
  const s1 = make();
  const s2 = make();
  try {
    for (const s of [s1, s2]) {
      assert.equal(await withDeadline(s.start(3_000), 5_000, "start"), true);
    }
    // Subscribed (the subscription starts with the first health check).
    await new Promise((r) => setTimeout(r, 200));
    await fn({ clock, s1, s2, redis });
  } finally {
    await s1.close();
    await s2.close();
    await redis.stop();
  }
}

/** Keys under the test prefix: `:<how many × 1000 + how many without an expiry>`. */
async function keys(redis: RedisServer): Promise<string> {
  return await redis.command(
    "EVAL",
    "local n, m = 0, 0 for _, k in ipairs(redis.call('KEYS', 'sb:*')) do n = n + 1 " +
      "if redis.call('PTTL', k) < 0 then m = m + 1 end end return n * 1000 + m",
    "0",
  );
}

async function take(g: GroupState): Promise<Selection> {
  const r = await g.select();
  assert.ok(r.ok, "a member was expected");
  return r.selection;
}

async function breakerOf(g: GroupState): Promise<string> {
  return (await g.status())[0]!.breaker;
}

async function openThrough(g: GroupState): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const s = await take(g);
    await g.settle(s, { kind: "failure" });
    await g.release(s);
  }
  assert.equal(await breakerOf(g), "open");
}

Deno.test(
  "shared breakers: an opening reaches the other store; one probe; success closes both",
  TEST,
  () =>
    withTwo(async ({ clock, s1, s2, redis }) => {
      const g1 = s1.group(GROUP, UPSTREAMS);
      const g2 = s2.group(GROUP, UPSTREAMS);
      await openThrough(g1);
      await eventually("open on s2", async () => (await breakerOf(g2)) === "open", 1_000);
      assert.equal((await g2.select()).ok, false);
      // The record carries an expiry time.
      assert.equal((await keys(redis)).trim(), ":1000");

      clock.advance(2_000);
      assert.deepEqual([await breakerOf(g1), await breakerOf(g2)], ["half_open", "half_open"]);
      const probe = await take(g1);
      assert.equal(probe.probe, true);
      // The fleet's probe is out: s2 admits nothing.
      assert.equal((await g2.select()).ok, false);
      assert.equal((await g2.select()).ok, false);

      await g1.settle(probe, { kind: "success" });
      await g1.release(probe);
      await eventually("closed on s2", async () => (await breakerOf(g2)) === "closed", 1_000);
      const s = await take(g2);
      assert.equal(s.probe, false);
      await g2.release(s);
    }),
);

Deno.test(
  "shared breakers: a failed probe opens both again; a cancelled one frees the slot",
  TEST,
  () =>
    withTwo(async ({ clock, s1, s2 }) => {
      const g1 = s1.group(GROUP, UPSTREAMS);
      const g2 = s2.group(GROUP, UPSTREAMS);
      await openThrough(g2);
      await eventually("open on s1", async () => (await breakerOf(g1)) === "open", 1_000);
      clock.advance(2_000);

      // A probe given back without an outcome: the other store may probe next.
      const p1 = await take(g1);
      assert.equal(p1.probe, true);
      assert.equal((await g2.select()).ok, false);
      await g1.release(p1);
      await new Promise((r) => setTimeout(r, 100));
      clock.advance(1_000); // s2's hold-off ends
      const p2 = await take(g2);
      assert.equal(p2.probe, true);

      // It fails: open everywhere for another cooldown.
      await g2.settle(p2, { kind: "failure" });
      await g2.release(p2);
      assert.equal(await breakerOf(g2), "open");
      await eventually("open again on s1", async () => (await breakerOf(g1)) === "open", 1_000);
    }),
);

Deno.test(
  "shared pauses: a Retry-After on one store pauses the member on the other",
  TEST,
  () =>
    withTwo(async ({ s1, s2 }) => {
      const g1 = s1.group(GROUP, UPSTREAMS);
      const g2 = s2.group(GROUP, UPSTREAMS);
      const s = await take(g1);
      await g1.settle(s, { kind: "success", unavailableForMs: 5_000 });
      await g1.release(s);
      await eventually("paused on s2", async () => !(await g2.select()).ok, 1_000);
      const r = await g2.select();
      assert.ok(!r.ok && r.retryAfterMs >= 4_000, JSON.stringify(r));
    }),
);

Deno.test(
  "shared configuration: versions by message and by the periodic check",
  TEST,
  () =>
    withTwo(async ({ s1, s2, redis }) => {
      const seen: string[] = [];
      s2.onConfigVersion((v, e) => seen.push(`${v}/${e}`));
      const first = await s1.publishConfig('{"a":1}');
      assert.equal(first.version, 1);
      assert.match(first.epoch, /^[0-9a-f]{16}$/);
      await eventually("version 1 on s2", () => seen.includes(`1/${first.epoch}`), 1_000);
      assert.deepEqual(await s2.loadConfig(), { version: 1, json: '{"a":1}', epoch: first.epoch });

      // A listener that missed the message still hears of the version; the epoch stays.
      const late: string[] = [];
      assert.deepEqual(await s2.publishConfig('{"a":2}'), { version: 2, epoch: first.epoch });
      s1.onConfigVersion((v, e) => late.push(`${v}/${e}`));
      await eventually("version 2 on s1 by the check", () =>
        late.includes(`2/${first.epoch}`), 1_000);
      assert.equal((await keys(redis)).trim(), ":1000");
    }),
);

Deno.test(
  "shared breakers: a store that missed the message reads the opening (refresh)",
  TEST,
  () =>
    withTwo(async ({ s1, s2 }) => {
      const g1 = s1.group(GROUP, UPSTREAMS);
      await openThrough(g1);
      // s2 knew nothing of the group when the opening was announced.
      await new Promise((r) => setTimeout(r, 100));
      const g2 = s2.group(GROUP, UPSTREAMS);
      assert.equal(await breakerOf(g2), "closed");
      await eventually(
        "open on s2 by the refresh",
        async () => (await breakerOf(g2)) === "open",
        1_000,
      );
    }),
);

Deno.test("shared breakers: with Redis away the local breaker decides alone", TEST, async () => {
  const redis = await RedisServer.start();
  await redis.stop();
  const clock = new ManualClock(T0);
  const s = new RedisStateStore({
    url: redis.url,
    prefix: "sb:",
    timeoutMs: 100,
    clock,
    healthIntervalMs: 100,
  });
  try {
    assert.equal(await withDeadline(s.start(), 5_000, "start"), false);
    const g = s.group(GROUP, UPSTREAMS);
    await openThrough(g);
    assert.equal((await g.select()).ok, false);
    clock.advance(2_000);
    const probe = await take(g);
    assert.equal(probe.probe, true);
    await g.settle(probe, { kind: "success" });
    await g.release(probe);
    assert.equal(await breakerOf(g), "closed");
  } finally {
    await s.close();
    await redis.stop();
  }
});
