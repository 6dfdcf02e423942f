import assert from "node:assert/strict";
import { decodeRouteId, encodeRouteId } from "./route_id.ts";
import { b64url } from "./_test_helpers.ts";

const PATTERNS = [
  "/",
  "/v1/*",
  "/v1/chat/completions",
  "/api/items/{id:[0-9]+}",
  "/api/users/:id",
  "/ünïcödé/ß/*",
  "/a?b",
  "/x~y",
];

Deno.test("route ids are URL-safe base64 without padding and round-trip", () => {
  for (const p of PATTERNS) {
    const id = encodeRouteId(p);
    assert.equal(id, b64url(p), p);
    assert.match(id, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeRouteId(id), { ok: true, path: p });
  }
  assert.equal(encodeRouteId("/v1/*"), "L3YxLyo");
});

Deno.test("route ids: padding is optional on input", () => {
  for (const p of PATTERNS) {
    const id = encodeRouteId(p);
    const padded = id + "=".repeat((4 - (id.length % 4)) % 4);
    assert.deepEqual(decodeRouteId(padded), { ok: true, path: p });
  }
});

Deno.test("route ids: bad base64 is refused with a reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["===", /empty/],
    ["L3Yx+yo", /outside the URL-safe alphabet.*instead of "\+"/],
    ["L3Yx/yo", /outside the URL-safe alphabet/],
    ["L3Y x", /outside/],
    ["L", /length of 1/],
    ["L3YxL", /length of 5/],
    ["L3=Yx", /padding at the end/],
    ["L3Yx Lyo=", /outside/],
    ["L3YxLyo==", /wrong amount of padding/],
    ["_w", /not UTF-8/],
  ];
  for (const [id, why] of cases) {
    const r = decodeRouteId(id);
    assert.equal(r.ok, false, id);
    if (!r.ok) assert.match(r.message, why, id);
  }
});
