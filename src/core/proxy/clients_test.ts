/**
 * Client keys, permissions and limits through the gateway
 * (docs/behaviour.md#client-keys-and-limits).
 */
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { loadConfig } from "../config/mod.ts";
import { Gateway } from "./gateway.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";

const YAML = (auth: string) => `
http_server:
  forwards: [{ name: f, default_group: chat, client_auth: ${auth} }]
upstreams:
  - { name: u, url: "http://u.test", auth: { type: bearer, token: upstream-secret } }
upstream_groups:
  - { name: chat, upstreams: [{ name: u }] }
  - { name: other, upstreams: [{ name: u }] }
clients:
  - { name: team-a, key: sk-team-a, groups: [chat], models: ["gpt-4o*"] }
  - name: small
    key: sk-small
    limits: { requests_per_minute: 2 }
  - name: tokens
    key: sk-tokens
    limits: { tokens_per_minute: 100, tokens_per_day: 150 }
`;

function setup(auth = "required", reply?: (r: UpstreamRequest) => Response) {
  const loaded = loadConfig(YAML(auth));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const calls: UpstreamRequest[] = [];
  const transport: Transport = {
    send(r) {
      calls.push(r);
      return Promise.resolve(
        reply?.(r) ??
          Response.json({ model: "gpt-4o", usage: { prompt_tokens: 10, completion_tokens: 20 } }),
      );
    },
    close() {},
  };
  const lines: Record<string, unknown>[] = [];
  const clock = new ManualClock(Date.UTC(2026, 10, 30, 12, 0, 0));
  const gw = new Gateway({
    config: loaded.config,
    transports: () => transport,
    clock,
    logger: { log: (_l, msg, f) => lines.push({ msg, ...f }) },
  });
  const send = async (headers: Record<string, string>, body: unknown = { model: "gpt-4o" }) => {
    const r = new Request("http://p.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const res = await gw.handle("f", r, { remoteAddr: "1.2.3.4" });
    const text = await res.text();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    return { res, text };
  };
  return { gw, calls, lines, clock, send };
}

Deno.test("required: no key and an unknown key get 401 with WWW-Authenticate", async () => {
  const { send, calls, gw } = setup();
  const cases: Record<string, string>[] = [
    {},
    { authorization: "Bearer sk-nope" },
    { "x-api-key": "sk-nope" },
  ];
  for (const headers of cases) {
    const { res, text } = await send(headers);
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
    assert.equal(JSON.parse(text).error.code, "invalid_api_key");
  }
  assert.equal(calls.length, 0);
  assert.match(
    gw.metrics.encode(),
    /llmproxy_client_rejected_total\{client="unknown",reason="invalid_api_key"\} 3/,
  );
  assert.doesNotMatch(gw.metrics.encode(), /sk-nope/);
});

Deno.test("a known key passes (both headers) and never reaches the upstream", async () => {
  const { send, calls, lines } = setup();
  const cases: Record<string, string>[] = [
    { authorization: "Bearer sk-team-a" },
    { "x-api-key": "sk-team-a" },
  ];
  for (const headers of cases) {
    const { res } = await send(headers);
    assert.equal(res.status, 200);
  }
  for (const c of calls) {
    const h = new Map(c.headers);
    assert.equal(h.get("authorization"), "Bearer upstream-secret");
    assert.equal(h.has("x-api-key"), false);
  }
  const access = lines.filter((l) => l.msg === "access");
  assert.deepEqual(access.map((l) => l.client_name), ["team-a", "team-a"]);
  assert.ok(lines.every((l) => !JSON.stringify(l).includes("sk-team-a")));
});

Deno.test("optional: no key passes as anonymous; an unknown key is still 401", async () => {
  const { send, lines } = setup("optional");
  assert.equal((await send({})).res.status, 200);
  assert.equal((await send({ authorization: "Bearer sk-nope" })).res.status, 401);
  assert.equal(lines.find((l) => l.msg === "access")?.client_name, "anonymous");
});

Deno.test("403 permission_denied names the refused group or model", async () => {
  const { send, gw } = setup();
  const model = await send({ authorization: "Bearer sk-team-a" }, { model: "claude-3" });
  assert.equal(model.res.status, 403);
  assert.match(JSON.parse(model.text).error.message, /model "claude-3"/);
  assert.equal(JSON.parse(model.text).error.code, "permission_denied");
  const other = loadConfig(YAML("required").replace("default_group: chat", "default_group: other"));
  assert.ok(other.ok);
  gw.apply(other.config);
  const group = await send({ authorization: "Bearer sk-team-a" });
  assert.equal(group.res.status, 403);
  assert.match(JSON.parse(group.text).error.message, /group "other"/);
});

Deno.test("requests_per_minute: the third request in a minute is 429 rate_limited", async () => {
  const { send, clock } = setup();
  assert.equal((await send({ authorization: "Bearer sk-small" })).res.status, 200);
  assert.equal((await send({ authorization: "Bearer sk-small" })).res.status, 200);
  const third = await send({ authorization: "Bearer sk-small" });
  assert.equal(third.res.status, 429);
  assert.equal(JSON.parse(third.text).error.code, "rate_limited");
  assert.equal(third.res.headers.get("retry-after"), "30");
  clock.advance(30_000);
  assert.equal((await send({ authorization: "Bearer sk-small" })).res.status, 200);
});

Deno.test("token limits: reported usage replaces the estimate; window and day refuse", async () => {
  const { send, clock, gw } = setup();
  const key = { authorization: "Bearer sk-tokens" };
  // Each answer reports 30 tokens (10 + 20).
  for (let i = 0; i < 3; i++) assert.equal((await send(key)).res.status, 200);
  const usage = await gw.store.clients.usage("tokens");
  assert.equal(usage.tokens_last_minute, 90);
  // 90 used + an estimate of ceil(bytes/4) > 100: refused per minute.
  const big = await send(key, { model: "gpt-4o", pad: "x".repeat(60) });
  assert.equal(big.res.status, 429);
  assert.equal(JSON.parse(big.text).error.code, "tokens_rate_limited");
  clock.advance(61_000);
  assert.equal((await send(key)).res.status, 200); // 120 today
  assert.equal((await send(key)).res.status, 200); // 150 today
  const over = await send(key);
  assert.equal(over.res.status, 429);
  assert.equal(JSON.parse(over.text).error.code, "budget_exceeded");
  // Next UTC midnight from 12:01:01.
  assert.equal(Number(over.res.headers.get("retry-after")), 12 * 3600 - 61);
  assert.match(
    gw.metrics.encode(),
    /llmproxy_client_tokens_total\{client="tokens",type="output"\} 100/,
  );
});
