import assert from "node:assert/strict";
import type { Strategy } from "../config/types.ts";
import { createBalancer } from "./create_balancer.ts";

Deno.test("createBalancer builds every strategy", () => {
  const members = [{ name: "a", weight: 1 }];
  const stats = { stats: () => ({ latencyMs: 1, successRate: 1, inFlight: 0 }) };
  const strategies: Strategy[] = [
    "roundrobin",
    "weighted_roundrobin",
    "random",
    "failover",
    "response_aware",
  ];
  for (const s of strategies) {
    const b = createBalancer(s, { members, stats });
    assert.equal(b.strategy, s);
    assert.equal(b.pick(members)?.name, "a");
    assert.equal(b.pick([]), undefined);
  }
  assert.throws(() => createBalancer("nope" as Strategy, { members }), /unknown balance strategy/);
});
