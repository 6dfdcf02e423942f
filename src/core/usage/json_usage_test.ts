import assert from "node:assert/strict";
import { JsonUsageScanner, readJsonUsage } from "./json_usage.ts";
import {
  ANTHROPIC_JSON,
  ANTHROPIC_JSON_EXPECTED,
  OPENAI_CHAT_JSON,
  OPENAI_CHAT_JSON_EXPECTED,
  prng,
  randomChunks,
  RESPONSES_JSON,
  RESPONSES_JSON_EXPECTED,
} from "./_test_helpers.ts";
import type { UsageReport } from "./usage_shapes.ts";

const enc = new TextEncoder();

function scanAll(chunks: Uint8Array[], options = {}): UsageReport {
  const s = new JsonUsageScanner(options);
  for (const c of chunks) s.scan(c);
  return s.end();
}

const ANSWERS = [
  ["OpenAI chat", OPENAI_CHAT_JSON, OPENAI_CHAT_JSON_EXPECTED],
  ["Responses", RESPONSES_JSON, RESPONSES_JSON_EXPECTED],
  ["Anthropic", ANTHROPIC_JSON, ANTHROPIC_JSON_EXPECTED],
] as const;

Deno.test("JSON: the three APIs' answers", () => {
  for (const [name, text, expected] of ANSWERS) {
    assert.deepEqual(scanAll([enc.encode(text)]), expected, name);
    // What JSON.parse would say, as a cross-check of the byte walk.
    const parsed = JSON.parse(text);
    assert.equal(expected.model, parsed.model);
  }
});

Deno.test("JSON: split at every byte position, and random chunkings", () => {
  const random = prng(99);
  for (const [name, text, expected] of ANSWERS) {
    const bytes = enc.encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = scanAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(r, expected, `${name} cut at ${cut}`);
    }
    for (let round = 0; round < 100; round++) {
      assert.deepEqual(scanAll(randomChunks(bytes, random)), expected, `${name} round ${round}`);
    }
  }
});

Deno.test("JSON: Content-Length sizes the copy; a wrong one does no harm", () => {
  const bytes = enc.encode(OPENAI_CHAT_JSON);
  for (const contentLength of [bytes.length, 10, bytes.length * 3]) {
    assert.deepEqual(scanAll([bytes], { contentLength }), OPENAI_CHAT_JSON_EXPECTED);
  }
});

Deno.test("JSON: a whole answer in one chunk is read where it lies, not copied", () => {
  const bytes = enc.encode(OPENAI_CHAT_JSON);
  const s = new JsonUsageScanner({ contentLength: bytes.length });
  const chunk = bytes.slice();
  s.scan(chunk);
  assert.equal(s.bufferedBytes, 0, "nothing copied aside");
  // The writer may reuse its buffer once the tap returned: the report is already made.
  chunk.fill(0x20);
  assert.deepEqual(s.end(), OPENAI_CHAT_JSON_EXPECTED);
  // In two pieces it is collected, and read at the end.
  const two = new JsonUsageScanner({ contentLength: bytes.length });
  two.scan(bytes.subarray(0, 10));
  two.scan(bytes.subarray(10));
  assert.equal(two.bufferedBytes, bytes.length);
  assert.deepEqual(two.end(), OPENAI_CHAT_JSON_EXPECTED);
});

Deno.test("JSON: an answer over the bound reports nothing and holds nothing", () => {
  const bytes = enc.encode(OPENAI_CHAT_JSON);
  const none = { events: 0, found: false, oversize: true };
  // Declared too large: nothing is copied at all.
  const declared = new JsonUsageScanner({ maxBytes: 100, contentLength: 101 });
  declared.scan(bytes);
  assert.equal(declared.bufferedBytes, 0);
  assert.deepEqual(declared.end(), none);
  // Found too large on the way.
  const s = new JsonUsageScanner({ maxBytes: bytes.length - 1 });
  for (let p = 0; p < bytes.length; p += 64) {
    s.scan(bytes.subarray(p, p + 64));
    assert.ok(s.bufferedBytes <= bytes.length - 1);
  }
  assert.deepEqual(s.end(), none);
  assert.deepEqual(scanAll([bytes], { maxBytes: bytes.length }), OPENAI_CHAT_JSON_EXPECTED);
  // 1 MiB by default.
  const big = enc.encode(`{"pad":"${"x".repeat(1024 * 1024)}","usage":{"prompt_tokens":1}}`);
  assert.deepEqual(scanAll([big]), none);
});

Deno.test("JSON: no usage is found: false, never zero", () => {
  const cases = [
    "",
    "   ",
    "[]",
    '[{"usage":{"prompt_tokens":1}}]',
    '"usage"',
    "{}",
    '{"usage":null}',
    '{"usage":{}}',
    '{"usage":{"total_tokens":9}}',
    '{"usage":{"prompt_tokens":-1,"completion_tokens":1.5,"input_tokens":"3"}}',
    '{"error":{"message":"\\"usage\\":{\\"prompt_tokens\\":5}","type":"invalid_request_error"}}',
    '{"data":[{"id":"gpt-4o","object":"model"}],"object":"list"}',
    '{"usage":{"prompt_tokens":1}', // cut before the object closes is still read
  ];
  for (const text of cases.slice(0, -1)) {
    const r = scanAll([enc.encode(text)]);
    assert.equal(r.found, false, text);
    assert.equal(r.input, undefined);
  }
  // The usage value is complete even if the body is cut after it.
  assert.equal(scanAll([enc.encode(cases.at(-1)!)]).input, 1);
});

Deno.test("JSON: only top-level keys count; escapes, duplicates and whitespace", () => {
  const r = readJsonUsage(
    enc.encode(
      '\uFEFF \n{ "a" : { "usage" : { "prompt_tokens" : 50 } , "model":"nested" } ,' +
        ' "s":"}]\\\\", "n":[1,{"x":[]},"]"], "t":true, "f":-1.5e3,' +
        ' "model" : "gpt-\\u0034o" , "usage" : {"prompt_tokens":1} , "usage": {"prompt_tokens":2,"completion_tokens":3} }',
    ),
  );
  assert.deepEqual(r, { tokens: { input: 2, output: 3 }, found: true, model: "gpt-4o" });
  // A later null usage replaces an earlier one, as JSON.parse would.
  assert.deepEqual(readJsonUsage(enc.encode('{"usage":{"prompt_tokens":1},"usage":null}')), {
    tokens: {},
    found: false,
  });
  // A model that is not a string is no model.
  assert.equal(
    readJsonUsage(enc.encode('{"model":5,"usage":{"prompt_tokens":1}}')).model,
    undefined,
  );
});

Deno.test("JSON: broken and non-UTF-8 bodies never throw", () => {
  const random = prng(3);
  const bad = [0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82];
  const text = enc.encode('{"model":"m","x":"');
  const tail = enc.encode('","usage":{"input_tokens":4,"output_tokens":5}}');
  const r = scanAll([new Uint8Array([...text, ...bad, ...tail])]);
  assert.deepEqual(r, {
    input: 4,
    output: 5,
    model: "m",
    events: 0,
    found: true,
    oversize: false,
  });
  const bytes = enc.encode(ANTHROPIC_JSON);
  for (let round = 0; round < 500; round++) {
    const damaged = bytes.slice(0, Math.floor(random() * bytes.length));
    for (let k = 0; k < 5; k++) {
      damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
    }
    const report = scanAll([damaged]);
    assert.equal(typeof report.found, "boolean");
  }
});
