import assert from "node:assert/strict";
import { peerAddress } from "./access.ts";
import { adminFixture, b64url } from "./_test_helpers.ts";

const API = "/api/v1";

/** Peers that are the machine itself, in the spellings runtimes report. */
const LOOPBACK = ["127.0.0.1", "127.9.8.7", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"];

/** Peers (or no peer) that are not; `undefined` is a request without a peer address. */
const REMOTE = [
  undefined,
  "",
  "10.0.0.7",
  "192.168.1.20",
  "0.0.0.0",
  "::",
  "fe80::1",
  "::ffff:10.0.0.1",
  "2001:db8::1",
  "localhost",
  "127.0.0.1.evil.example",
  "127.000.000.001",
];

/**
 * Every endpoint behind the rule: each read and write of
 * docs/behaviour.md#endpoints-and-live-changes, and unknown paths.
 */
const GUARDED: [string, string, unknown?][] = [
  ["GET", `${API}/forwards`],
  ["GET", `${API}/forwards/main`],
  ["GET", `${API}/forwards/main/routes`],
  ["POST", `${API}/forwards/main/routes`, { path: "/x", target_group: "backup" }],
  ["GET", `${API}/forwards/main/routes/${b64url("/v1/*")}`],
  ["PUT", `${API}/forwards/main/routes/${b64url("/v1/*")}`, { target_group: "backup" }],
  ["DELETE", `${API}/forwards/main/routes/${b64url("/v1/*")}`],
  ["GET", `${API}/upstream-groups`],
  ["GET", `${API}/upstream-groups/backup`],
  ["PATCH", `${API}/upstream-groups/backup`, { upstreams: [{ name: "spare" }] }],
  ["GET", `${API}/upstreams`],
  ["GET", `${API}/upstreams/openai`],
  ["POST", `${API}/upstreams`, { name: "evil", url: "http://evil.example" }],
  ["PUT", `${API}/upstreams/local`, { url: "http://evil.example" }],
  ["DELETE", `${API}/upstreams/spare`],
  ["GET", `${API}/openapi.json`],
  ["GET", `${API}/docs`],
  ["GET", `${API}/nope`],
  ["GET", API],
  ["GET", "/admin"],
  ["GET", "/health/"],
];

async function send(
  f: ReturnType<typeof adminFixture>,
  method: string,
  path: string,
  body: unknown,
  peer: string | undefined,
  headers: Record<string, string> = {},
) {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await f.app.request(
    path,
    init,
    peer === undefined ? undefined : { remoteAddr: peer },
  );
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

Deno.test("no token: every admin endpoint answers 403 to a peer off loopback, and nothing changes", async () => {
  const f = adminFixture({ debug: true });
  const before = f.gateway.config;
  for (const peer of REMOTE) {
    for (const [method, path, body] of GUARDED) {
      const a = await send(f, method, path, body, peer);
      const where = `${method} ${path} from ${JSON.stringify(peer)}`;
      assert.equal(a.status, 403, `${where}: ${a.text}`);
      const env = JSON.parse(a.text);
      assert.equal(env.code, 403, where);
      assert.equal(env.status, "error", where);
      assert.equal(env.error.type, "Unauthorized", where);
      assert.match(env.error.message, /LLMPROXY_ADMIN_AUTH_TOKEN is not set/, where);
      assert.match(env.error.message, /loopback/, where);
      assert.equal(a.headers.get("www-authenticate"), null, where);
    }
  }
  assert.equal(f.gateway.config, before, "no write from off loopback went through");
});

Deno.test("no token: the 403 says where the call came from (or that nobody said)", async () => {
  const f = adminFixture();
  const from = await send(f, "GET", `${API}/upstreams`, undefined, "10.0.0.7");
  assert.match(JSON.parse(from.text).error.message, /came from "10\.0\.0\.7"/);
  const unknown = await send(f, "GET", `${API}/upstreams`, undefined, undefined);
  assert.match(JSON.parse(unknown.text).error.message, /came from an unknown address/);
});

Deno.test("no token: loopback peers get the whole API", async () => {
  for (const peer of LOOPBACK) {
    const f = adminFixture({ debug: true });
    for (const [method, path, body] of GUARDED) {
      const a = await send(f, method, path, body, peer);
      assert.notEqual(a.status, 403, `${method} ${path} from ${peer}: ${a.text}`);
      assert.ok(a.status < 500, `${method} ${path} from ${peer}: ${a.text}`);
    }
    assert.ok(f.gateway.config.upstreams.some((u) => u.name === "evil"), peer);
  }
});

Deno.test("no token: /health, /ready and /metrics stay open to everyone", async () => {
  const f = adminFixture();
  for (const peer of [...REMOTE, ...LOOPBACK]) {
    for (const path of ["/health", "/ready", "/metrics"]) {
      const a = await send(f, "GET", path, undefined, peer);
      assert.equal(a.status, 200, `${path} from ${JSON.stringify(peer)}: ${a.text}`);
    }
  }
});

Deno.test("with a token: the bearer decides, from any address; loopback is no exception", async () => {
  const f = adminFixture({ authToken: "s3cret-token" });
  for (const peer of [...REMOTE, ...LOOPBACK]) {
    const where = JSON.stringify(peer);
    const ok = await send(f, "GET", `${API}/upstreams`, undefined, peer, {
      authorization: "Bearer s3cret-token",
    });
    assert.equal(ok.status, 200, where);
    const none = await send(f, "GET", `${API}/upstreams`, undefined, peer);
    assert.equal(none.status, 401, where);
    assert.equal(none.headers.get("www-authenticate"), "Bearer", where);
    const wrong = await send(f, "DELETE", `${API}/upstreams/spare`, undefined, peer, {
      authorization: "Bearer guess",
    });
    assert.equal(wrong.status, 401, where);
    for (const path of ["/health", "/ready", "/metrics"]) {
      assert.equal((await send(f, "GET", path, undefined, peer)).status, 200, `${path} ${where}`);
    }
    // Paths outside /api/v1 (an admin page added later) need the token as well.
    for (const path of ["/admin", "/health/", "/"]) {
      assert.equal((await send(f, "GET", path, undefined, peer)).status, 401, `${path} ${where}`);
    }
  }
  assert.ok(f.gateway.config.upstreams.some((u) => u.name === "spare"));
});

Deno.test("the peer address is read from fetch's second argument, strictly", () => {
  assert.equal(peerAddress({ remoteAddr: "127.0.0.1" }), "127.0.0.1");
  assert.equal(peerAddress({ remoteAddr: "::1", signal: new AbortController().signal }), "::1");
  for (const env of [undefined, null, {}, { remoteAddr: "" }, { remoteAddr: 1 }, "127.0.0.1"]) {
    assert.equal(peerAddress(env), undefined, JSON.stringify(env));
  }
  // Deno.serve's info object carries an address object, not a string: not accepted.
  assert.equal(peerAddress({ remoteAddr: { hostname: "127.0.0.1", port: 1 } }), undefined);
});

Deno.test("the app's fetch takes the peer like a server passes it", async () => {
  const f = adminFixture();
  const req = () => new Request("http://admin.local/api/v1/forwards");
  const local = await f.app.fetch(req(), { remoteAddr: "::1" });
  assert.equal(local.status, 200);
  await local.body?.cancel();
  // A Worker (or any caller) that passes no peer is refused without a token.
  const bare = await f.app.fetch(req());
  assert.equal(bare.status, 403);
  await bare.body?.cancel();
});
