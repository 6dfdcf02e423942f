import assert from "node:assert/strict";
import { rewriteModel } from "./rewrite_model.ts";
import { JsonGen, prng } from "./_test_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const rewrite = (text: string, model: string) => dec.decode(rewriteModel(enc.encode(text), model));

Deno.test("rewrite: only the model value changes; order, whitespace and spelling stay", () => {
  const text = '{\n  "temperature": 1.0,\n  "model" :  "gpt-4o",\t"n": 1e3,\r\n' +
    '  "messages": [{"role": "user", "content": "say \\"hi\\" \\u00e9 \\/ \\n"}],\n' +
    '  "big": 123456789012345678901234567890, "z": -0.0\n}\n';
  assert.equal(
    rewrite(text, "meta-llama/Llama-3.1-8B-Instruct"),
    text.replace('"gpt-4o"', '"meta-llama/Llama-3.1-8B-Instruct"'),
  );
});

Deno.test("rewrite: nested model keys are never touched", () => {
  const text =
    '{"tools":[{"model":"inner"}],"metadata":{"model":"meta"},"model":"outer","x":{"model":"x"}}';
  assert.equal(
    rewrite(text, "new"),
    '{"tools":[{"model":"inner"}],"metadata":{"model":"meta"},"model":"new","x":{"model":"x"}}',
  );
  // No top-level model at all: unchanged, even though nested ones exist.
  const nested = enc.encode('{"metadata":{"model":"meta"}}');
  assert.equal(rewriteModel(nested, "new"), nested);
});

Deno.test("rewrite: unicode and characters that need escaping in the new model", () => {
  assert.equal(rewrite('{"model":"中文-😀","a":"é"}', "模型"), '{"model":"模型","a":"é"}');
  assert.equal(
    rewrite('{"model":"m"}', 'a"b\\c\nd\u0001😀'),
    '{"model":"a\\"b\\\\c\\nd\\u0001😀"}',
  );
  // A lone surrogate is written escaped, so the body stays valid UTF-8.
  const out = rewriteModel(enc.encode('{"model":"m"}'), "x\ud800");
  assert.equal(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(out)).model, "x\ud800");
});

Deno.test("rewrite: an escaped key or value is found and replaced", () => {
  assert.equal(rewrite('{"mod\\u0065l":"gpt\\u002d4"}', "b"), '{"mod\\u0065l":"b"}');
});

Deno.test("rewrite: same bytes object back when nothing changes", () => {
  const cases = [
    '{"model":"same"}',
    '{"model":"s\\u0061me"}', // already the new value, spelled differently
    '{"model":5}',
    '{"model":null}',
    '{"model":{"name":"x"}}',
    '{"model":["x"]}',
    '{"messages":[]}',
    "{}",
    '{"model":"x"', // invalid
    '{"model":"x",}',
    '["model","x"]',
    '"model"',
    "",
    "not json",
    '{"model":"x"} trailing',
  ];
  for (const text of cases) {
    const b = enc.encode(text);
    assert.equal(rewriteModel(b, "same"), b, text);
  }
  const invalidUtf8 = Uint8Array.from([...enc.encode('{"model":"x","a":"'), 0xff, 0x22, 0x7d]);
  assert.equal(rewriteModel(invalidUtf8, "y"), invalidUtf8);
});

Deno.test("rewrite: duplicate top-level model keys are all rewritten", () => {
  // JSON.parse reads the last; a first-wins parser would read the first: both get it.
  assert.equal(rewrite('{"model":"a","x":1,"model":"b"}', "c"), '{"model":"c","x":1,"model":"c"}');
  // The last one decides whether there is a model at all.
  const lastNotString = enc.encode('{"model":"a","model":5}');
  assert.equal(rewriteModel(lastNotString, "c"), lastNotString);
  // An earlier non-string duplicate is replaced too, so no parser sees another value.
  assert.equal(rewrite('{"model":5,"model":"b"}', "c"), '{"model":"c","model":"c"}');
  // One that already says the new name keeps its spelling.
  assert.equal(rewrite('{"model":"c","model":"b"}', "c"), '{"model":"c","model":"c"}');
});

/** A random top-level object with its members kept apart, so the expected text is known. */
function randomBody(g: JsonGen) {
  const members: Array<{ keyText: string; valueText: string; lead: string; tail: string }> = [];
  for (let n = g.int(7); n > 0; n--) {
    const isModel = g.int(3) === 0;
    const keyText = isModel
      ? g.pick(['"model"', '"mod\\u0065l"', '"\\u006Dodel"'])
      : g.string().text;
    const valueText = isModel && g.int(5) > 0 ? g.string().text : g.value(3);
    members.push({
      keyText,
      valueText,
      lead: `${g.ws()}${keyText}${g.ws()}:${g.ws()}`,
      tail: g.ws(),
    });
  }
  const open = `${g.ws()}{`;
  const close = `${members.length === 0 ? g.ws() : ""}}${g.ws()}`;
  const render = (value: (m: (typeof members)[number]) => string) =>
    `${open}${members.map((m) => `${m.lead}${value(m)}${m.tail}`).join(",")}${close}`;
  return { members, render };
}

Deno.test("rewrite property: parse(rewrite(x)) is x with the model replaced, key order kept", () => {
  const g = new JsonGen(prng(1234567));
  let rewritten = 0;
  for (let n = 0; n < 5000; n++) {
    const { members, render } = randomBody(g);
    const text = render((m) => m.valueText);
    const bytes = enc.encode(text);
    const before = JSON.parse(text);
    const newModel = g.int(8) === 0 && typeof before.model === "string"
      ? before.model
      : g.string().value;
    const out = rewriteModel(bytes, newModel);

    const models = members.filter((m) => JSON.parse(m.keyText) === "model");
    const last = models[models.length - 1];
    const hasModel = last !== undefined && typeof JSON.parse(last.valueText) === "string";
    if (!hasModel || (models.every((m) => JSON.parse(m.valueText) === newModel))) {
      assert.equal(out, bytes, `expected the same bytes back for ${text}`);
      continue;
    }
    rewritten++;
    // Byte-exact: the model values, and nothing else, are replaced.
    const expected = render((m) =>
      JSON.parse(m.keyText) === "model" && JSON.parse(m.valueText) !== newModel
        ? JSON.stringify(newModel)
        : m.valueText
    );
    assert.equal(dec.decode(out), expected);
    const after = JSON.parse(dec.decode(out));
    assert.deepEqual(after, { ...before, model: newModel });
    assert.deepEqual(Object.keys(after), Object.keys(before));
  }
  assert.ok(rewritten > 1000, `too few rewritten samples (${rewritten}) to mean anything`);
});

Deno.test("rewrite: a large body is handled in one linear pass", () => {
  const content = "x".repeat(1024);
  const messages = Array.from({ length: 9000 }, (_, i) => ({ role: "user", content, i }));
  const text = JSON.stringify({ messages, model: "gpt-4o", stream: true });
  const bytes = enc.encode(text);
  const t0 = performance.now();
  const out = rewriteModel(bytes, "llama");
  const ms = performance.now() - t0;
  assert.equal(out.length, bytes.length - 1);
  assert.equal(JSON.parse(dec.decode(out)).model, "llama");
  assert.ok(ms < 2000, `rewriting ${bytes.length} bytes took ${ms} ms`);
});
