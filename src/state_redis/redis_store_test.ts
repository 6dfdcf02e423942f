/**
 * The Redis state store against a real redis-server of the test's own: the scripts'
 * arithmetic (per-IP bucket, request bucket, token window, day budget, reservations and
 * their lease, usage), atomicity under concurrency, key expiry, NOSCRIPT, and the
 * fallback to local memory when Redis dies or stops answering.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../core/clock.ts";
import type { Logger } from "../core/log/logger.ts";
import { ProxyMetrics } from "../core/metrics/proxy_metrics.ts";
import type { ClientAdmission } from "../core/state/types.ts";
import { eventually, withDeadline } from "../../tests/deadline.ts";
import { RedisServer } from "../../tests/fleet/redis_server.ts";
import { RedisStateStore, type RedisStateStoreOptions } from "./redis_store.ts";
import { loadConfig } from "../core/config/mod.ts";
import type { Config } from "../core/config/types.ts";
import { Gateway } from "../core/proxy/gateway.ts";
import { fetchTransport } from "../core/proxy/transport.ts";
import { shareAdminChanges } from "../daemon/state_store.ts";

const T0 = 1_700_000_000_000; // a whole second, 22:13:20 UTC
const CALL_MS = 5_000;

/** Every store call in these tests has a deadline. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  return withDeadline(p, CALL_MS, what);
}

interface Ctx {
  readonly redis: RedisServer;
  readonly clock: ManualClock;
  readonly lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
  readonly metrics: ProxyMetrics;
  store(extra?: Partial<RedisStateStoreOptions>): Promise<RedisStateStore>;
}

/** Runs `fn` with a fresh redis-server (stopped by PID afterwards) and stores on it. */
async function withRedis(
  fn: (ctx: Ctx) => Promise<void>,
  options: { password?: string } = {},
): Promise<void> {
  const redis = await RedisServer.start(options);
  const stores: RedisStateStore[] = [];
  const lines: Ctx["lines"] = [];
  const logger: Logger = { log: (level, msg, fields) => lines.push({ level, msg, fields }) };
  const clock = new ManualClock(T0);
  const metrics = new ProxyMetrics();
  try {
    await fn({
      redis,
      clock,
      lines,
      metrics,
      store: async (extra = {}) => {
        const s = new RedisStateStore({
          url: redis.url,
          prefix: "t:",
          timeoutMs: 250,
          clock,
          logger,
          metrics,
          healthIntervalMs: 100,
          ...extra,
        });
        stores.push(s);
        assert.equal(await bounded(s.start(3_000), "store start"), true, "Redis not in use");
        return s;
      },
    });
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await redis.stop();
  }
}

const TEST = { sanitizeOps: false, sanitizeResources: false };

function refusal(a: ClientAdmission): [string, number] | "allowed" {
  return a.allowed ? "allowed" : [a.reason, a.retryAfterMs];
}

Deno.test(
  "redis: per-IP bucket: burst, refill, Retry-After, and the key expires",
  TEST,
  () =>
    withRedis(async ({ clock, store, redis }) => {
      const s = await store();
      const limit = { per_second: 1, burst: 3 };
      const take = () => bounded(s.rateLimit("f\u0000203.0.113.7", limit), "rateLimit");
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await take(), { allowed: true, retryAfterMs: 0 });
      }
      assert.deepEqual(await take(), { allowed: false, retryAfterMs: 1000 });
      clock.advance(400);
      assert.deepEqual(await take(), { allowed: false, retryAfterMs: 600 });
      clock.advance(600);
      assert.equal((await take()).allowed, true);
      // Another address has its own bucket.
      assert.equal(
        (await bounded(s.rateLimit("f\u0000198.51.100.1", limit), "other")).allowed,
        true,
      );
      // Empty bucket: full again in 3 s, the key lives that long plus a second.
      const ttl = Number((await redis.command("PTTL", "t:rl:f\u0000203.0.113.7")).slice(1));
      assert.ok(ttl > 3_000 && ttl <= 4_000, `PTTL ${ttl}`);
    }),
);

