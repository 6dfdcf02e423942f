import assert from "node:assert/strict";
import { targetUrl } from "./target_url.ts";

Deno.test("a bare upstream URL gets the client's path and query", () => {
  const u = new URL("http://vllm:8000");
  assert.equal(
    targetUrl(u, "/v1/chat/completions", "?a=1"),
    "http://vllm:8000/v1/chat/completions?a=1",
  );
  assert.equal(targetUrl(new URL("http://vllm:8000/"), "/x", ""), "http://vllm:8000/x");
});

Deno.test("an upstream URL with a path is the whole target", () => {
  const u = new URL("https://api.openai.com/v1/chat/completions");
  assert.equal(targetUrl(u, "/anything", ""), "https://api.openai.com/v1/chat/completions");
});

Deno.test("query parameters written in the upstream URL win over the client's", () => {
  const u = new URL("http://h/p?api-version=2024&x=1");
  assert.equal(
    targetUrl(u, "/c", "?api-version=old&keep=yes"),
    "http://h/p?keep=yes&api-version=2024&x=1",
  );
});

Deno.test("a url path that is a segment prefix of the client's path is a base", () => {
  const u = new URL("https://api.openai.com/v1");
  assert.equal(
    targetUrl(u, "/v1/chat/completions", ""),
    "https://api.openai.com/v1/chat/completions",
  );
  assert.equal(targetUrl(u, "/v1", ""), "https://api.openai.com/v1");
  assert.equal(
    targetUrl(new URL("https://h/v1/"), "/v1/models", "?a=1"),
    "https://h/v1/models?a=1",
  );
  // Not at a segment boundary, or not a prefix: the url's path is the whole target.
  assert.equal(targetUrl(u, "/v10/models", ""), "https://api.openai.com/v1");
  assert.equal(targetUrl(u, "/chat/completions", ""), "https://api.openai.com/v1");
});
