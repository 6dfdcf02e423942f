import assert from "node:assert/strict";
import { MAX_MODEL_GLOB_LENGTH, modelGlob, modelGlobProblem } from "./model_glob.ts";
import { prng } from "./_test_helpers.ts";

Deno.test("model glob: literal, prefix, suffix, infix and star-only patterns", () => {
  const cases: Array<[string, string, boolean]> = [
    ["gpt-4o", "gpt-4o", true],
    ["gpt-4o", "gpt-4o-mini", false],
    ["gpt-4o", "GPT-4o", false],
    ["gpt-4o*", "gpt-4o", true],
    ["gpt-4o*", "gpt-4o-mini", true],
    ["gpt-4o*", "xgpt-4o", false],
    ["*-mini", "gpt-4o-mini", true],
    ["*-mini", "gpt-4o-mini-2024", false],
    ["claude-*-sonnet", "claude-3-5-sonnet", true],
    ["claude-*-sonnet", "claude--sonnet", true],
    ["claude-*-sonnet", "claude-sonnet", false],
    ["*", "", true],
    ["*", "anything", true],
    ["**", "x", true],
    ["a*b*c", "abc", true],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "acb", false],
    ["a*b*c", "abcb", false],
    ["ab*ba", "aba", false],
    ["ab*ba", "abba", true],
    ["*a*a*", "aa", true],
    ["*a*a*", "a", false],
    ["x*yy*y", "xyyy", true],
    ["x*yy*y", "xyy", false],
    ["a.b", "aXb", false],
    ["a+b(c)?[d]", "a+b(c)?[d]", true],
    ["$^\\", "$^\\", true],
    ["中*文", "中间文", true],
    ["😀*", "😀x", true],
  ];
  for (const [glob, model, want] of cases) {
    assert.equal(modelGlob(glob)(model), want, `${glob} vs ${model}`);
  }
});

Deno.test("model glob agrees with a regex reference on random inputs", () => {
  const r = prng(7);
  const alphabet = ["a", "b", "-", "*"];
  const modelAlphabet = ["a", "b", "-"];
  for (let n = 0; n < 5000; n++) {
    let glob = "";
    for (let i = 1 + Math.floor(r() * 7); i > 0; i--) {
      glob += alphabet[Math.floor(r() * 4)];
    }
    let model = "";
    for (let i = Math.floor(r() * 9); i > 0; i--) model += modelAlphabet[Math.floor(r() * 3)];
    const re = new RegExp(`^${glob.replaceAll("-", "\\-").replaceAll("*", ".*")}$`, "s");
    assert.equal(modelGlob(glob)(model), re.test(model), `${glob} vs ${model}`);
  }
});

Deno.test("model glob: hostile input stays fast", () => {
  const glob = `${"a*".repeat(120)}b`;
  const model = "a".repeat(1_000_000);
  const t0 = performance.now();
  assert.equal(modelGlob(glob)(model), false);
  assert.equal(modelGlob("*a*a*a*a*a*a*a*a*a*a*b")(model), false);
  // Prefix and suffix fit, the middle pieces are searched once each, left to right.
  assert.equal(modelGlob(`${"a*".repeat(120)}c*b`)(`${model}b`), false);
  assert.equal(modelGlob(`${"a*".repeat(120)}b`)(`${model}b`), true);
  assert.ok(performance.now() - t0 < 500, "glob matching took too long");
});

Deno.test("model glob problems say what is wrong", () => {
  assert.equal(modelGlobProblem("gpt-4o*"), undefined);
  assert.equal(modelGlobProblem("x".repeat(MAX_MODEL_GLOB_LENGTH)), undefined);
  assert.equal(modelGlobProblem("😀".repeat(MAX_MODEL_GLOB_LENGTH)), undefined);
  assert.match(modelGlobProblem("")!, /must not be empty/);
  assert.match(
    modelGlobProblem("x".repeat(MAX_MODEL_GLOB_LENGTH + 1))!,
    /at most 256 characters long, got 257/,
  );
  assert.match(modelGlobProblem("gpt\t4")!, /control characters, found U\+0009 at character 4/);
  assert.match(modelGlobProblem("a\u007f")!, /U\+007F/);
  assert.match(modelGlobProblem("a\u0085")!, /U\+0085/);
  assert.match(modelGlobProblem(null as unknown as string)!, /must be a string, got null/);
  assert.throws(() => modelGlob(""), { name: "TypeError", message: /must not be empty: ""/ });
});
