import assert from "node:assert/strict";
import type { Finding } from "./diagnostics.ts";
import { expandEnv, expandString } from "./env.ts";
import { withProtoAccessor } from "./_test_helpers.ts";

const vars: Record<string, string> = { HOST: "example.com", PORT: "8080", EMPTY: "" };
const env = (name: string) => vars[name];

Deno.test("expandString: ${VAR}, ${VAR:-default} and $${", () => {
  const f: Finding[] = [];
  assert.equal(
    expandString("https://${HOST}:${PORT}/v1", env, f, []),
    "https://example.com:8080/v1",
  );
  assert.equal(expandString("${MISSING:-fallback}", env, f, []), "fallback");
  assert.equal(expandString("${HOST:-fallback}", env, f, []), "example.com");
  assert.equal(expandString("${EMPTY:-fallback}", env, f, []), "fallback");
  assert.equal(expandString("${EMPTY}", env, f, []), "");
  assert.equal(expandString("${MISSING:-}", env, f, []), "");
  assert.equal(expandString("$${HOST} costs $5", env, f, []), "${HOST} costs $5");
  assert.equal(expandString("no references", env, f, []), "no references");
  assert.deepEqual(f, []);
});

Deno.test("expandString: a missing variable names the variable and the path", () => {
  const f: Finding[] = [];
  assert.equal(
    expandString("Bearer ${TOKEN}", env, f, ["upstreams", 0, "auth", "token"]),
    "Bearer ${TOKEN}",
  );
  assert.deepEqual(f, [{
    severity: "error",
    path: ["upstreams", 0, "auth", "token"],
    message:
      'environment variable "TOKEN" is not set and has no default (write ${TOKEN:-value} to give one)',
  }]);
});

Deno.test("expandString: malformed references are errors", () => {
  for (const bad of ["${", "${HOST", "${1X}", "${HOST:=x}", "${}"]) {
    const f: Finding[] = [];
    expandString(bad, env, f, ["x"]);
    assert.equal(f.length, 1, bad);
    assert.match(f[0]!.message, /^invalid variable reference in /);
  }
});

Deno.test("expandEnv: every string value at any depth, never keys, input untouched", () => {
  const input = { "${HOST}": "${HOST}", list: ["${PORT}", 1, true, null, { deep: "${HOST}" }] };
  const f: Finding[] = [];
  const out = expandEnv(input, env, f);
  assert.deepEqual(out, {
    "${HOST}": "example.com",
    list: ["8080", 1, true, null, { deep: "example.com" }],
  });
  assert.equal(input.list[0], "${PORT}");
  assert.deepEqual(f, []);
});

Deno.test("expandEnv keeps a __proto__ key as an own key, where __proto__ is a setter too", () => {
  const input = JSON.parse('{"__proto__": {"name": "${NAME}"}, "url": "x"}');
  for (const run of [<T>(fn: () => T) => fn(), withProtoAccessor]) {
    const out = run(() => expandEnv(input, () => "n", [])) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ["__proto__", "url"]);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, { name: "n" });
  }
});
