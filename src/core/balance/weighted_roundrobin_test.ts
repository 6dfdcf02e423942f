import assert from "node:assert/strict";
import { WeightedRoundRobinBalancer } from "./weighted_roundrobin.ts";

const a = { name: "a", weight: 8 };
const b = { name: "b", weight: 2 };

Deno.test("WRR 8/2 gives exactly 8 and 2 per 10 picks, interleaved, over many cycles", () => {
  const wrr = new WeightedRoundRobinBalancer({ members: [a, b] });
  let run = 0;
  let longest = 0;
  for (let cycle = 0; cycle < 50; cycle++) {
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 10; i++) {
      const m = wrr.pick([a, b])!;
      counts[m.name as "a" | "b"]++;
      run = m.name === "a" ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assert.deepEqual(counts, { a: 8, b: 2 }, `cycle ${cycle}`);
  }
  assert.ok(longest <= 5, `heavy member picked ${longest} times in a row`);
});

Deno.test("WRR 5/3/2 gives exact shares per cycle", () => {
  const ms = [{ name: "x", weight: 5 }, { name: "y", weight: 3 }, { name: "z", weight: 2 }];
  const wrr = new WeightedRoundRobinBalancer({ members: ms });
  for (let cycle = 0; cycle < 20; cycle++) {
    const counts: Record<string, number> = { x: 0, y: 0, z: 0 };
    for (let i = 0; i < 10; i++) counts[wrr.pick(ms)!.name]!++;
    assert.deepEqual(counts, { x: 5, y: 3, z: 2 });
  }
});

Deno.test("WRR only picks available members and resumes shares after a skip", () => {
  const c = { name: "c", weight: 1 };
  const wrr = new WeightedRoundRobinBalancer({ members: [a, b, c] });
  for (let i = 0; i < 20; i++) assert.notEqual(wrr.pick([a, c])!.name, "b");
  assert.equal(wrr.pick([]), undefined);
  // Back to all three (weights 8, 2, 1): shares settle back to their weights.
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 110; i++) counts[wrr.pick([a, b, c])!.name]!++;
  assert.ok(Math.abs(counts.a! - 80) <= 2 && Math.abs(counts.b! - 20) <= 2, JSON.stringify(counts));
});

Deno.test("WRR state round-trips by name", () => {
  const one = new WeightedRoundRobinBalancer({ members: [a, b] });
  for (let i = 0; i < 3; i++) one.pick([a, b]);
  const two = new WeightedRoundRobinBalancer({ members: [a, b], state: one.toJSON() });
  const rest1 = Array.from({ length: 7 }, () => one.pick([a, b])!.name);
  const rest2 = Array.from({ length: 7 }, () => two.pick([a, b])!.name);
  assert.deepEqual(rest2, rest1);
});
