import assert from "node:assert/strict";
import { MAX_BODY_BYTES, MAX_DEPTH, parseJsonBody } from "./json_body.ts";
import { adminFixture, b64url } from "./_test_helpers.ts";

const API = "/api/v1";

/** Every write endpoint, with a body it accepts (the hostile ones are built from it). */
const WRITES: { method: string; path: string; valid: Record<string, unknown> }[] = [
  {
    method: "POST",
    path: `${API}/forwards/main/routes`,
    valid: { path: "/fresh/*", target_group: "backup" },
  },
  {
    method: "PUT",
    path: `${API}/forwards/main/routes/${b64url("/v1/*")}`,
    valid: { target_group: "backup" },
  },
  {
    method: "PATCH",
    path: `${API}/upstream-groups/backup`,
    valid: {
      upstreams: [{ name: "local", weight: 2 }],
      http_client: { timeout: { request: 30 } },
    },
  },
  {
    method: "POST",
    path: `${API}/upstreams`,
    valid: {
      name: "fresh",
      url: "https://fresh.example",
      auth: { type: "bearer", token: "t" },
      headers: [{ op: "insert", key: "x-team", value: "a" }],
      breaker: { threshold: 0.5 },
    },
  },
  {
    method: "PUT",
    path: `${API}/upstreams/spare`,
    valid: {
      url: "https://spare.example",
      auth: { type: "basic", username: "u", password: "p" },
      breaker: { cooldown: 10 },
    },
  },
];

/** The DELETE endpoints: they take no body, and one must not change their answer. */
const DELETES = [
  `${API}/forwards/main/routes/${b64url("/v1/*")}`,
  `${API}/upstreams/spare`,
  `${API}/upstreams/nope`,
];

const PROTOTYPE_NAMES = [
  "toString",
  "constructor",
  "hasOwnProperty",
  "valueOf",
  "__proto__",
  "__defineGetter__",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
];

/** `valid` with `extra` put at every object in it (top level and nested), one at a time. */
function everywhere(valid: Record<string, unknown>, key: string, value: unknown): string[] {
  const out: string[] = [];
  const visit = (node: unknown, setAt: (patched: unknown) => string) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) =>
        visit(item, (patched) => setAt(node.map((x, j) => (j === i ? patched : x))))
      );
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const rec = node as Record<string, unknown>;
    // JSON text, so that "__proto__" becomes an own key as a client sends it.
    const entries = Object.entries(rec).map(([k, v]) =>
      `${JSON.stringify(k)}:${JSON.stringify(v)}`
    );
    out.push(
      setAt({
        __raw: `{${[...entries, `${JSON.stringify(key)}:${JSON.stringify(value)}`].join(",")}}`,
      }),
    );
    for (const [k, v] of Object.entries(rec)) {
      visit(v, (patched) => setAt({ ...rec, [k]: patched }));
    }
  };
  visit(valid, (patched) => serialise(patched));
  return out;
}

/** JSON.stringify that splices in `{__raw: text}` nodes as they are. */
function serialise(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(serialise).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const rec = value as Record<string, unknown>;
    if (typeof rec.__raw === "string" && Object.keys(rec).length === 1) return rec.__raw;
    return `{${
      Object.entries(rec).map(([k, v]) => `${JSON.stringify(k)}:${serialise(v)}`).join(",")
    }}`;
  }
  return JSON.stringify(value);
}

