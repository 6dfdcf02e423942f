import assert from "node:assert/strict";
import { injectIncludeUsage } from "./include_usage.ts";
import { JsonGen, prng } from "./_test_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const inject = (text: string) => dec.decode(injectIncludeUsage(enc.encode(text)));

Deno.test("include_usage: added after the last member when stream_options is absent", () => {
  assert.equal(
    inject('{"model":"m","stream":true}'),
    '{"model":"m","stream":true,"stream_options":{"include_usage":true}}',
  );
  assert.equal(
    inject('{\n  "stream" : true ,\n  "messages": [ ]\n}\n'),
    '{\n  "stream" : true ,\n  "messages": [ ],"stream_options":{"include_usage":true}\n}\n',
  );
});

Deno.test("include_usage: added inside an existing stream_options object", () => {
  assert.equal(
    inject('{"stream":true,"stream_options":{}}'),
    '{"stream":true,"stream_options":{"include_usage":true}}',
  );
  assert.equal(
    inject('{"stream":true,"stream_options":{ }}'),
    '{"stream":true,"stream_options":{"include_usage":true }}',
  );
  assert.equal(
    inject('{"stream_options": {"x": 1} ,"stream":true}'),
    '{"stream_options": {"x": 1,"include_usage":true} ,"stream":true}',
  );
});

Deno.test("include_usage: null means not given and is filled in", () => {
  assert.equal(
    inject('{"stream":true,"stream_options":null,"n":1}'),
    '{"stream":true,"stream_options":{"include_usage":true},"n":1}',
  );
  assert.equal(
    inject('{"stream":true,"stream_options":{"include_usage":null}}'),
    '{"stream":true,"stream_options":{"include_usage":true}}',
  );
});

Deno.test("include_usage: same bytes back when there is nothing to add", () => {
  const cases = [
    '{"stream":true,"stream_options":{"include_usage":true}}',
    // An explicit opt-out is respected.
    '{"stream":true,"stream_options":{"include_usage":false}}',
    '{"stream":true,"stream_options":"yes"}',
    '{"stream":true,"stream_options":[]}',
    '{"stream":false}',
    '{"stream":"true"}',
    '{"stream":1}',
    '{"model":"m"}',
    '{"nested":{"stream":true}}',
    '{"stream":true,"stream":false}', // JSON.parse reads the last
    '{"stream":true', // invalid
    "[true]",
    "",
  ];
  for (const text of cases) {
    const b = enc.encode(text);
    assert.equal(injectIncludeUsage(b), b, text);
  }
});

Deno.test("include_usage: duplicates follow JSON.parse (the last one is edited)", () => {
  assert.equal(
    inject('{"stream":false,"stream":true}'),
    '{"stream":false,"stream":true,"stream_options":{"include_usage":true}}',
  );
  assert.equal(
    inject('{"stream":true,"stream_options":{"include_usage":true},"stream_options":{}}'),
    '{"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}',
  );
});

Deno.test("include_usage property: the result parses to the input plus include_usage", () => {
  const g = new JsonGen(prng(99));
  for (let n = 0; n < 3000; n++) {
    const members = [`"stream"${g.ws()}:${g.ws()}true`];
    for (let k = g.int(5); k > 0; k--) members.push(`${g.string().text}:${g.value(2)}`);
    if (g.int(2)) {
      const inner = [];
      for (let k = g.int(3); k > 0; k--) inner.push(`${g.ws()}${g.string().text}:${g.value(1)}`);
      members.push(`"stream_options":{${inner.join(",")}${g.ws()}}`);
    }
    for (let i = members.length - 1; i > 0; i--) {
      const j = g.int(i + 1);
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    const text = `${g.ws()}{${g.ws()}${members.join(`${g.ws()},${g.ws()}`)}${g.ws()}}${g.ws()}`;
    const before = JSON.parse(text);
    const out = dec.decode(injectIncludeUsage(enc.encode(text)));
    const after = JSON.parse(out);
    const options = before.stream_options;
    if (options && Object.hasOwn(options, "include_usage") && options.include_usage !== null) {
      assert.equal(out, text);
      continue;
    }
    assert.deepEqual(after, {
      ...before,
      stream_options: { ...(options ?? {}), include_usage: true },
    });
    assert.deepEqual(
      Object.keys(after).filter((k) => k !== "stream_options"),
      Object.keys(before).filter((k) => k !== "stream_options"),
    );
    // Nothing was removed: the original text survives around the insertion.
    const added = out.length - text.length;
    let i = 0;
    while (i < text.length && text[i] === out[i]) i++;
    assert.equal(out.slice(i + added), text.slice(i), text);
  }
});
