import assert from "node:assert/strict";
import { DURATION_BUCKETS, Histogram, Registry } from "./mod.ts";
import { SPEC_BUCKET_LES } from "../../../tests/spec_metrics.ts";

function bucketLines(text: string): Array<[string, number]> {
  return [...text.matchAll(/_bucket\{.*le="([^"]+)"\} (\S+)/g)].map((
    m,
  ) => [m[1]!, Number(m[2])]);
}

Deno.test("histogram buckets are cumulative and end at +Inf = count", () => {
  const registry = new Registry();
  const h = registry.register(
    new Histogram({
      name: "t_seconds",
      help: "T.",
      labelNames: ["k"] as const,
      buckets: DURATION_BUCKETS,
    }),
  );
  const child = h.labels("v");
  const samples = [0.001, 0.01, 0.011, 0.3, 0.3, 1, 4.9, 59, 299, 300, 301, 1e6];
  for (const s of samples) child.observe(s);

  const lines = bucketLines(registry.encode());
  assert.deepEqual(
    lines.map(([le]) => le),
    [...DURATION_BUCKETS.map(String), "+Inf"],
  );
  let previous = 0;
  for (const [le, count] of lines) {
    assert.ok(count >= previous, `bucket le=${le} went down`);
    const bound = le === "+Inf" ? Infinity : Number(le);
    assert.equal(count, samples.filter((s) => s <= bound).length, `bucket le=${le}`);
    previous = count;
  }
  assert.equal(previous, samples.length);
  assert.equal(child.count, samples.length);
  assert.equal(child.sum, samples.reduce((a, b) => a + b, 0));
  assert.deepEqual(child.cumulativeCounts(), lines.map(([, c]) => c));
});

Deno.test("DURATION_BUCKETS format as Prometheus expects them", () => {
  const h = new Histogram({
    name: "b_seconds",
    help: "B.",
    labelNames: [],
    buckets: DURATION_BUCKETS,
  });
  const out: string[] = [];
  h.encodeTo(out);
  assert.deepEqual(bucketLines(out.join("\n")).map(([le]) => le), SPEC_BUCKET_LES);
});

Deno.test("NaN goes to +Inf; a listed +Inf bound is implied, not doubled", () => {
  const h = new Histogram({
    name: "n_seconds",
    help: "N.",
    labelNames: [],
    buckets: [1, Infinity],
  });
  assert.deepEqual(h.buckets, [1]);
  const child = h.labels();
  child.observe(NaN);
  assert.deepEqual(child.cumulativeCounts(), [0, 1]);
  assert.equal(child.count, 1);
});

Deno.test("histogram rejects unordered buckets and an le label", () => {
  assert.throws(
    () => new Histogram({ name: "x_seconds", help: "X.", labelNames: [], buckets: [1, 1] }),
    /strictly increasing/,
  );
  assert.throws(
    () => new Histogram({ name: "x_seconds", help: "X.", labelNames: [], buckets: [NaN] }),
    /strictly increasing/,
  );
  assert.throws(
    () => new Histogram({ name: "x_seconds", help: "X.", labelNames: ["le"], buckets: [1] }),
    /reserved/,
  );
});