/** Hostile bodies of one endpoint: [label, body text, content-type, expected message]. */
function hostile(valid: Record<string, unknown>): [string, string, string, RegExp][] {
  const json = "application/json";
  const text = JSON.stringify(valid);
  const cases: [string, string, string, RegExp][] = [
    ["malformed JSON", "{not json", json, /not valid JSON/],
    ["truncated JSON", text.slice(0, -1), json, /not valid JSON/],
    ["trailing garbage", `${text}x`, json, /not valid JSON/],
    ["empty body", "", json, /empty/],
    ["whitespace body", "  \n", json, /empty/],
    ["a list", "[]", json, /must be a JSON object .*got a list/],
    ["a string", '"x"', json, /must be a JSON object .*got a string/],
    ["a number", "1", json, /must be a JSON object .*got a number/],
    ["null", "null", json, /must be a JSON object .*got null/],
    ["true", "true", json, /must be a JSON object .*got a boolean/],
    ["text/plain", text, "text/plain", /must be JSON .*got Content-Type "text\/plain"/],
    ["no content-type", text, "", /must be JSON .*got no Content-Type/],
    ["form", "a=1", "application/x-www-form-urlencoded", /must be JSON/],
    ["json-ish type", text, "application/jsonx", /must be JSON/],
    ["huge number", serialise({ ...valid, weight: { __raw: "1e400" } }), json, /too large/],
    ["huge negative number", text.replace(/^\{/, '{"n":-1e999,'), json, /too large/],
    [
      "deeply nested arrays",
      text.replace(/^\{/, `{"x":${"[".repeat(100_000)}${"]".repeat(100_000)},`),
      json,
      new RegExp(`nested deeper than ${MAX_DEPTH}`),
    ],
    [
      "deeply nested objects",
      text.replace(/^\{/, `{"x":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)},`),
      json,
      new RegExp(`nested deeper than ${MAX_DEPTH}`),
    ],
    [
      "too large",
      text.replace(/^\{/, `{"pad":"${"a".repeat(MAX_BODY_BYTES)}",`),
      json,
      /larger than/,
    ],
  ];
  for (const name of PROTOTYPE_NAMES) {
    for (const value of [1, "x", {}, [], null]) {
      for (const body of everywhere(valid, name, value)) {
        cases.push([`key ${name}=${JSON.stringify(value)}`, body, json, /unknown key/]);
      }
    }
  }
  return cases;
}

Deno.test("hostile bodies get a clear 400 from every write endpoint, and change nothing", async () => {
  let count = 0;
  for (const { method, path, valid } of WRITES) {
    const f = adminFixture();
    const before = f.gateway.config;
    for (const [label, body, type, expected] of hostile(valid)) {
      const where = `${method} ${path} with ${label}`;
      const a = await f.call(method, path, body, { "content-type": type });
      assert.equal(a.status, 400, `${where}: ${a.text.slice(0, 300)}`);
      assert.equal(a.body?.code, 400, where);
      assert.equal(a.body?.status, "error", where);
      assert.equal(a.body?.error?.type, "BadRequest", where);
      assert.match(a.body.error.message, expected, where);
      assert.ok(!/\n\s+at /.test(a.text), `${where}: no stack trace`);
      assert.ok(a.text.length < 2000, `${where}: the message does not echo the body`);
      count++;
    }
    assert.equal(f.gateway.config, before, `${method} ${path}: nothing changed`);
    // The valid body itself goes through: the guard refuses only what is hostile.
    const ok = await f.call(method, path, valid);
    assert.ok(ok.status === 200 || ok.status === 201, `${method} ${path}: ${ok.text}`);
  }
  assert.ok(count > 500, `${count} cases`);
});

Deno.test("the messages name where the bad key or value sits", async () => {
  const f = adminFixture();
  const a = await f.call(
    "POST",
    `${API}/upstreams`,
    '{"name":"x","url":"http://a","breaker":{"constructor":{}}}',
  );
  assert.equal(
    a.body.error.message,
    'invalid body: breaker.constructor: unknown key "constructor"',
  );
  const b = await f.call(
    "PATCH",
    `${API}/upstream-groups/backup`,
    '{"upstreams":[{"name":"local","weight":1e400}]}',
  );
  assert.match(b.body.error.message, /^invalid body: upstreams\[0\]\.weight: /);
  const c = await f.call("POST", `${API}/upstreams`, '{"name":"x",\n"url" 1}');
  assert.equal(c.body.error.message, "the request body is not valid JSON at line 2 column 7");
});

Deno.test("a malformed body's message never quotes the body (it may hold a key)", async () => {
  const f = adminFixture();
  for (
    const body of [
      '{"name":"x","url":"http://a","auth":{"type":"bearer","token":"sk-LEAKME"}, oops}',
      '{"name":"x","auth":{"token":"sk-LEAKME"',
      '"sk-LEAKME',
      "sk-LEAKME",
    ]
  ) {
    const a = await f.call("POST", `${API}/upstreams`, body);
    assert.equal(a.status, 400, a.text);
    assert.ok(!a.text.includes("LEAKME"), a.text);
  }
});

Deno.test("DELETE endpoints answer the same with or without a hostile body", async () => {
  for (const path of DELETES) {
    const plain = await adminFixture().call("DELETE", path);
    for (
      const [body, type] of [
        ["{not json", "application/json"],
        ['{"constructor":1}', "application/json"],
        ["[".repeat(10_000), "application/json"],
        ["x", "text/plain"],
      ]
    ) {
      const a = await adminFixture().call("DELETE", path, body, { "content-type": type! });
      assert.equal(a.status, plain.status, `DELETE ${path} with ${body!.slice(0, 20)}: ${a.text}`);
      assert.ok(a.status < 500);
    }
  }
});

Deno.test("a body without Content-Length is read up to the limit only", async () => {
  const f = adminFixture();
  let pulled = 0;
  const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  const res = await f.app.request(`${API}/upstreams`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: endless,
    // @ts-ignore: needed by some runtimes for a stream body
    duplex: "half",
  }, { remoteAddr: "127.0.0.1" });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /larger than/);
  assert.ok(pulled <= MAX_BODY_BYTES + 3 * chunk.byteLength, `read ${pulled} bytes`);
});

Deno.test("parseJsonBody accepts ordinary bodies as they are", () => {
  assert.deepEqual(parseJsonBody('{"a":[1,{"b":"toString"}],"c":null}'), {
    a: [1, { b: "toString" }],
    c: null,
  });
  // Prototype names as values (an upstream called "constructor") are data, not keys.
  assert.deepEqual(parseJsonBody('{"name":"constructor"}'), { name: "constructor" });
  assert.throws(() => parseJsonBody('{"a":{"__proto__":{"x":1}}}'), /a\.__proto__: unknown key/);
});
