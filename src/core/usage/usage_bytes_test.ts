import assert from "node:assert/strict";
import { asciiStringAt, readUsageBytes } from "./usage_bytes.ts";
import { readUsage, type TokenTally } from "./usage_shapes.ts";
import { prng } from "./_test_helpers.ts";

const enc = new TextEncoder();

/** What the byte reader says, or "unsure" when it leaves the bytes to JSON.parse. */
function viaBytes(text: string): { found: boolean; tally: TokenTally } | "unsure" {
  const a = enc.encode(text);
  const tally: TokenTally = {};
  const found = readUsageBytes(a, 0, a.length, tally);
  return found === undefined ? "unsure" : { found, tally };
}

function viaParse(text: string): { found: boolean; tally: TokenTally } {
  const tally: TokenTally = {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return { found: readUsage(value, tally), tally };
}

Deno.test("usage bytes: the three APIs' usage objects are read without JSON.parse", () => {
  const cases: [string, TokenTally][] = [
    [
      '{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,' +
      '"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},' +
      '"completion_tokens_details":{"reasoning_tokens":4,"audio_tokens":0,' +
      '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}',
      { input: 19, output: 10, cachedInput: 3, reasoning: 4 },
    ],
    [
      '{ "input_tokens": 36, "input_tokens_details": { "cached_tokens": 0 },\n' +
      '  "output_tokens": 87, "output_tokens_details": { "reasoning_tokens": 0 },\n' +
      '  "total_tokens": 123 }',
      { input: 36, output: 87, cachedInput: 0, reasoning: 0 },
    ],
    [
      '{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":1500,' +
      '"output_tokens":503,"service_tier":"standard","server_tool_use":null,' +
      '"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}}',
      { input: 2095, output: 503, cachedInput: 1500 },
    ],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(viaBytes(text), { found: true, tally: expected }, text);
    assert.deepEqual(viaParse(text), { found: true, tally: expected }, text);
  }
});

Deno.test("usage bytes: what it does not handle is left to JSON.parse", () => {
  for (
    const text of [
      '{"prompt_tokens":1.0}',
      '{"prompt_tokens":1e3}',
      '{"prompt_tokens":-1}',
      '{"prompt_tokens":01}',
      '{"prompt_tokens":12345678901234567}',
      '{"prompt\\u005ftokens":5}',
      '{"prompt_tokens":5,"note":"a\\"b"}',
      '{"prompt_tokens":5,"list":[1,2]}',
      '{"prompt_tokens":5,}',
      '{"prompt_tokens" 5}',
      '{"prompt_tokens":5 "x":1}',
      '{"prompt_tokens":nul}',
      '{"prompt_tokens":5',
      "[1]",
    ]
  ) {
    assert.equal(viaBytes(text), "unsure", text);
  }
});

Deno.test("usage bytes: last key wins and non-counts count as absent, as with JSON.parse", () => {
  for (
    const text of [
      '{"prompt_tokens":5,"prompt_tokens":null}',
      '{"prompt_tokens":null,"input_tokens":7}',
      '{"prompt_tokens":"5","completion_tokens":{"a":1}}',
      '{"prompt_tokens_details":{"cached_tokens":4},"prompt_tokens_details":{}}',
      '{"prompt_tokens_details":{"cached_tokens":4},"prompt_tokens_details":null}',
      '{"input_tokens_details":{"cached_tokens":4,"cached_tokens":true},"cache_read_input_tokens":9}',
      '{"completion_tokens_details":{"reasoning_tokens":{"x":{}}},"output_tokens_details":{"reasoning_tokens":2}}',
      '{"total_tokens":3}',
      "{}",
      " { } ",
    ]
  ) {
    const bytes = viaBytes(text.trim());
    assert.notEqual(bytes, "unsure", text);
    assert.deepEqual(bytes, viaParse(text), text);
  }
});

const KEYS = [
  "prompt_tokens",
  "input_tokens",
  "completion_tokens",
  "output_tokens",
  "cache_read_input_tokens",
  "total_tokens",
  "prompt_tokens_details",
  "input_tokens_details",
  "completion_tokens_details",
  "output_tokens_details",
  "cached_tokens",
  "reasoning_tokens",
  "other",
];

/** A random JSON-ish value: mostly valid, sometimes not quite. */
function randomValue(rand: () => number, depth: number): string {
  const r = rand();
  if (r < 0.35) return String(Math.floor(rand() * 100000));
  if (r < 0.4) return ["1.5", "-3", "2e2", "007", "9007199254740993"][Math.floor(rand() * 5)]!;
  if (r < 0.5) return ["null", "true", "false", "nul"][Math.floor(rand() * 4)]!;
  if (r < 0.6) return ['"x"', '"a\\"b"', '"ü"', '""'][Math.floor(rand() * 4)]!;
  if (r < 0.65) return "[1,2]";
  if (depth < 2) return randomObject(rand, depth + 1);
  return "0";
}

function randomObject(rand: () => number, depth: number): string {
  const n = Math.floor(rand() * 6);
  const ws = () => (rand() < 0.2 ? [" ", "\n", "\t", "\r\n "][Math.floor(rand() * 4)]! : "");
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = KEYS[Math.floor(rand() * KEYS.length)]!;
    parts.push(`${ws()}"${key}"${ws()}:${ws()}${randomValue(rand, depth)}${ws()}`);
  }
  const sep = rand() < 0.03 ? ",," : ",";
  return `{${parts.join(sep)}${rand() < 0.02 ? "," : ""}}`;
}

Deno.test("usage bytes: on 20,000 random objects it agrees with JSON.parse or leaves them to it", () => {
  const rand = prng(20261130);
  let handled = 0;
  for (let i = 0; i < 20_000; i++) {
    const text = randomObject(rand, 0);
    const bytes = viaBytes(text);
    if (bytes === "unsure") continue;
    handled++;
    assert.deepEqual(bytes, viaParse(text), text);
  }
  // The generator mostly writes what the reader handles: the test compares something.
  assert.ok(handled > 5_000, `only ${handled} objects were read from bytes`);
});

Deno.test("usage bytes: a model name in plain ASCII is read without decoding", () => {
  const a = enc.encode('{"model":"gpt-4o-mini","x":"caf\u00e9","y":"a\\u0062"}');
  assert.equal(asciiStringAt(a, 9, 22), "gpt-4o-mini");
  // The same bytes again give the same string; other bytes another one.
  assert.equal(asciiStringAt(a, 9, 22), "gpt-4o-mini");
  assert.equal(asciiStringAt(enc.encode('"gpt-4o-mina"'), 0, 13), "gpt-4o-mina");
  assert.equal(asciiStringAt(a, 27, 34), undefined, "non-ASCII is decoded by the caller");
  assert.equal(asciiStringAt(a, 39, 46), undefined, "escapes are decoded by the caller");
});
