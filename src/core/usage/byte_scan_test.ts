import assert from "node:assert/strict";
import { ascii, keyValueAt, skipString, skipValue } from "./byte_scan.ts";

const enc = new TextEncoder();

Deno.test("skipString honours escaped quotes and escaped backslashes", () => {
  const cases: [string, number][] = [
    ['"abc"x', 5],
    ['"a\\"b"x', 6],
    ['"a\\\\"x', 5],
    ['"a\\\\\\"b"x', 8],
    ['"open', -1],
    ['"ends with \\"', -1],
  ];
  for (const [text, end] of cases) {
    const a = enc.encode(text);
    assert.equal(skipString(a, 0, a.length), end, text);
  }
});

Deno.test("skipValue steps over nesting, strings with brackets, and scalars", () => {
  const cases: [string, number][] = [
    ['{"a":[1,{"b":"}]"}],"c":{}} tail', 27],
    ['[[],[[]],"[",{}],', 16],
    ["123.5e-3,", 8],
    ["null}", 4],
    ["true ", 4],
    ['{"a":[1,2}', -1],
    [",", -1],
  ];
  for (const [text, end] of cases) {
    const a = enc.encode(text);
    assert.equal(skipValue(a, 0, a.length), end, text);
  }
});

Deno.test("keyValueAt finds keys, not the same letters inside strings or as values", () => {
  const find = (text: string) => {
    const a = enc.encode(text);
    const out: string[] = [];
    for (let from = 0;;) {
      const v = keyValueAt(a, from, a.length, 0, ascii('"usage"'), 4);
      if (v === -1) break;
      out.push(text.slice(v, v + 4));
      from = v + 1;
    }
    return out;
  };
  assert.deepEqual(find('{"usage":null,"x":{"usage" :  {"a":1}}}'), ["null", '{"a"']);
  assert.deepEqual(find('{"s":"\\"usage\\":1","k":"usage","l":["usage"]}'), []);
  assert.deepEqual(find('  "usage"'), [""], "the line ends before the value: maybe");
  assert.deepEqual(find('{"usages":1,"usage_x":2}'), []);
});
