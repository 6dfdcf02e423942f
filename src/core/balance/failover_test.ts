import assert from "node:assert/strict";
import { FailoverBalancer } from "./failover.ts";

const primary = { name: "primary", weight: 1 };
const second = { name: "second", weight: 1 };
const third = { name: "third", weight: 1 };

Deno.test("failover picks the first available member in list order", () => {
  const f = new FailoverBalancer({ members: [primary, second, third] });
  assert.equal(f.pick([primary, second, third])?.name, "primary");
  assert.equal(f.pick([primary, second, third])?.name, "primary");
  assert.equal(f.pick([second, third])?.name, "second");
  assert.equal(f.pick([third, second])?.name, "second"); // order of the argument is irrelevant
  assert.equal(f.pick([third])?.name, "third");
  assert.equal(f.pick([primary, third])?.name, "primary");
  assert.equal(f.pick([]), undefined);
});
