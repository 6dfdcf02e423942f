import assert from "node:assert/strict";
import { injectIncludeUsage } from "./include_usage.ts";
import { RequestBody } from "./request_body.ts";
import { rewriteModel } from "./rewrite_model.ts";
import { JsonGen, prng } from "./_test_helpers.ts";

const enc = new TextEncoder();
const body = (text: string, type: string | null = "application/json") =>
  new RequestBody(enc.encode(text), type);

Deno.test("request body: model, fields and streaming flags", () => {
  const b = body(
    '{"model":"gpt-4o","user":"u1","prompt_cache_key":"k","n":2,"stream":true,' +
      '"stream_options":{"include_usage":false},"metadata":{"model":"inner"}}',
  );
  assert.equal(b.model, "gpt-4o");
  assert.equal(b.field("user"), "u1");
  assert.equal(b.field("prompt_cache_key"), "k");
  assert.equal(b.field("n"), undefined);
  assert.equal(b.field("missing"), undefined);
  assert.equal(b.stream, true);
  assert.equal(b.includeUsage, false);
  assert.equal(body('{"stream":true}').includeUsage, undefined);
  assert.equal(body('{"stream_options":{"include_usage":true}}').includeUsage, true);
  assert.equal(body('{"stream_options":null}').includeUsage, undefined);
  assert.equal(body('{"stream_options":[true]}').includeUsage, undefined);
  assert.equal(body('{"stream":"yes"}').stream, undefined);
});

Deno.test("request body: no model, never an error", () => {
  const cases: Array<[Uint8Array | null, string | null]> = [
    [null, "application/json"],
    [new Uint8Array(), "application/json"],
    [enc.encode('{"model":"m"}'), null],
    [enc.encode('{"model":"m"}'), "text/plain"],
    [enc.encode('{"model":"m"'), "application/json"],
    [enc.encode('{"model":5}'), "application/json"],
    [enc.encode('{"model":null}'), "application/json"],
    [enc.encode('["model"]'), "application/json"],
    [enc.encode('"model"'), "application/json"],
    [enc.encode("null"), "application/json"],
    [enc.encode('{"model":"m","model":1}'), "application/json"],
    [Uint8Array.from([...enc.encode('{"model":"m","x":"'), 0xff, 0x22, 0x7d]), "application/json"],
  ];
  for (const [bytes, type] of cases) {
    const b = new RequestBody(bytes, type);
    assert.equal(b.model, undefined);
    assert.equal(b.stream, undefined);
    assert.equal(b.includeUsage, undefined);
  }
});

Deno.test("request body: JSON content types in any spelling", () => {
  for (
    const type of [
      "application/json",
      "Application/JSON; charset=utf-8",
      "application/vnd.api+json",
    ]
  ) {
    assert.equal(body('{"model":"m"}', type).model, "m");
  }
  // Duplicates: JSON.parse semantics, the last one counts.
  assert.equal(body('{"model":"a","model":"b"}').model, "b");
  // A byte-order mark is tolerated, as the in-place editors do.
  assert.equal(
    new RequestBody(
      Uint8Array.from([0xef, 0xbb, 0xbf, ...enc.encode('{"model":"m"}')]),
      "application/json",
    ).model,
    "m",
  );
});

Deno.test("request body: prototype names are not fields", () => {
  const b = body('{"__proto__":"p","model":"m"}');
  assert.equal(b.field("toString"), undefined);
  assert.equal(b.field("constructor"), undefined);
  assert.equal(b.field("__proto__"), "p");
  assert.equal(body("{}").field("hasOwnProperty"), undefined);
});

Deno.test("request body: read lazily and at most once", () => {
  const b = body('{"model":"m","user":"u","stream":true}');
  assert.equal(b.parsed, false);
  const scan = b.scan;
  assert.equal(b.parsed, true);
  assert.equal(b.model, "m");
  assert.equal(b.field("user"), "u");
  assert.equal(b.stream, true);
  assert.equal(b.includeUsage, undefined);
  // The scan is memoised: every question is answered from the same one.
  assert.equal(b.scan, scan);
  const bad = body("{nope");
  assert.equal(bad.parsed, false);
  assert.equal(bad.model, undefined);
  assert.equal(bad.parsed, true);
  assert.equal(bad.scan, undefined);
  // Not JSON by content type: the body is never looked at.
  const text = body('{"model":"m"}', "text/plain");
  assert.equal(text.model, undefined);
  assert.equal(text.scan, undefined);
});

Deno.test("request body: its scan feeds the editors", () => {
  const b = body('{"model":"gpt-4o","stream":true}');
  const mapped = rewriteModel(b.bytes!, "llama", b.scan);
  assert.equal(new TextDecoder().decode(mapped), '{"model":"llama","stream":true}');
  const withUsage = injectIncludeUsage(b.bytes!, b.scan);
  assert.equal(
    new TextDecoder().decode(withUsage),
    '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}',
  );
});

Deno.test("request body: agrees with JSON.parse on random bodies", () => {
  const g = new JsonGen(prng(42));
  for (let n = 0; n < 3000; n++) {
    const members: string[] = [];
    for (let k = g.int(6); k > 0; k--) {
      const key = g.pick(['"model"', '"user"', '"stream"', '"stream_options"', g.string().text]);
      const value = g.int(2)
        ? g.pick([g.string().text, "true", "false", '{"include_usage":true}', "null"])
        : g.value(2);
      members.push(`${g.ws()}${key}${g.ws()}:${g.ws()}${value}`);
    }
    const text = `{${members.join(",")}${g.ws()}}`;
    const ref = JSON.parse(text);
    const b = body(text);
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    const bool = (v: unknown) => (typeof v === "boolean" ? v : undefined);
    assert.equal(b.model, str(ref.model), text);
    assert.equal(b.field("user"), str(ref.user), text);
    assert.equal(b.stream, bool(ref.stream), text);
    const options = ref.stream_options;
    const iu = options !== null && typeof options === "object" && !Array.isArray(options)
      ? bool(options.include_usage)
      : undefined;
    assert.equal(b.includeUsage, iu, text);
  }
});
