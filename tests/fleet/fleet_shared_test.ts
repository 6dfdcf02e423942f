/**
 * A fleet of daemons on one Redis, step 2 of issue 13 (docs/behaviour.md#redis): breakers (their
 * opening and the single half-open probe) and admin changes are the fleet's. Every
 * process is the test's own and is stopped by PID. Every case runs as one step per runtime
 * combination (on Deno, mixed either way, on Node); the Node daemon is a bundle built once
 * for this file.
 */
import assert from "node:assert/strict";
import { type DaemonCommand, delay, mockStats, startMock } from "../conformance/harness.ts";
import { fetchAll } from "../deadline.ts";
import { RedisServer } from "./redis_server.ts";
import {
  daemons,
  type Member,
  output,
  PAIRINGS,
  post,
  startMember,
  startMembers,
  stopAll,
} from "./lib.ts";

const PASSWORD = "fleet-pa55word-2";
const API = "/api/v1";

/** Requests the mock has answered. */
async function hits(m: { url: string }): Promise<number> {
  return (await mockStats(m as never)).requests ?? 0;
}

/** A breaker opened through A stops B within 1 s; after the cooldown one probe in the fleet. */
async function breakerCase(commands: readonly DaemonCommand[]): Promise<void> {
  assert.equal(commands.length, 2, "a fleet of two");
  const redis = await RedisServer.start({ password: PASSWORD });
  const mock = startMock({ name: "brk", outputTokens: 0 });
  const members: (Member | undefined)[] = [];
  try {
    const options = { breaker: { threshold: 1, cooldown: 2 } };
    const [a, b] = await startMembers(commands, redis, mock, options, members);
    // Both closed and serving.
    assert.deepEqual([(await post(a!.main)).status, (await post(b!.main)).status], [200, 200]);

    // Five failures in a row through A open A's breaker.
    for (let i = 0; i < 5; i++) {
      const r = await post(a!.main, { headers: { "x-mock-status": "500" } });
      assert.equal(r.status, 500, JSON.stringify(r));
    }
    const openedAt = performance.now();
    assert.equal((await post(a!.main)).status, 503, "A's breaker is open");

    // B stops calling the upstream within 1 s.
    let refusedAfter = -1;
    while (performance.now() - openedAt < 1_500) {
      const r = await post(b!.main);
      if (r.status === 503) {
        refusedAfter = performance.now() - openedAt;
        break;
      }
      await delay(20);
    }
    assert.ok(refusedAfter >= 0 && refusedAfter < 1_000, `B refused after ${refusedAfter} ms`);
    console.log(`  open on B after ${refusedAfter.toFixed(0)} ms`);
    const before = await hits(mock);
    for (let i = 0; i < 4; i++) assert.equal((await post(i % 2 ? a!.main : b!.main)).status, 503);
    assert.equal(await hits(mock), before, "no call reached the upstream while open");

    // Cooldown over: six requests at once, three per instance; one probe in the fleet.
    await delay(Math.max(0, 2_400 - (performance.now() - openedAt)));
    const probeStart = await hits(mock);
    const answers = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => post(i % 2 ? a!.main : b!.main, { headers: { "x-mock-latency": "600" } }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    assert.equal(await hits(mock) - probeStart, 1, `one probe: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 200).length, 1, String(statuses));
    assert.equal(statuses.filter((s) => s === 503).length, 5, String(statuses));

    // The probe succeeded: closed on both within 1 s.
    const closedAt = performance.now();
    let both = false;
    while (performance.now() - closedAt < 1_500) {
      const r = [(await post(a!.main)).status, (await post(b!.main)).status];
      if (r[0] === 200 && r[1] === 200) {
        both = true;
        break;
      }
      await delay(50);
    }
    assert.ok(both, "closed on both after the probe");
    assert.ok(performance.now() - closedAt < 1_000, `closed after ${performance.now() - closedAt}`);
    for (const m of members) assert.ok(!output(m!).includes(PASSWORD), "password in the output");
  } finally {
    await stopAll(members);
    await mock.close();
    await redis.stop();
  }
}

/** An admin PATCH on A is live on B within 1.5 s, and on C started afterwards. */
async function adminCase(commands: readonly DaemonCommand[]): Promise<void> {
  assert.equal(commands.length, 3, "A, B and a later C");
  const redis = await RedisServer.start({ password: PASSWORD });
  const mockU = startMock({ name: "u", outputTokens: 0 });
  const mockV = startMock({ name: "v", outputTokens: 0 });
  const members: (Member | undefined)[] = [];
  const members_ = (m: Member) => {
    members.push(m);
    return m;
  };
  const groupMembers = async (m: Member): Promise<string[]> => {
    const r = await fetchAll(`${m.admin}${API}/upstream-groups/g`, { deadlineMs: 2_000 });
    const text = r.text();
    assert.ok(!text.includes(PASSWORD), "password in an admin answer");
    const body = JSON.parse(text);
    const g = body.data ?? body;
    return (g.upstreams as { name: string }[]).map((u) => u.name);
  };
  const answeredBy = async (base: string): Promise<string | null> => {
    const r = await fetchAll(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
      deadlineMs: 5_000,
    });
    return r.headers.get("x-mock-name");
  };
  try {
    const options = { spareUrl: mockV.url };
    const started = await startMembers(commands.slice(0, 2), redis, mockU, options, members);
    const a = started[0]!;
    const b = started[1]!;
    assert.deepEqual(await groupMembers(b), ["u"]);
    assert.equal(await answeredBy(b.main), "u");

    const patched = await fetchAll(`${a.admin}${API}/upstream-groups/g`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ upstreams: [{ name: "v" }] }),
      deadlineMs: 5_000,
    });
    assert.equal(patched.status, 200, patched.text());
    const changedAt = performance.now();
    let liveAfter = -1;
    while (performance.now() - changedAt < 3_000) {
      if ((await groupMembers(b)).join() === "v") {
        liveAfter = performance.now() - changedAt;
        break;
      }
      await delay(25);
    }
    assert.ok(liveAfter >= 0 && liveAfter < 1_500, `live on B after ${liveAfter} ms`);
    console.log(`  live on B after ${liveAfter.toFixed(0)} ms`);
    assert.equal(await answeredBy(b.main), "v");
    // B keeps its own listeners: A's ports are not B's.
    const fw = (await fetchAll(`${b.admin}${API}/forwards/main`, { deadlineMs: 2_000 })).text();
    assert.ok(fw.includes(`"port":${new URL(b.main).port}`), fw);

    // A third instance, started afterwards from the same file, runs the stored change.
    const c = members_(await startMember(commands[2]!, redis, mockU, options));
    assert.deepEqual(await groupMembers(c), ["v"]);
    assert.equal(await answeredBy(c.main), "v");
    // What Redis keeps has no state block, so no Redis URL nor its password.
    const stored = await redis.command("HGET", "fleet:config", "json");
    assert.ok(stored.includes('"upstream_groups"') && !stored.includes(PASSWORD), stored);
    assert.ok(!stored.includes('"state"'), "the state block is not stored");

    // SIGHUP: the file applies to that instance only, the others keep the stored change.
    c.daemon.signal("SIGHUP");
    await c.daemon.waitFor((l) => l.includes('"configuration reloaded"'), 10_000);
    assert.deepEqual(await groupMembers(c), ["u"]);
    await delay(700);
    assert.deepEqual([await groupMembers(a), await groupMembers(b)], [["v"], ["v"]]);
    for (const m of members) assert.ok(!output(m!).includes(PASSWORD), "password in the output");
    assert.ok(
      b.daemon.lines.some((l) => l.includes('"configuration changed on another instance"')),
    );
  } finally {
    await stopAll(members);
    await mockU.close();
    await mockV.close();
    await redis.stop();
  }
}

Deno.test("fleet: a breaker opened on A stops B within 1 s; one probe in the fleet", async (t) => {
  for (const pairing of [...PAIRINGS, "node + deno"]) {
    await t.step(pairing, async () => breakerCase(await daemons(pairing)));
  }
});

Deno.test("fleet: an admin PATCH on A is live on B within 1.5 s and on a later C", async (t) => {
  for (const trio of ["deno + deno + deno", "node + deno + node", "node + node + node"]) {
    await t.step(trio, async () => adminCase(await daemons(trio)));
  }
});
