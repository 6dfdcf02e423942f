import assert from "node:assert/strict";
import {
  authorizationFor,
  clientResponseHeaders,
  upstreamRequestHeaders as build,
} from "./headers.ts";

/** The built list as Headers, for assertions. */
const upstreamRequestHeaders = (...args: Parameters<typeof build>) => new Headers(build(...args));

const info = { peer: "10.0.0.1", proto: "http", host: "proxy:3000", agent: "LLMProxy/1.0" };

Deno.test("hop-by-hop headers and those Connection names are removed", () => {
  const h = upstreamRequestHeaders(
    new Headers({
      connection: "keep-alive, x-secret-hop",
      "x-secret-hop": "1",
      "keep-alive": "timeout=5",
      te: "trailers",
      "proxy-authorization": "Basic Zm9v",
      upgrade: "h2c",
      "x-keep": "yes",
    }),
    info,
    [],
    null,
  );
  for (
    const n of ["connection", "x-secret-hop", "keep-alive", "te", "proxy-authorization", "upgrade"]
  ) {
    assert.equal(h.get(n), null, n);
  }
  assert.equal(h.get("x-keep"), "yes");
});

Deno.test("X-Forwarded-* and User-Agent are set", () => {
  const h = upstreamRequestHeaders(
    new Headers({ "x-forwarded-for": "1.1.1.1", "user-agent": "curl", host: "proxy:3000" }),
    info,
    [],
    null,
  );
  assert.equal(h.get("x-forwarded-for"), "1.1.1.1, 10.0.0.1");
  assert.equal(h.get("x-forwarded-proto"), "http");
  assert.equal(h.get("x-forwarded-host"), "proxy:3000");
  assert.equal(h.get("user-agent"), "LLMProxy/1.0");
  assert.equal(h.get("host"), null);
});

Deno.test("header ops: insert only when absent, replace sets, remove deletes all", () => {
  const h = upstreamRequestHeaders(
    new Headers({ "x-a": "client", "x-r": "client", "x-d": "client" }),
    info,
    [
      { op: "insert", key: "x-a", value: "ops" },
      { op: "insert", key: "x-b", value: "ops" },
      { op: "replace", key: "x-r", value: "ops" },
      { op: "remove", key: "x-d" },
    ],
    null,
  );
  assert.equal(h.get("x-a"), "client");
  assert.equal(h.get("x-b"), "ops");
  assert.equal(h.get("x-r"), "ops");
  assert.equal(h.get("x-d"), null);
});

Deno.test("configured auth replaces the client's Authorization; none keeps it", () => {
  const incoming = new Headers({ authorization: "Bearer client-key" });
  const bearer = upstreamRequestHeaders(
    incoming,
    info,
    [],
    authorizationFor({ type: "bearer", token: "sk-up" }),
  );
  assert.equal(bearer.get("authorization"), "Bearer sk-up");
  const basic = authorizationFor({ type: "basic", username: "ü", password: "p:w" });
  assert.equal(basic, `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode("ü:p:w")))}`);
  const none = upstreamRequestHeaders(incoming, info, [], authorizationFor({ type: "none" }));
  assert.equal(none.get("authorization"), "Bearer client-key");
});

Deno.test("response headers lose hop-by-hop fields only", () => {
  const h = clientResponseHeaders(
    new Headers({
      "content-type": "text/event-stream",
      "transfer-encoding": "chunked",
      connection: "close",
    }),
  );
  assert.equal(h.get("content-type"), "text/event-stream");
  assert.equal(h.get("transfer-encoding"), null);
  assert.equal(h.get("connection"), null);
});

Deno.test("X-Forwarded-Host/-Proto are kept only from a trusted proxy", () => {
  const incoming = new Headers({
    "x-forwarded-host": "spoofed.example",
    "x-forwarded-proto": "https",
  });
  const direct = upstreamRequestHeaders(incoming, info, [], null);
  assert.equal(direct.get("x-forwarded-host"), "proxy:3000");
  assert.equal(direct.get("x-forwarded-proto"), "http");
  const viaProxy = upstreamRequestHeaders(incoming, { ...info, trustForwarded: true }, [], null);
  assert.equal(viaProxy.get("x-forwarded-host"), "spoofed.example");
  assert.equal(viaProxy.get("x-forwarded-proto"), "https");
});