Deno.test(
  "redis: client request bucket (requests_per_minute)",
  TEST,
  () =>
    withRedis(async ({ clock, store }) => {
      const s = await store();
      const limits = { requests_per_minute: 2 };
      const admit = () => bounded(s.clients.admit("team-a", limits, 0), "admit");
      assert.equal((await admit()).allowed, true);
      assert.equal((await admit()).allowed, true);
      assert.deepEqual(refusal(await admit()), ["rate_limited", 30_000]);
      clock.advance(30_000);
      assert.equal((await admit()).allowed, true);
      assert.deepEqual(refusal(await admit()), ["rate_limited", 30_000]);
      const u = await bounded(s.clients.usage("team-a"), "usage");
      assert.equal(u.requests_last_minute, 3);
    }),
);

Deno.test(
  "redis: token window: reservations count, settle records usage, Retry-After",
  TEST,
  () =>
    withRedis(async ({ clock, store }) => {
      const s = await store();
      const limits = { tokens_per_minute: 100 };
      const admit = (n: number) => bounded(s.clients.admit("team-a", limits, n), "admit");
      const a = await admit(60);
      assert.ok(a.allowed);
      // 60 reserved + 50 > 100: only a reservation stands in the way (1 s).
      assert.deepEqual(refusal(await admit(50)), ["tokens_rate_limited", 1_000]);
      // More than the window can ever hold: a minute.
      assert.deepEqual(refusal(await admit(101)), ["tokens_rate_limited", 60_000]);
      clock.advance(500);
      await bounded(s.clients.settle(a.reservation, 70), "settle");
      // Idempotent: a second settle records nothing.
      await bounded(s.clients.settle(a.reservation, 70), "settle again");
      let u = await bounded(s.clients.usage("team-a"), "usage");
      assert.deepEqual(u, { requests_last_minute: 1, tokens_last_minute: 70, tokens_today: 70 });
      // 70 used + 40 > 100: the 70 leave the window 61 s after their second began.
      assert.deepEqual(refusal(await admit(40)), ["tokens_rate_limited", 60_500]);
      assert.equal((await admit(30)).allowed, true);
      clock.advance(60_500);
      u = await bounded(s.clients.usage("team-a"), "usage later");
      // Both requests were in the first second: gone; the 30 still reserved count.
      assert.deepEqual(u, { requests_last_minute: 0, tokens_last_minute: 30, tokens_today: 100 });
      assert.equal((await admit(40)).allowed, true);
    }),
);

Deno.test(
  "redis: day budget until the next UTC midnight; no usage keeps the estimate",
  TEST,
  () =>
    withRedis(async ({ clock, store }) => {
      const s = await store();
      const limits = { tokens_per_day: 100 };
      const a = await bounded(s.clients.admit("team-b", limits, 80), "admit");
      assert.ok(a.allowed);
      await bounded(s.clients.settle(a.reservation, undefined), "settle"); // 80 stand
      const midnight = (Math.floor(T0 / 86_400_000) + 1) * 86_400_000;
      assert.deepEqual(refusal(await bounded(s.clients.admit("team-b", limits, 21), "21")), [
        "budget_exceeded",
        midnight - T0,
      ]);
      assert.equal((await bounded(s.clients.admit("team-b", limits, 20), "20")).allowed, true);
      clock.advance(midnight - T0);
      const u = await bounded(s.clients.usage("team-b"), "usage");
      // The 20 reserved before midnight still count (as reservations) today.
      assert.equal(u.tokens_today, 20);
      assert.equal((await bounded(s.clients.admit("team-b", limits, 80), "new day")).allowed, true);
    }),
);

Deno.test(
  "redis: a reservation never settled ends with its lease, at its estimate",
  TEST,
  () =>
    withRedis(async ({ clock, store }) => {
      const s = await store({ reservationLeaseMs: 10_000 });
      const a = await bounded(s.clients.admit("c", { tokens_per_minute: 1000 }, 50), "admit");
      assert.ok(a.allowed);
      assert.equal((await bounded(s.clients.usage("c"), "usage")).tokens_last_minute, 50);
      clock.advance(10_000);
      assert.deepEqual(await bounded(s.clients.usage("c"), "usage after lease"), {
        requests_last_minute: 1,
        tokens_last_minute: 50,
        tokens_today: 50,
      });
      // Its request reports back late: nothing changes (it was settled at the estimate).
      await bounded(s.clients.settle(a.reservation, 500), "late settle");
      assert.equal((await bounded(s.clients.usage("c"), "usage")).tokens_today, 50);
    }),
);

