import assert from "node:assert/strict";
import { applySseEvent, hasTokens, modelOf, readUsage, type TokenTally } from "./usage_shapes.ts";

Deno.test("readUsage reads every API's names", () => {
  const chat: TokenTally = {};
  assert.equal(
    readUsage({
      prompt_tokens: 10,
      completion_tokens: 20,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 8 },
    }, chat),
    true,
  );
  assert.deepEqual(chat, { input: 10, output: 20, cachedInput: 4, reasoning: 8 });
  const responses: TokenTally = {};
  readUsage({
    input_tokens: 1,
    output_tokens: 2,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens_details: { reasoning_tokens: 1 },
  }, responses);
  assert.deepEqual(responses, { input: 1, output: 2, cachedInput: 0, reasoning: 1 });
  const anthropic: TokenTally = {};
  readUsage({ input_tokens: 5, output_tokens: 6, cache_read_input_tokens: 7 }, anthropic);
  assert.deepEqual(anthropic, { input: 5, output: 6, cachedInput: 7 });
});

Deno.test("readUsage takes only non-negative safe integers, and only own fields", () => {
  const t: TokenTally = {};
  assert.equal(
    readUsage({ prompt_tokens: -1, completion_tokens: 1.5, input_tokens: "3" }, t),
    false,
  );
  assert.equal(readUsage({ output_tokens: 2 ** 53 }, t), false);
  assert.equal(readUsage(null, t), false);
  assert.equal(readUsage([1, 2], t), false);
  const hostile = JSON.parse('{"__proto__":{"prompt_tokens":9},"constructor":{}}');
  assert.equal(readUsage(hostile, t), false);
  assert.deepEqual(t, {});
  assert.equal(hasTokens(t), false);
  assert.equal(hasTokens({ cachedInput: 0 }), true);
});

Deno.test("applySseEvent follows each API's events", () => {
  const t: TokenTally = {};
  applySseEvent(
    {
      type: "message_start",
      message: { usage: { input_tokens: 3, output_tokens: 1, cache_read_input_tokens: 2 } },
    },
    undefined,
    t,
  );
  assert.deepEqual(
    t,
    { input: 3, cachedInput: 2 },
    "message_start's output is not yet the answer's",
  );
  applySseEvent({ type: "message_delta", usage: { output_tokens: 5 } }, undefined, t);
  applySseEvent({ type: "message_delta", usage: { output_tokens: 9 } }, undefined, t);
  assert.deepEqual(t, { input: 3, cachedInput: 2, output: 9 });
  const r: TokenTally = {};
  applySseEvent(
    { response: { usage: { input_tokens: 1, output_tokens: 2 } } },
    "response.completed",
    r,
  );
  applySseEvent(
    { type: "response.in_progress", response: { usage: { input_tokens: 50 } } },
    undefined,
    r,
  );
  assert.deepEqual(r, { input: 1, output: 2 });
  const c: TokenTally = {};
  applySseEvent({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } }, undefined, c);
  applySseEvent({ choices: [], usage: null }, undefined, c);
  applySseEvent("[DONE]", undefined, c);
  assert.deepEqual(c, { input: 1, output: 2 });
});

Deno.test("modelOf reads the three places a model is written", () => {
  assert.equal(modelOf({ model: "a" }), "a");
  assert.equal(modelOf({ response: { model: "b" } }), "b");
  assert.equal(modelOf({ message: { model: "c" } }), "c");
  assert.equal(modelOf({ model: 1 }), undefined);
  assert.equal(modelOf(null), undefined);
  assert.equal(modelOf(JSON.parse('{"__proto__":{"model":"x"}}')), undefined);
});
