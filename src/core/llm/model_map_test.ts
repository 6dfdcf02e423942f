import assert from "node:assert/strict";
import { compileModelMap, mapModel, type ModelMap } from "./model_map.ts";

const MAP: ModelMap = [
  ["gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct"],
  ["gpt-4o*", "meta-llama/Llama-3.1-70B-Instruct"],
  ["*", "fallback"],
];

Deno.test("model map: first matching key in file order wins", () => {
  assert.equal(mapModel(MAP, "gpt-4o-mini"), "meta-llama/Llama-3.1-8B-Instruct");
  assert.equal(mapModel(MAP, "gpt-4o"), "meta-llama/Llama-3.1-70B-Instruct");
  assert.equal(mapModel(MAP, "o3"), "fallback");
  assert.equal(mapModel(MAP, ""), "fallback");
  const reversed: ModelMap = [["*", "any"], ["gpt-4o-mini", "never"]];
  assert.equal(mapModel(reversed, "gpt-4o-mini"), "any");
});

Deno.test("model map: no match or no model leaves the model alone", () => {
  const map: ModelMap = [["claude-*", "c"]];
  assert.equal(mapModel(map, "gpt-4o"), undefined);
  assert.equal(mapModel(map, undefined), undefined);
  assert.equal(mapModel([], "gpt-4o"), undefined);
  assert.equal(compileModelMap(map)("claude-3"), "c");
});

Deno.test("model map: an invalid glob is reported when compiled", () => {
  assert.throws(() => compileModelMap([["", "x"]]), /must not be empty/);
  assert.throws(() => mapModel([["a\nb", "x"]], "a"), /control characters/);
});
