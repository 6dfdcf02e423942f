import assert from "node:assert/strict";
import { ModelLabels } from "./model_labels.ts";

Deno.test("model labels: the first N distinct values, then other; none is unknown", () => {
  const l = new ModelLabels(3);
  assert.equal(l.label(undefined), "unknown");
  assert.equal(l.label("a"), "a");
  assert.equal(l.label("b"), "b");
  assert.equal(l.label("c"), "c");
  assert.equal(l.label("d"), "other");
  assert.equal(l.label("a"), "a");
  assert.equal(new ModelLabels().label("x".repeat(500)).length, 128);
});
