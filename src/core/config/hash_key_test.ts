import assert from "node:assert/strict";
import { formatHashKey, parseHashKey } from "./hash_key.ts";

function ok(value: unknown) {
  const r = parseHashKey(value);
  assert.ok(r.ok, `${JSON.stringify(value)}: ${r.ok ? "" : r.error}`);
  return r.spec;
}

function error(value: unknown): string {
  const r = parseHashKey(value);
  assert.ok(!r.ok, `${JSON.stringify(value)} was accepted`);
  return r.error;
}

Deno.test("hash_key accepts the three forms and normalises header names", () => {
  assert.deepEqual(ok("client_ip"), { source: "client_ip" });
  assert.deepEqual(ok("header:X-Session-Id"), { source: "header", name: "x-session-id" });
  assert.deepEqual(ok("header:x_user"), { source: "header", name: "x_user" });
  assert.deepEqual(ok("body:user"), { source: "body", field: "user" });
  assert.deepEqual(ok("body:prompt_cache_key"), { source: "body", field: "prompt_cache_key" });
  // A field name is taken literally, colons and case included.
  assert.deepEqual(ok("body:Tenant:ID"), { source: "body", field: "Tenant:ID" });
});

Deno.test("hash_key round-trips through its config spelling", () => {
  for (const v of ["client_ip", "header:x-session-id", "body:user", "body:a:b"]) {
    assert.equal(formatHashKey(ok(v)), v);
  }
  assert.equal(formatHashKey(ok("header:X-A")), "header:x-a");
});

Deno.test("hash_key rejects everything else with a message that says what is allowed", () => {
  const forms = /"header:<name>", "client_ip" or "body:<field>"/;
  const cases: [unknown, RegExp][] = [
    [42, /must be a string.*got number/],
    [null, /got null/],
    [["client_ip"], /got a list/],
    ["", /got ""/],
    ["x-session-id", /got "x-session-id"$/],
    ["client-ip", /did you mean "client_ip"\?/],
    ["ip", /did you mean "client_ip"\?/],
    ["header", /e\.g\. "header:x-session-id"/],
    ["body", /e\.g\. "body:user"/],
    ["client_ip:x", /"client_ip" takes no argument/],
    ["cookie:sid", /unknown key source "cookie"/],
    ["Header:X-Id", /did you mean "header:X-Id"\?/],
    ["header:", /the header name is missing/],
    ["header:x session", /"x session" is not a valid HTTP header name/],
    ["header: x-id", /did you mean "header:x-id"\?/],
    ["header:x-ä", /not a valid HTTP header name/],
    ["body:", /the field name is missing/],
    ["body: user", /leading or trailing spaces; did you mean "body:user"\?/],
    ["body:   ", /leading or trailing spaces$/],
    ["body:metadata.user_id", /only a top-level field/],
    ["body:messages[0]", /only a top-level field/],
    ["body:a\nb", /control characters/],
  ];
  for (const [value, want] of cases) {
    const e = error(value);
    assert.match(e, forms, e);
    assert.match(e, want, e);
  }
});
