import assert from "node:assert/strict";
import { RoundRobinBalancer } from "./roundrobin.ts";

const [a, b, c] = ["a", "b", "c"].map((name) => ({ name, weight: 1 })) as [
  { name: string; weight: number },
  { name: string; weight: number },
  { name: string; weight: number },
];

function names(rr: RoundRobinBalancer, avail: { name: string; weight: number }[], n: number) {
  return Array.from({ length: n }, () => rr.pick(avail)?.name).join("");
}

Deno.test("roundrobin rotates in list order", () => {
  const rr = new RoundRobinBalancer({ members: [a, b, c] });
  assert.equal(names(rr, [a, b, c], 7), "abcabca");
});

Deno.test("roundrobin skips an unavailable member without breaking rotation", () => {
  const rr = new RoundRobinBalancer({ members: [a, b, c] });
  assert.equal(names(rr, [a, b, c], 1), "a");
  assert.equal(names(rr, [a, c], 3), "cac"); // b is skipped
  assert.equal(names(rr, [a, b, c], 4), "abca"); // b rejoins in its place
  assert.equal(rr.pick([]), undefined);
});

Deno.test("roundrobin continues after the last picked member across a rebuild", () => {
  const rr = new RoundRobinBalancer({ members: [a, b, c] });
  names(rr, [a, b, c], 2);
  const next = new RoundRobinBalancer({ members: [a, b, c], state: rr.toJSON() });
  assert.equal(names(next, [a, b, c], 2), "ca");
});
