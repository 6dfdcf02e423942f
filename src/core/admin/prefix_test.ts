import assert from "node:assert/strict";
import { adminSubpath, DEFAULT_ADMIN_PREFIX, normalizeAdminPrefix } from "./prefix.ts";

Deno.test("admin prefix: normalised to a leading slash and no trailing one", () => {
  assert.equal(normalizeAdminPrefix(undefined), DEFAULT_ADMIN_PREFIX);
  assert.equal(normalizeAdminPrefix(""), DEFAULT_ADMIN_PREFIX);
  assert.equal(normalizeAdminPrefix(" / "), DEFAULT_ADMIN_PREFIX);
  assert.equal(normalizeAdminPrefix("admin"), "/admin");
  assert.equal(normalizeAdminPrefix("/ops/llm/"), "/ops/llm");
});

Deno.test("admin prefix: whole segments only", () => {
  assert.equal(adminSubpath("/_llmproxy", "/_llmproxy"), "/");
  assert.equal(adminSubpath("/_llmproxy/health", "/_llmproxy"), "/health");
  assert.equal(adminSubpath("/_llmproxy/api/v1/groups", "/_llmproxy"), "/api/v1/groups");
  assert.equal(adminSubpath("/_llmproxyx/health", "/_llmproxy"), undefined);
  assert.equal(adminSubpath("/v1/chat/completions", "/_llmproxy"), undefined);
});
