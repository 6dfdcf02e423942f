import assert from "node:assert/strict";
import { createBalancer } from "../create_balancer.ts";
import { seededRandom } from "../_test_helpers.ts";
import type { Member, MemberStats } from "../types.ts";
import { HashBalancer } from "./hash_balancer.ts";
import { rendezvousPick } from "./rendezvous.ts";

function setup(seed = 1) {
  const members: Member[] = ["a", "b", "c", "d"].map((name) => ({ name, weight: 1 }));
  const inFlight = new Map(members.map((m) => [m.name, 0]));
  const stats = {
    stats: (m: Member): MemberStats => ({
      latencyMs: 100,
      successRate: 1,
      inFlight: inFlight.get(m.name)!,
    }),
  };
  const balancer = new HashBalancer({ members, stats, random: seededRandom(seed) });
  return { members, inFlight, balancer };
}

Deno.test("hash sends a key to its rendezvous member, regardless of load", () => {
  const { members, inFlight, balancer } = setup();
  for (let i = 0; i < 200; i++) {
    const key = `user-${i}`;
    const owner = rendezvousPick(members, key)!.name;
    inFlight.set(owner, 100); // affinity wins over load: the cache is worth more
    assert.equal(balancer.pick(members, key)?.name, owner);
    assert.equal(balancer.pick(members, key)?.name, owner);
    inFlight.set(owner, 0);
  }
});

Deno.test("hash never picks an unavailable member; its keys return when it does", () => {
  const { members, balancer } = setup();
  const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
  const before = keys.map((k) => balancer.pick(members, k)!.name);
  const available = members.filter((m) => m.name !== "b");
  const during = keys.map((k) => balancer.pick(available, k)!.name);
  keys.forEach((_, i) => {
    assert.notEqual(during[i], "b");
    if (before[i] !== "b") assert.equal(during[i], before[i]);
  });
  assert.deepEqual(keys.map((k) => balancer.pick(members, k)!.name), before);
  assert.equal(balancer.pick([], "k"), undefined);
});

Deno.test("hash without a key balances as least_requests", () => {
  const { members, inFlight, balancer } = setup(3);
  inFlight.set("c", 40);
  for (const key of [undefined, ""]) {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const name = balancer.pick(members, key)!.name;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    // Spread over the idle members (not one fixed member), never the busy one.
    assert.equal(counts.c, undefined, JSON.stringify(counts));
    for (const name of ["a", "b", "d"]) {
      assert.ok(counts[name]! > 800 && counts[name]! < 1200, JSON.stringify(counts));
    }
  }
});

Deno.test("createBalancer builds hash, which needs stats", () => {
  const members = [{ name: "a", weight: 1 }, { name: "b", weight: 2 }];
  const stats = { stats: () => ({ latencyMs: 1, successRate: 1, inFlight: 0 }) };
  const b = createBalancer("hash", { members, stats });
  assert.equal(b.strategy, "hash");
  assert.equal(b.pick(members, "user-42")?.name, rendezvousPick(members, "user-42")?.name);
  assert.deepEqual(b.toJSON(), {});
  assert.throws(() => createBalancer("hash", { members }), /stats source/);
});
