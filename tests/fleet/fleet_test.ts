/**
 * A fleet of daemons on one Redis (docs/behaviour.md#redis): per-IP buckets and client limits hold
 * across instances, a Redis that dies mid-load fails no request, and sharing resumes
 * within 5 s of its return. Every process is the test's own (redis-server on a free
 * loopback port without persistence, daemons, a mock upstream) and is stopped by PID.
 * Every case runs as one step per runtime pairing (PAIRINGS: on Deno, mixed, on Node);
 * the Node daemon is a bundle built once for this file.
 */
import assert from "node:assert/strict";
import { type DaemonCommand, delay, type RunningMock, startMock } from "../conformance/harness.ts";
import { RedisServer } from "./redis_server.ts";
import {
  burstOf3,
  chatBody,
  daemons,
  LOAD_KEY,
  type Member,
  output,
  PAIRINGS,
  post,
  ready,
  startMember,
  startMembers,
  stopAll,
  storeErrors,
  TEAM_KEY,
} from "./lib.ts";

const PASSWORD = "fleet-pa55word";

/** Runs `fn` with a password-protected redis-server, a mock and two members. */
async function withFleet(
  commands: readonly DaemonCommand[],
  fn: (ctx: { redis: RedisServer; mock: RunningMock; a: Member; b: Member }) => Promise<void>,
  options: { latencyMs?: number; tokensPerMinute?: number } = {},
): Promise<void> {
  assert.equal(commands.length, 2, "a fleet of two");
  const redis = await RedisServer.start({ password: PASSWORD });
  // Usage reported = the estimate (input ceil(bytes / 4), no output), so a settle never
  // changes how many fit, however the requests spread over time on a loaded machine.
  const mock = startMock({ name: "fleet", latencyMs: options.latencyMs ?? 0, outputTokens: 0 });
  const members: (Member | undefined)[] = [];
  try {
    const [a, b] = await startMembers(commands, redis, mock, options, members);
    await fn({ redis, mock, a: a!, b: b! });
    // The Redis password is a secret: no daemon ever prints it.
    for (const m of members) assert.ok(!output(m!).includes(PASSWORD), "password in the output");
  } finally {
    await stopAll(members);
    await mock.close();
    await redis.stop();
  }
}

/** A per-IP burst of 3 admits exactly 3 across the two instances. */
function burstCase(commands: readonly DaemonCommand[]): Promise<void> {
  return withFleet(commands, async ({ a, b }) => {
    const r = await burstOf3([a.burst, b.burst]);
    assert.equal(r.admitted, r.allowed, r.statuses.join(","));
    assert.equal(r.statuses.filter((s) => s === 429).length, 10 - r.allowed);
  });
}

/** team-a's tokens_per_minute holds across the two instances under 50 concurrent requests. */
function tokensCase(commands: readonly DaemonCommand[]): Promise<void> {
  return withFleet(
    commands,
    async ({ a, b }) => {
      // Each request reserves ceil(400 / 4) = 100 tokens; 1,000 a minute admit 10, in
      // the whole fleet (one instance alone would also admit 10; two unshared, 20).
      const body = chatBody(400);
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          // Each still running when the last is admitted.
          (_, i) =>
            post(i % 2 ? a.main : b.main, {
              key: TEAM_KEY,
              body,
              headers: { "x-mock-latency": "1000" },
            }),
        ),
      );
      const ok = answers.filter((r) => r.status === 200).length;
      const refused = answers.filter((r) => r.status === 429);
      assert.equal(ok, 10, JSON.stringify(answers));
      assert.equal(refused.length, 40);
      for (const r of refused) {
        assert.equal(r.error, "tokens_rate_limited");
        assert.ok(Number(r.retryAfter) >= 1, String(r.retryAfter));
      }
      // Both instances admitted some: the limit is the fleet's, not one instance's.
      assert.deepEqual([await storeErrors(a), await storeErrors(b)], [0, 0]);
    },
    // Every request is still running when the last one is admitted.
    { latencyMs: 1_500, tokensPerMinute: 1_000 },
  );
}

