import assert from "node:assert/strict";
import { RandomBalancer } from "./random.ts";

const ms = ["a", "b", "c", "d"].map((name) => ({ name, weight: 1 }));

Deno.test("random stays among available members and covers them uniformly", () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const r = new RandomBalancer({ members: ms, random });
  const available = [ms[0]!, ms[2]!, ms[3]!];
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const m = r.pick(available)!;
    counts.set(m.name, (counts.get(m.name) ?? 0) + 1);
  }
  assert.equal(counts.has("b"), false);
  for (const name of ["a", "c", "d"]) {
    const n = counts.get(name) ?? 0;
    assert.ok(n > 850 && n < 1150, `${name}: ${n}`);
  }
});

Deno.test("random maps the source's range onto indices, including edge values", () => {
  const pick = (x: number) => new RandomBalancer({ members: ms, random: () => x }).pick(ms)?.name;
  assert.equal(pick(0), "a");
  assert.equal(pick(0.26), "b");
  assert.equal(pick(0.999999), "d");
  assert.equal(pick(1), "d"); // a misbehaving source never indexes past the end
  assert.equal(new RandomBalancer({ members: ms }).pick([]), undefined);
});
