import assert from "node:assert/strict";
import { bearerToken, constantTimeEqual, tokenChecker } from "./auth.ts";

Deno.test("tokenChecker accepts exactly the configured token", async () => {
  const check = tokenChecker("s3cret-token");
  assert.equal(await check.matches("s3cret-token"), true);
  for (const wrong of ["", "s3cret-toke", "s3cret-tokenX", "S3cret-token", "x".repeat(1000)]) {
    assert.equal(await check.matches(wrong), false, wrong);
  }
});

Deno.test("constantTimeEqual compares whole arrays", () => {
  assert.ok(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])));
  assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])));
});

Deno.test("bearerToken reads the Bearer scheme only", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer   abc  "), "abc");
  assert.equal(bearerToken("Basic abc"), undefined);
  assert.equal(bearerToken("Bearer"), undefined);
  assert.equal(bearerToken(null), undefined);
});