Deno.test(
  "redis: 50 concurrent admissions sized for 10 admit exactly 10, over two connections",
  TEST,
  () =>
    withRedis(async ({ store }) => {
      const a = await store();
      const b = await store();
      const rpm = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            bounded((i % 2 ? a : b).clients.admit("rpm", { requests_per_minute: 10 }, 0), "admit"),
        ),
      );
      assert.equal(rpm.filter((d) => d.allowed).length, 10);
      const tpm = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            bounded((i % 2 ? a : b).clients.admit("tpm", { tokens_per_minute: 100 }, 10), "admit"),
        ),
      );
      assert.equal(tpm.filter((d) => d.allowed).length, 10);
      const ip = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            bounded(
              (i % 2 ? a : b).rateLimit("f\u00001.2.3.4", { per_second: 1, burst: 10 }),
              "rl",
            ),
        ),
      );
      assert.equal(ip.filter((d) => d.allowed).length, 10);
    }),
);

Deno.test(
  "redis: every key carries an expiry; an idle client's keys go",
  TEST,
  () =>
    withRedis(async ({ store, redis }) => {
      const s = await store({ reservationLeaseMs: 1_000 });
      await bounded(s.rateLimit("f\u00001.1.1.1", { per_second: 10, burst: 20 }), "rl");
      const a = await bounded(s.clients.admit("team-a", { requests_per_minute: 5 }, 40), "admit");
      assert.ok(a.allowed);
      await bounded(s.clients.admit("team-b", { tokens_per_day: 5 }, 40), "refused admit");
      const keys = (await redis.command("KEYS", "t:*")).split("\r\n").filter((l) =>
        l.startsWith("t:")
      );
      assert.ok(keys.length >= 3, keys.join(", "));
      for (const k of keys) {
        const ttl = Number((await redis.command("PTTL", k)).slice(1));
        assert.ok(ttl > 0, `${k} has no expiry (${ttl})`);
        // Nothing lives past the next UTC midnight or lease + 2 min, whichever is later.
        assert.ok(ttl <= Math.max(86_400_000, 121_000), `${k}: ${ttl}`);
      }
    }),
);

Deno.test(
  "redis: scripts flushed (a Redis restart) are sent again by EVAL",
  TEST,
  () =>
    withRedis(async ({ store, redis }) => {
      const s = await store();
      assert.equal(
        (await bounded(s.rateLimit("k", { per_second: 1, burst: 1 }), "rl")).allowed,
        true,
      );
      assert.equal(await redis.command("SCRIPT", "FLUSH"), "+OK\r\n");
      assert.equal(
        (await bounded(s.rateLimit("k", { per_second: 1, burst: 1 }), "rl")).allowed,
        false,
      );
      assert.equal(s.available, true);
    }),
);

Deno.test(
  "redis: killed → local decisions, counted, one warning; back → shared within 5 s",
  TEST,
  () =>
    withRedis(
      async ({ store, redis, metrics, lines }) => {
        const s = await store();
        const limits = { requests_per_minute: 3 };
        assert.ok((await bounded(s.clients.admit("x", limits, 0), "admit")).allowed);
        await redis.stop();
        // Traffic goes on: decided locally (the local bucket is fresh, so allowed).
        for (let i = 0; i < 5; i++) {
          const d = await bounded(
            s.rateLimit("f\u00001.1.1.1", { per_second: 1, burst: 100 }),
            "rl",
          );
          assert.equal(d.allowed, true);
        }
        assert.equal(s.available, false);
        const text = metrics.encode();
        assert.match(text, /llmproxy_state_store_errors_total\{op="ratelimit"\} [1-9]/);
        const warns = lines.filter((l) => l.level === "warn");
        assert.equal(warns.length, 1, JSON.stringify(warns));
        assert.ok(!JSON.stringify(lines).includes("pa55"), JSON.stringify(lines));
        assert.match(String(warns[0]!.fields?.redis), /^redis:\/\/\*\*\*@127\.0\.0\.1:\d+$/);

        const back = performance.now();
        await redis.restart();
        await eventually("Redis in use again", () => s.available, 5_000);
        assert.ok(performance.now() - back < 5_000);
        assert.ok(lines.some((l) => l.msg === "state store available again"));
        // Shared again: the (empty, restarted) Redis decides.
        for (let i = 0; i < 3; i++) {
          assert.ok((await bounded(s.clients.admit("x", limits, 0), "admit")).allowed);
        }
        assert.deepEqual(
          refusal(await bounded(s.clients.admit("x", limits, 0), "admit"))[0],
          "rate_limited",
        );
      },
      { password: "pa55-w0rd" },
    ),
);

