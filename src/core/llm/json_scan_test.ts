import assert from "node:assert/strict";
import { decodeString, isLiteral, lastMember, scanJsonDocument, scanObject } from "./json_scan.ts";
import { JsonGen, prng } from "./_test_helpers.ts";

const enc = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true });

/** What the scanner must agree with: a fatal UTF-8 decode, then JSON.parse. */
function referenceIsObject(bytes: Uint8Array): boolean {
  try {
    const v = JSON.parse(fatal.decode(bytes));
    return v !== null && typeof v === "object" && !Array.isArray(v);
  } catch {
    return false;
  }
}

Deno.test("scan: members, spans and decoded keys", () => {
  const text = ' { "a" : 1 , "mod\\u0065l":"x", "n":{"model":2}, "a":[true,null] } ';
  const b = enc.encode(text);
  const doc = scanJsonDocument(b)!;
  assert.deepEqual(doc.members.map((m) => m.key), ["a", "model", "n", "a"]);
  const slice = (m: { valueStart: number; valueEnd: number }) =>
    text.slice(m.valueStart, m.valueEnd);
  assert.deepEqual(doc.members.map(slice), ["1", '"x"', '{"model":2}', "[true,null]"]);
  assert.equal(text.slice(doc.start, doc.end), text.trim());
  assert.equal(slice(lastMember(doc, "a")!), "[true,null]");
  const inner = scanObject(b, lastMember(doc, "n")!.valueStart)!;
  assert.deepEqual(inner.members.map((m) => m.key), ["model"]);
  const model = lastMember(doc, "model")!;
  assert.equal(decodeString(b, model.valueStart, model.valueEnd), "x");
  assert.ok(isLiteral(enc.encode("[true]"), 1, 5, "true"));
  assert.ok(!isLiteral(enc.encode("[true]"), 1, 5, "null"));
});

Deno.test("scan: rejects what JSON.parse rejects", () => {
  const bad = [
    "",
    " ",
    "[]",
    '"x"',
    "1",
    "null",
    "{",
    "}",
    '{"a"}',
    '{"a":}',
    '{"a":1,}',
    '{"a":1 "b":2}',
    "{'a':1}",
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":1e}',
    '{"a":+1}',
    '{"a":-}',
    '{"a":NaN}',
    '{"a":tru}',
    '{"a":True}',
    '{"a":"\\x"}',
    '{"a":"\\u12"}',
    '{"a":"\\u12G4"}',
    '{"a":"tab\there"}',
    '{"a":[1,]}',
    '{"a":[1 2]}',
    '{"a":{"b":1]}',
    '{"a":1} x',
    '{"a":1}{}',
    '{"a":1}\u00a0',
    '\u00a0{"a":1}',
    '{"a":1}\f',
  ];
  for (const text of bad) {
    assert.equal(scanJsonDocument(enc.encode(text)), undefined, JSON.stringify(text));
    assert.equal(referenceIsObject(enc.encode(text)), false, JSON.stringify(text));
  }
});

Deno.test("scan: UTF-8 validity matches a fatal decoder", () => {
  const wrap = (bytes: number[]) =>
    Uint8Array.from([...enc.encode('{"a":"'), ...bytes, ...enc.encode('"}')]);
  const cases: number[][] = [
    [0xc3, 0xa9], // é
    [0xe4, 0xb8, 0xad], // 中
    [0xf0, 0x9f, 0x98, 0x80], // 😀
    [0xef, 0xbf, 0xbf], // U+FFFF
    [0xf4, 0x8f, 0xbf, 0xbf], // U+10FFFF
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf], // overlong
    [0xe0, 0x80, 0x80], // overlong
    [0xed, 0xa0, 0x80], // encoded surrogate
    [0xf0, 0x80, 0x80, 0x80], // overlong
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0x80],
    [0xc3],
    [0xe4, 0xb8],
    [0xff],
  ];
  for (const bytes of cases) {
    const b = wrap(bytes);
    assert.equal(scanJsonDocument(b) !== undefined, referenceIsObject(b), bytes.join(","));
  }
  const truncated = Uint8Array.from([...enc.encode('{"a":"'), 0xe4, 0xb8]);
  assert.equal(scanJsonDocument(truncated), undefined);
});

Deno.test("scan: a byte-order mark is skipped, as the fatal decoder drops it", () => {
  const b = Uint8Array.from([0xef, 0xbb, 0xbf, ...enc.encode('{"model":"m"}')]);
  assert.equal(referenceIsObject(b), true);
  assert.deepEqual(scanJsonDocument(b)!.members.map((m) => m.key), ["model"]);
});

Deno.test("scan: deep nesting does not overflow the stack", () => {
  const depth = 200_000;
  const text = `{"a":${"[".repeat(depth)}${"]".repeat(depth)},"model":"m"}`;
  const doc = scanJsonDocument(enc.encode(text))!;
  assert.deepEqual(doc.members.map((m) => m.key), ["a", "model"]);
  assert.equal(scanJsonDocument(enc.encode(`{"a":${"[".repeat(depth)}}`)), undefined);
});

Deno.test("scan agrees with JSON.parse on random and mutated documents", () => {
  const r = prng(20240501);
  const g = new JsonGen(r);
  const noise = enc.encode(' \n\t{}[]":,\\0123456789.-+eEtrufalsn\u00e9x');
  let valid = 0;
  for (let n = 0; n < 6000; n++) {
    const doc = g.int(4) === 0 ? g.value(3) : `${g.ws()}{${g.ws()}"k":${g.value(3)}}${g.ws()}`;
    let b = enc.encode(doc);
    if (g.int(3) > 0 && b.length > 0) {
      const arr = [...b];
      for (let k = 1 + g.int(3); k > 0; k--) {
        const at = g.int(arr.length + 1);
        const op = g.int(3);
        const byte = g.int(8) === 0 ? 0x80 + g.int(128) : noise[g.int(noise.length)]!;
        if (op === 0) arr.splice(at, 1);
        else if (op === 1) arr.splice(at, 0, byte);
        else arr[Math.min(at, arr.length - 1)] = byte;
      }
      b = Uint8Array.from(arr);
    }
    const want = referenceIsObject(b);
    if (want) valid++;
    assert.equal(
      scanJsonDocument(b) !== undefined,
      want,
      `disagreement on ${JSON.stringify(new TextDecoder().decode(b))}`,
    );
  }
  assert.ok(valid > 1000, `too few valid samples (${valid}) to mean anything`);
});
