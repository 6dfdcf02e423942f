import assert from "node:assert/strict";
import { createBalancer } from "./create_balancer.ts";
import { LeastRequestsBalancer } from "./least_requests.ts";
import { seededRandom } from "./_test_helpers.ts";
import type { Member, MemberStats } from "./types.ts";

/** Members with mutable figures, and a balancer reading them. */
function setup(weights: Record<string, number>, seed = 1) {
  const members: Member[] = Object.entries(weights).map(([name, weight]) => ({ name, weight }));
  const figures = new Map<string, { latencyMs: number; successRate: number; inFlight: number }>(
    members.map((m) => [m.name, { latencyMs: 2000, successRate: 1, inFlight: 0 }]),
  );
  const stats = { stats: (m: Member): MemberStats => figures.get(m.name)! };
  const balancer = new LeastRequestsBalancer({ members, stats, random: seededRandom(seed) });
  return { members, figures, balancer };
}

function count(picks: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p ?? "none"] = (out[p ?? "none"] ?? 0) + 1;
  return out;
}

Deno.test("least_requests avoids a member holding many requests in flight", () => {
  const { members, figures, balancer } = setup({ a: 1, b: 1, c: 1, d: 1 });
  figures.get("b")!.inFlight = 50;
  const picks = count(Array.from({ length: 4000 }, () => balancer.pick(members)?.name));
  // b wins only when both draws are b, which distinct draws never allow.
  assert.equal(picks.b, undefined, JSON.stringify(picks));
  for (const name of ["a", "c", "d"]) {
    assert.ok(picks[name]! > 1100 && picks[name]! < 1570, JSON.stringify(picks));
  }
});

Deno.test("least_requests follows in-flight counts as they change", () => {
  const { members, figures, balancer } = setup({ a: 1, b: 1 });
  // Two members: both are always drawn, so the less loaded one always wins.
  for (let i = 0; i < 100; i++) {
    const m = balancer.pick(members)!;
    figures.get(m.name)!.inFlight++;
    const [fa, fb] = [figures.get("a")!.inFlight, figures.get("b")!.inFlight];
    assert.ok(Math.abs(fa - fb) <= 1, `after ${i + 1}: a=${fa} b=${fb}`);
  }
});

Deno.test("least_requests breaks in-flight ties by lower latency EWMA", () => {
  const { members, figures, balancer } = setup({ slow: 1, fast: 1 });
  figures.get("slow")!.latencyMs = 900;
  figures.get("fast")!.latencyMs = 300;
  for (let i = 0; i < 50; i++) assert.equal(balancer.pick(members)?.name, "fast");
  // Fewer in flight beats lower latency.
  figures.get("fast")!.inFlight = 1;
  for (let i = 0; i < 50; i++) assert.equal(balancer.pick(members)?.name, "slow");
});

Deno.test("least_requests respects weights when members are equally loaded", () => {
  const { members, balancer } = setup({ a: 1, b: 1, c: 2 }, 7);
  const n = 20_000;
  const picks = count(Array.from({ length: n }, () => balancer.pick(members)?.name));
  // On a full tie the first weighted draw wins: shares are weight / Σ weights.
  const expect = { a: 0.25, b: 0.25, c: 0.5 };
  for (const [name, share] of Object.entries(expect)) {
    const got = picks[name]! / n;
    assert.ok(Math.abs(got - share) < 0.02, `${name}: ${got} (all: ${JSON.stringify(picks)})`);
  }
});

Deno.test("least_requests draws candidates by weight", () => {
  // Every member but z holds one request: z wins whenever it is one of the two draws,
  // so its share is P(z drawn) = 1 − P(neither draw is z), which grows with its weight.
  const light = setup({ x: 1, y: 1, w: 1, z: 1 }, 3);
  const heavy = setup({ x: 1, y: 1, w: 1, z: 4 }, 3);
  for (const s of [light, heavy]) {
    for (const name of ["x", "y", "w"]) s.figures.get(name)!.inFlight = 1;
  }
  const n = 20_000;
  const share = (s: typeof light) =>
    (count(Array.from({ length: n }, () => s.balancer.pick(s.members)?.name)).z ?? 0) / n;
  // Weights 1,1,1,1: 1 − (3/4)(2/3) = 0.5. Weights 1,1,1,4: 1 − (3/7)(2/6) = 6/7.
  assert.ok(Math.abs(share(light) - 0.5) < 0.02, `light ${share(light)}`);
  assert.ok(Math.abs(share(heavy) - 6 / 7) < 0.02, `heavy ${share(heavy)}`);
});

Deno.test("least_requests never picks an unavailable member", () => {
  const { members, figures, balancer } = setup({ a: 1, b: 5, c: 1, d: 3 }, 11);
  // b and d are unavailable (not offered) and look idle and fast: still never chosen.
  figures.get("a")!.inFlight = 9;
  figures.get("c")!.inFlight = 9;
  const available = [members[0]!, members[2]!];
  for (let i = 0; i < 1000; i++) {
    const name = balancer.pick(available)?.name;
    assert.ok(name === "a" || name === "c", name);
  }
  assert.equal(balancer.pick([members[3]!])?.name, "d"); // one available: that one
  assert.equal(balancer.pick([]), undefined);
});

Deno.test("least_requests draws two distinct members even from edge random values", () => {
  for (const r of [0, 0.5, 0.999999, 1, -1, NaN]) {
    const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
    const seen: string[] = [];
    const lr = new LeastRequestsBalancer({
      members,
      random: () => r,
      stats: {
        stats: (m) => {
          seen.push(m.name);
          return { latencyMs: 1, successRate: 1, inFlight: 0 };
        },
      },
    });
    assert.ok(lr.pick(members) !== undefined, `r=${r}`);
    assert.deepEqual([...seen].sort(), ["a", "b"], `r=${r}: compared ${seen}`);
  }
});

Deno.test("createBalancer builds least_requests, which needs stats", () => {
  const members = [{ name: "a", weight: 1 }];
  const stats = { stats: () => ({ latencyMs: 1, successRate: 1, inFlight: 0 }) };
  const b = createBalancer("least_requests", { members, stats });
  assert.equal(b.strategy, "least_requests");
  assert.equal(b.pick(members)?.name, "a");
  assert.deepEqual(b.toJSON(), {});
  assert.throws(() => createBalancer("least_requests", { members }), /stats source/);
});
