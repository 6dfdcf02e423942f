/**
 * The isolate side of client limits on Workers ({@linkcode DurableClientLimiter}), over
 * fake Durable Object namespaces; the object itself runs in workerd in
 * tests/workers/workers_test.ts.
 */
import assert from "node:assert/strict";
import type { Logger } from "../../core/log/logger.ts";
import { MemoryClientLimiter } from "../../core/state/client_limiter.ts";
import type { ClientLimitsConfig } from "../../core/config/types.ts";
import type { ClientReservation } from "../../core/state/types.ts";
import type { ClientLimiterObject } from "./client_object.ts";
import { DurableClientLimiter, DurableStateStore } from "./state_store.ts";
import type { DurableObjectNamespace } from "./types.ts";

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function recorder(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  return { logger: { log: (level, msg, fields) => lines.push({ level, msg, fields }) }, lines };
}

/** A namespace whose objects answer from one in-memory limiter per name, or fail. */
function fakeNamespace(fail: () => boolean) {
  const objects = new Map<string, MemoryClientLimiter>();
  const calls: string[] = [];
  const ns = {
    idFromName: (name: string) => ({ toString: () => name }),
    get: (id: { toString(): string }) => {
      const name = id.toString();
      let o = objects.get(name);
      if (o === undefined) objects.set(name, o = new MemoryClientLimiter());
      const obj = o;
      const call = <T>(what: string, fn: () => T): Promise<T> => {
        calls.push(`${name}:${what}`);
        return fail() ? Promise.reject(new Error("object unreachable")) : Promise.resolve(fn());
      };
      return {
        admit: (client: string, limits: ClientLimitsConfig, estimate: number) =>
          call("admit", () => structuredClone(obj.admitNow(client, limits, estimate))),
        settle: (r: ClientReservation, used: number | undefined) =>
          call("settle", () => obj.settleNow(structuredClone(r), used)),
        usage: (client: string) => call("usage", () => obj.usageNow(client)),
      };
    },
  } as unknown as DurableObjectNamespace<ClientLimiterObject>;
  return { ns, objects, calls };
}

Deno.test("durable client limits: one object per client name; a settle is sent once", async () => {
  const { ns, calls } = fakeNamespace(() => false);
  const { logger } = recorder();
  const limiter = new DurableClientLimiter(ns, logger);
  const limits = { tokens_per_minute: 100 };
  const a = await limiter.admit("team-a", limits, 60);
  assert.ok(a.allowed);
  assert.deepEqual(await limiter.admit("team-a", limits, 50), {
    allowed: false,
    reason: "tokens_rate_limited",
    retryAfterMs: 1_000,
  });
  assert.equal((await limiter.admit("team-b", limits, 50)).allowed, true);
  await limiter.settle(a.reservation, 10);
  await limiter.settle(a.reservation, 10);
  assert.deepEqual(await limiter.usage("team-a"), {
    requests_last_minute: 1,
    tokens_last_minute: 10,
    tokens_today: 10,
  });
  assert.deepEqual(calls, [
    "client\u0000team-a:admit",
    "client\u0000team-a:admit",
    "client\u0000team-b:admit",
    "client\u0000team-a:settle",
    "client\u0000team-a:usage",
  ]);
});

Deno.test("durable client limits: an unreachable object admits, logs, and gets the usage later", async () => {
  let down = true;
  const { ns } = fakeNamespace(() => down);
  const { logger, lines } = recorder();
  const limiter = new DurableClientLimiter(ns, logger);
  const limits = { tokens_per_day: 100 };
  const admitted = [];
  for (let i = 0; i < 3; i++) {
    const a = await limiter.admit("team-a", limits, 40);
    assert.ok(a.allowed, "fail open");
    admitted.push(a.reservation);
  }
  // Logged once (then at most every 10 s), naming the client, never failing the request.
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, "warn");
  assert.equal(lines[0]!.fields?.client_name, "team-a");
  await assert.rejects(limiter.usage("team-a"), /unreachable/);

  // The object is back when the answers end: their usage counts (once each).
  down = false;
  for (const r of admitted) {
    await limiter.settle(r, 30);
    await limiter.settle({ client: r.client, id: r.id, tokens: r.tokens }, 30);
  }
  assert.equal((await limiter.usage("team-a")).tokens_today, 90);
  assert.equal((await limiter.admit("team-a", limits, 11)).allowed, false);
  assert.equal((await limiter.admit("team-a", limits, 10)).allowed, true);
});

Deno.test("durable state store: without a CLIENT_LIMITS binding, limits stay in the isolate", async () => {
  const { logger, lines } = recorder();
  const never = {} as never;
  const store = new DurableStateStore({ rateLimiter: never, groups: never }, logger);
  assert.ok(store.clients instanceof MemoryClientLimiter);
  assert.match(lines[0]?.msg ?? "", /CLIENT_LIMITS missing/);
  const a = await store.clients.admit("x", { requests_per_minute: 1 }, 0);
  assert.ok(a.allowed);
  assert.equal((await store.clients.admit("x", { requests_per_minute: 1 }, 0)).allowed, false);
});
