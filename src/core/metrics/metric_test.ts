import assert from "node:assert/strict";
import { Counter, Gauge, Registry } from "./mod.ts";
import { childKey } from "./metric.ts";
import { escapeHelp, escapeLabelValue, formatNumber } from "./format.ts";

Deno.test("labels() returns the same cached child for the same values", () => {
  const c = new Counter({ name: "c_total", help: "C.", labelNames: ["a", "b"] as const });
  const child = c.labels("x", "y");
  assert.equal(c.labels("x", "y"), child);
  assert.notEqual(c.labels("x", "z"), child);
  child.inc();
  child.inc(4);
  assert.equal(c.labels("x", "y").value, 5);
  assert.equal(c.size, 2);
});

Deno.test("label values containing the key separator do not collide", () => {
  const c = new Counter({ name: "c_total", help: "C.", labelNames: ["a", "b"] as const });
  c.labels("a\u0000b", "c").inc(1);
  c.labels("a", "b\u0000c").inc(2);
  c.labels("", '["a\\u0000b","c"]').inc(4);
  assert.equal(c.size, 3);
  assert.equal(c.labels("a\u0000b", "c").value, 1);
  assert.equal(c.labels("a", "b\u0000c").value, 2);
  const keys = new Set([
    childKey(["a\u0000b", "c"]),
    childKey(["a", "b\u0000c"]),
    childKey(["", '["a\\u0000b","c"]']),
    childKey(["\u0000", ""]),
    childKey(["", "\u0000"]),
    childKey(["", ""]),
  ]);
  assert.equal(keys.size, 6);
});

Deno.test("labels() with the wrong number of values throws and says what was expected", () => {
  const c = new Counter({ name: "c_total", help: "C.", labelNames: ["a", "b"] as const });
  // @ts-expect-error: arity is checked by the type too
  assert.throws(() => c.labels("only"), /expected 2 label values \(a, b\), got 1/);
});

Deno.test("counters refuse to go down", () => {
  const c = new Counter({ name: "c_total", help: "C.", labelNames: [] }).labels();
  assert.throws(() => c.inc(-1), RangeError);
  assert.throws(() => c.inc(NaN), RangeError);
  c.inc(0);
  assert.equal(c.value, 0);
});

Deno.test("remove() drops a gauge series; a held child keeps working unexported", () => {
  const registry = new Registry();
  const g = registry.register(
    new Gauge({ name: "g", help: "G.", labelNames: ["group", "upstream"] as const }),
  );
  const held = g.labels("grp", "gone");
  held.inc();
  g.labels("grp", "kept").set(1);
  assert.equal(g.remove("grp", "gone"), true);
  assert.equal(g.remove("grp", "gone"), false);
  held.dec();
  assert.equal(held.value, 0);
  const text = registry.encode();
  assert.doesNotMatch(text, /gone/);
  assert.match(text, /^g\{group="grp",upstream="kept"\} 1$/m);
  // A re-added member starts from a fresh series.
  assert.notEqual(g.labels("grp", "gone"), held);
  g.clear();
  assert.equal(g.size, 0);
});

Deno.test("names are validated", () => {
  assert.throws(() => new Counter({ name: "bad-name", help: "", labelNames: [] }), /metric name/);
  assert.throws(
    () => new Counter({ name: "c_total", help: "", labelNames: ["__x"] }),
    /invalid label name/,
  );
  assert.throws(
    () => new Counter({ name: "c_total", help: "", labelNames: ["a", "a"] }),
    /appears twice/,
  );
});

Deno.test("format helpers", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  assert.equal(formatNumber(Infinity), "+Inf");
  assert.equal(formatNumber(-Infinity), "-Inf");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(1), "1");
  assert.equal(formatNumber(0.01), "0.01");
  assert.equal(formatNumber(-0), "0");
  assert.equal(Number(formatNumber(1e-7)), 1e-7);
});