/** Redis killed mid-load fails no request; once back, sharing resumes within 5 s. */
function redisKilledCase(commands: readonly DaemonCommand[]): Promise<void> {
  return withFleet(commands, async ({ redis, a, b }) => {
    const statuses: number[] = [];
    const failures: string[] = [];
    let stop = false;
    const loop = async (i: number) => {
      while (!stop) {
        const m = i % 2 ? a : b;
        i++;
        try {
          statuses.push((await post(m.main, { key: LOAD_KEY, deadlineMs: 10_000 })).status);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, i) => loop(i)));
    try {
      await delay(700);
      const before = statuses.length;
      await redis.stop();
      await delay(1_500);
      assert.ok(statuses.length > before + 20, `traffic stalled: ${statuses.length - before}`);
      assert.deepEqual([await ready(a), await ready(b)], [200, 200]);
      const errors = [await storeErrors(a), await storeErrors(b)];
      assert.ok(errors.every((n) => n > 0), `errors counted: ${errors}`);

      const restarted = performance.now();
      await redis.restart();
      await Promise.all(
        [a, b].map((m) =>
          m.daemon.waitFor((l) => l.includes('"state store available again"'), 5_000)
        ),
      );
      const took = performance.now() - restarted;
      assert.ok(took < 5_000, `back after ${took} ms`);
      await delay(300);
    } finally {
      stop = true;
      await load;
    }
    assert.deepEqual(failures, []);
    const bad = statuses.filter((s) => s !== 200);
    assert.equal(bad.length, 0, `non-200 answers: ${bad.join(",")} of ${statuses.length}`);
    // One warning per outage (at most one per 10 s), never the password.
    for (const m of [a, b]) {
      const warns = m.daemon.lines.filter((l) => l.includes('"state store unavailable'));
      assert.ok(warns.length >= 1 && warns.length <= 2, warns.join("\n"));
    }
    // Shared again: the burst forward (unused so far, its local buckets full) admits 3
    // across the two, as only the (restarted, empty) Redis decides.
    const r = await burstOf3([a.burst, b.burst]);
    assert.equal(r.admitted, r.allowed, r.statuses.join(","));
  });
}

Deno.test("fleet: a per-IP burst of 3 admits exactly 3 across two instances", async (t) => {
  for (const pairing of PAIRINGS) {
    await t.step(pairing, async () => burstCase(await daemons(pairing)));
  }
});

Deno.test("fleet: tokens_per_minute holds across instances, 50 concurrent", async (t) => {
  for (const pairing of PAIRINGS) {
    await t.step(pairing, async () => tokensCase(await daemons(pairing)));
  }
});

Deno.test("fleet: Redis killed mid-load fails nothing; back, shared within 5 s", async (t) => {
  for (const pairing of PAIRINGS) {
    await t.step(pairing, async () => redisKilledCase(await daemons(pairing)));
  }
});

/** SIGHUP with another state block: a restart is needed, the running store stays. */
async function sighupCase(cmd: DaemonCommand): Promise<void> {
  const redis = await RedisServer.start({ password: PASSWORD });
  const mock = startMock({ name: "hup" });
  let m: Member | undefined;
  try {
    m = await startMember(cmd, redis, mock);
    const path = m.daemon.configPath;
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace('prefix: "fleet:"', 'prefix: "other:"'));
    m.daemon.signal("SIGHUP");
    const line = await m.daemon.waitFor((l) => l.includes("state store settings change"), 10_000);
    const record = JSON.parse(line);
    assert.equal(record.level, "warn");
    assert.equal(record.running.prefix, "fleet:");
    assert.equal(record.configured.prefix, "other:");
    assert.match(record.running.redis, /^redis:\/\/\*\*\*@127\.0\.0\.1:\d+$/);
    await m.daemon.waitFor((l) => l.includes('"configuration reloaded"'), 10_000);
    // Still the running store: limits shared as before.
    const r = await burstOf3([m.burst], 5);
    assert.equal(r.admitted, r.allowed, r.statuses.join(","));
    assert.ok(!output(m).includes(PASSWORD));
  } finally {
    await stopAll([m]);
    await mock.close();
    await redis.stop();
  }
}

Deno.test("fleet: SIGHUP with another state block says a restart is needed, keeps the store", async (t) => {
  for (const runtime of ["deno", "node"]) {
    await t.step(runtime, async () => sighupCase((await daemons(runtime))[0]!));
  }
});