Deno.test(
  "redis: a Redis that stops answering: decisions within the timeout, settles kept",
  TEST,
  () =>
    withRedis(async ({ store, redis, metrics }) => {
      const s = await store({ timeoutMs: 100 });
      const limits = { tokens_per_minute: 1000 };
      const a = await bounded(s.clients.admit("y", limits, 100), "admit");
      assert.ok(a.allowed);
      redis.pause(true);
      try {
        const t = performance.now();
        await bounded(s.clients.settle(a.reservation, 30), "settle while paused");
        const d = await bounded(s.rateLimit("k", { per_second: 1, burst: 1 }), "rl while paused");
        assert.equal(d.allowed, true);
        assert.ok(performance.now() - t < 1_000, `took ${performance.now() - t} ms`);
        assert.equal(s.pendingSettles, 1);
        assert.match(metrics.encode(), /llmproxy_state_store_errors_total\{op="client_settle"\} 1/);
      } finally {
        redis.pause(false);
      }
      await eventually("Redis in use again", () => s.available && s.pendingSettles === 0, 5_000);
      const u = await bounded(s.clients.usage("y"), "usage");
      assert.deepEqual(u, { requests_last_minute: 1, tokens_last_minute: 30, tokens_today: 30 });
    }),
);

Deno.test(
  "redis: started without Redis: the store starts, decides locally, connects later",
  TEST,
  async () => {
    const redis = await RedisServer.start();
    await redis.stop();
    const metrics = new ProxyMetrics();
    const s = new RedisStateStore({
      url: redis.url,
      prefix: "t:",
      timeoutMs: 100,
      metrics,
      healthIntervalMs: 100,
    });
    try {
      assert.equal(await bounded(s.start(), "start"), false);
      assert.ok((await bounded(s.clients.admit("z", { requests_per_minute: 1 }, 0), "a")).allowed);
      assert.match(metrics.encode(), /op="client_admit"\} 1/);
      await redis.restart();
      await eventually("connected", () => s.available, 5_000);
      // Redis knows nothing of the local admission: it starts afresh.
      assert.ok((await bounded(s.clients.admit("z", { requests_per_minute: 1 }, 0), "b")).allowed);
      assert.equal(
        (await bounded(s.clients.admit("z", { requests_per_minute: 1 }, 0), "c")).allowed,
        false,
      );
    } finally {
      await s.close();
      await redis.stop();
    }
  },
);

const SHARED_CONFIG = `
http_server:
  forwards: [{ name: main, port: 1, address: 127.0.0.1, default_group: g }]
  admin: { port: 2, address: 127.0.0.1 }
upstreams:
  - { name: u, url: "http://127.0.0.1:9" }
  - { name: v, url: "http://127.0.0.1:10" }
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;

function sharedConfig(member: string): Config {
  const r = loadConfig(
    SHARED_CONFIG.replace("upstreams: [{ name: u }]", `upstreams: [{ name: ${member} }]`),
  );
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.config;
}

function membersOf(gw: Gateway): string[] {
  return gw.config.upstream_groups[0]!.upstreams.map((m) => m.name);
}

Deno.test(
  "redis: admin changes: a Redis that lost the stored configuration still carries the next one",
  TEST,
  () =>
    withRedis(async ({ store, redis }) => {
      const logger: Logger = { log: () => {} };
      const gateways = [0, 1].map(() =>
        new Gateway({ config: sharedConfig("u"), transports: () => fetchTransport() })
      );
      const [a, b] = gateways as [Gateway, Gateway];
      await bounded(shareAdminChanges(await store(), a, logger), "share a");
      await bounded(shareAdminChanges(await store(), b, logger), "share b");
      // Three changes on A: A and B have applied version 3.
      for (const m of ["v", "u", "v"]) a.apply(sharedConfig(m));
      await eventually("B follows A", () => membersOf(b).join() === "v", 5_000);
      // Redis restarted without persistence (or flushed): versions count from 1 again.
      assert.equal(await redis.command("FLUSHALL"), "+OK\r\n");
      b.apply(sharedConfig("u"));
      await eventually("A follows B's change after the loss", () =>
        membersOf(a).join() === "u", 5_000);
      a.apply(sharedConfig("v"));
      await eventually("and B follows A's next one", () =>
        membersOf(b).join() === "v", 5_000);
      for (const gw of gateways) {
        gw.close();
      }
    }),
);
