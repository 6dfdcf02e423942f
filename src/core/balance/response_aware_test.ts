import assert from "node:assert/strict";
import { ewma, ResponseAwareBalancer, responseScore } from "./response_aware.ts";
import type { Member, MemberStats } from "./types.ts";

function setup(figures: Record<string, MemberStats>) {
  const members: Member[] = Object.keys(figures).map((name) => ({ name, weight: 1 }));
  const balancer = new ResponseAwareBalancer({
    members,
    stats: { stats: (m) => figures[m.name]! },
  });
  return { members, balancer };
}

Deno.test("response_aware prefers the lower latency member", () => {
  const { members, balancer } = setup({
    slow: { latencyMs: 300, successRate: 1, inFlight: 0 },
    fast: { latencyMs: 100, successRate: 1, inFlight: 0 },
  });
  for (let i = 0; i < 5; i++) assert.equal(balancer.pick(members)?.name, "fast");
});

Deno.test("response_aware weighs in-flight requests and success rate", () => {
  const { members, balancer } = setup({
    busy: { latencyMs: 100, successRate: 1, inFlight: 3 }, // 400
    flaky: { latencyMs: 100, successRate: 0.2, inFlight: 0 }, // 500
    steady: { latencyMs: 300, successRate: 1, inFlight: 0 }, // 300
  });
  assert.equal(balancer.pick(members)?.name, "steady");
  assert.equal(balancer.pick(members.slice(0, 2))?.name, "busy");
});

Deno.test("response_aware rotates among ties", () => {
  const initial = { latencyMs: 2000, successRate: 1, inFlight: 0 };
  const { members, balancer } = setup({ a: initial, b: initial, c: initial });
  const picks = Array.from({ length: 6 }, () => balancer.pick(members)?.name).join("");
  assert.equal(picks, "abcabc");
});

Deno.test("a zero success rate is floored, not divided by", () => {
  assert.ok(Number.isFinite(responseScore({ latencyMs: 10, successRate: 0, inFlight: 0 })));
  assert.equal(ewma(2000, 100), 1715);
});
