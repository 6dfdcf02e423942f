/**
 * Conformance of client keys and limits (docs/behaviour.md#client-keys-and-limits) on one daemon,
 * black box: 401 `invalid_api_key` without a key and with an unknown one (Bearer and `x-api-key`),
 * anonymous under `optional`, the key never reaching an upstream (also not past header
 * ops and upstream auth), 403 `permission_denied` for a group and for a model, each
 * limit refusing at the right request with its code and `Retry-After`, a daily budget
 * spent by a streamed answer, a key made through the admin API working at once, the
 * usage endpoint's figures, 50 concurrent requests against a token window sized for
 * 10, and the client metrics and access log.
 *
 * Clients are the official `openai` SDK where a client would use it, raw `fetch` for
 * `x-api-key` and for exact bodies. Every request carries a deadline (tests/deadline.ts);
 * the daemon is stopped by its PID in `finally`.
 */
import assert from "node:assert/strict";
import { OpenAI } from "../../dev_deps.ts";
import { type Answer, eventually, fetchAll } from "../deadline.ts";
import {
  type Daemon,
  type DaemonCommand,
  freePort,
  type RunningMock,
  startDaemon,
  startMock,
} from "./harness.ts";
import { parseMetrics } from "./suite_llm.ts";

/** One request (head and body) through the proxy, to a mock or to the admin API. */
const REQUEST_DEADLINE_MS = 10_000;
/** How long a settle (after the answer's end) may take to show in figures. */
const OBSERVE_DEADLINE_MS = 3_000;

/** Keys as configured; none of them may ever reach an upstream or a log line. */
const KEYS = {
  teamA: "sk-conf-team-a-0123456789abcdef",
  teamB: "sk-conf-team-b-0123456789abcdef",
  rpm: "sk-conf-rpm-0123456789abcdef",
  tpm: "sk-conf-tpm-0123456789abcdef",
  tpd: "sk-conf-tpd-0123456789abcdef",
  conc: "sk-conf-conc-0123456789abcdef",
  acct: "sk-conf-acct-0123456789abcdef",
  ord: "sk-conf-ord-0123456789abcdef",
  gone: "sk-conf-gone-0123456789abcdef",
} as const;
/** A key nobody has: it must not become a label value either. */
const UNKNOWN_KEY = "sk-conf-nobody-0123456789abcdef";

/** The concurrency case: bodies of exactly this many bytes, so each estimate is 1,000. */
const CONC_BODY_BYTES = 4_000;
/** Room for 10 estimates of 1,000 and not for 11. */
const CONC_TPM = 10_999;

interface Env {
  /** Forward with `client_auth: required`. */
  req: string;
  /** Forward with `client_auth: optional`. */
  opt: string;
  /** Forward with `client_auth: required` and a per-IP rate limit of burst 1. */
  ipl: string;
  admin: string;
  up: RunningMock;
  loc: RunningMock;
  daemon: Daemon;
  /** Keys the admin API generated during the run (secrets too). */
  generated: string[];
}

function configYaml(
  p: { req: number; opt: number; ipl: number; admin: number },
  up: RunningMock,
  loc: RunningMock,
  dead: string,
): string {
  return `
http_server:
  forwards:
    - name: req
      address: 127.0.0.1
      port: ${p.req}
      default_group: chat
      client_auth: required
      max_body_size: 64KiB
      routing:
        - { path: /local/*, target_group: local }
        - { path: /authed/*, target_group: authed }
        - { path: /dead/*, target_group: dead }
    - name: opt
      address: 127.0.0.1
      port: ${p.opt}
      default_group: chat
      client_auth: optional
    - name: ipl
      address: 127.0.0.1
      port: ${p.ipl}
      default_group: chat
      client_auth: required
      ratelimit: { per_second: 1, burst: 1 }
  admin: { address: 127.0.0.1, port: ${p.admin} }
clients:
  - name: team-a
    key: "${KEYS.teamA}"
    groups: [chat]
    models: ["gpt-4o*"]
  - { name: team-b, key: "${KEYS.teamB}" }
  - { name: rpm, key: "${KEYS.rpm}", limits: { requests_per_minute: 3 } }
  - { name: tpm, key: "${KEYS.tpm}", limits: { tokens_per_minute: 1000 } }
  - { name: tpd, key: "${KEYS.tpd}", limits: { tokens_per_day: 1000 } }
  - { name: conc, key: "${KEYS.conc}", limits: { tokens_per_minute: ${CONC_TPM} } }
  - { name: ord, key: "${KEYS.ord}", groups: [chat], limits: { requests_per_minute: 1 } }
  - { name: gone, key: "${KEYS.gone}", limits: { tokens_per_minute: 1000000 } }
  - name: acct
    key: "${KEYS.acct}"
    limits: { requests_per_minute: 1000, tokens_per_minute: 1000000, tokens_per_day: 100000000 }
upstreams:
  - { name: up, url: "${up.url}" }
  - { name: loc, url: "${loc.url}" }
  - name: au
    url: "${up.url}"
    auth: { type: bearer, token: upstream-bearer-token }
    headers: [{ op: insert, key: x-api-key, value: upstream-api-key }]
  - { name: dead, url: "${dead}" }
upstream_groups:
  - { name: chat, upstreams: [{ name: up }] }
  - { name: local, upstreams: [{ name: loc }] }
  - { name: authed, upstreams: [{ name: au }] }
  - { name: dead, upstreams: [{ name: dead }] }
`;
}

/** Registers the client keys and limits conformance cases for a daemon command. */
export function clientsSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: client keys and limits (docs/behaviour.md#client-keys-and-limits)`, async (t) => {
    const up = startMock({ name: "up", chunks: 3, chunkDelayMs: 5 });
    const loc = startMock({ name: "loc" });
    const p = { req: freePort(), opt: freePort(), ipl: freePort(), admin: freePort() };
    const dead = `http://127.0.0.1:${freePort()}`;
    let daemon: Daemon | undefined;
    try {
      daemon = await startDaemon(cmd, configYaml(p, up, loc, dead), p.admin);
      await cases(t, {
        req: `http://127.0.0.1:${p.req}`,
        opt: `http://127.0.0.1:${p.opt}`,
        ipl: `http://127.0.0.1:${p.ipl}`,
        admin: `http://127.0.0.1:${p.admin}`,
        up,
        loc,
        daemon,
        generated: [],
      });
    } finally {
      await daemon?.stop();
      await Promise.all([up.close(), loc.close()]);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Helpers

function sdk(base: string, apiKey: string, prefix = "/v1"): OpenAI {
  return new OpenAI({
    baseURL: `${base}${prefix}`,
    apiKey,
    maxRetries: 0,
    timeout: REQUEST_DEADLINE_MS,
  });
}

const MESSAGES = [{ role: "user" as const, content: "hi" }];

/** A chat completion body (JSON text). */
function chatBody(model = "gpt-4o-mini", extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages: MESSAGES, ...extra });
}

/** A chat completion body of exactly `bytes` bytes (ASCII padding in the content). */
function sizedBody(bytes: number): string {
  const empty = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "" }] });
  const body = JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "x".repeat(bytes - empty.length) }],
  });
  assert.equal(new TextEncoder().encode(body).byteLength, bytes);
  return body;
}

function post(
  url: string,
  headers: Record<string, string> = {},
  body = chatBody(),
): Promise<Answer> {
  return fetchAll(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    deadlineMs: REQUEST_DEADLINE_MS,
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Asserts the proxy's own error answer (docs/behaviour.md#error-answers). */
function assertProxyError(r: Answer, status: number, code: string, what = code): void {
  assert.equal(r.status, status, `${what}: ${r.text()}`);
  assert.equal(r.headers.get("x-llmproxy-error"), code, what);
  const body = r.json();
  assert.equal(body.error.code, code, what);
  assert.equal(body.error.type, "llmproxy_error", what);
  assert.equal(typeof body.error.message, "string", what);
}

/** The SDK's error for a call that must fail. */
async function sdkError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  assert.fail("the call succeeded");
}

// deno-lint-ignore no-explicit-any
async function adminCall(env: Env, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetchAll(`${env.admin}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    deadlineMs: REQUEST_DEADLINE_MS,
  });
  const text = r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function usageOf(env: Env, name: string): Promise<Record<string, unknown>> {
  const r = await adminCall(env, "GET", `/clients/${encodeURIComponent(name)}/usage`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.data;
}

/** Polls the usage endpoint until `check` holds (a settle follows the answer's end). */
async function usageUntil(
  env: Env,
  name: string,
  check: (u: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await eventually(
    `usage of ${name}`,
    async () => check(last = await usageOf(env, name)),
    OBSERVE_DEADLINE_MS,
    () => JSON.stringify(last),
  );
  return last;
}

async function metrics(env: Env): Promise<ReturnType<typeof parseMetrics>> {
  const r = await fetchAll(`${env.admin}/metrics`, { deadlineMs: 5_000, what: "GET /metrics" });
  assert.equal(r.status, 200);
  return parseMetrics(r.text());
}

function metricValue(
  samples: ReturnType<typeof parseMetrics>,
  name: string,
  labels: Record<string, string>,
): number {
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  ).reduce((sum, s) => sum + s.value, 0);
}

/** What upstreams received: the mock's own request log (headers as they arrived). */
async function mockRequests(
  m: RunningMock,
): Promise<{ path: string; headers: [string, string][] }[]> {
  const r = await fetchAll(`${m.url}/__mock/requests`, {
    deadlineMs: 5_000,
    what: `request log of ${m.mock.options.name}`,
  });
  assert.equal(r.status, 200);
  return r.json().requests;
}

/** Asserts no configured or sent client key appears in any header an upstream received. */
async function assertNoKeyUpstream(env: Env): Promise<number> {
  const secrets = [...Object.values(KEYS), UNKNOWN_KEY, ...env.generated];
  let seen = 0;
  for (const m of [env.up, env.loc]) {
    for (const rec of await mockRequests(m)) {
      seen++;
      for (const [name, value] of rec.headers) {
        for (const s of secrets) {
          assert.ok(!value.includes(s), `${m.mock.options.name} received the key in ${name}`);
        }
      }
    }
  }
  return seen;
}

/** Seconds from now to the next UTC midnight. */
function secondsToUtcMidnight(): number {
  const now = Date.now();
  return (Math.floor(now / 86_400_000) + 1) * 86_400 - now / 1000;
}

// ---------------------------------------------------------------------------------------
// Cases

async function cases(t: Deno.TestContext, env: Env): Promise<void> {
  const chatUrl = `${env.req}/v1/chat/completions`;

  await t.step("401 invalid_api_key without a key and with an unknown one", async () => {
    const none = await post(chatUrl);
    assertProxyError(none, 401, "invalid_api_key", "no key");
    assert.equal(none.headers.get("www-authenticate"), "Bearer");

    const unknownBearer = await post(chatUrl, bearer(UNKNOWN_KEY));
    assertProxyError(unknownBearer, 401, "invalid_api_key", "unknown Bearer key");
    assert.equal(unknownBearer.headers.get("www-authenticate"), "Bearer");

    const unknownApiKey = await post(chatUrl, { "x-api-key": UNKNOWN_KEY });
    assertProxyError(unknownApiKey, 401, "invalid_api_key", "unknown x-api-key");
    assert.equal(unknownApiKey.headers.get("www-authenticate"), "Bearer");

    // Another scheme is no key.
    const basic = await post(chatUrl, { authorization: `Basic ${btoa(`u:${KEYS.teamB}`)}` });
    assertProxyError(basic, 401, "invalid_api_key", "Basic credentials");

    // What the SDK shows for it.
    const e = await sdkError(
      sdk(env.req, UNKNOWN_KEY).chat.completions.create({ model: "gpt-4o", messages: MESSAGES }),
    );
    assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");

    // Nothing of it went upstream.
    assert.equal(env.up.mock.stats.requests, 0);
  });

  await t.step("a known key works through Bearer (the SDK) and through x-api-key", async () => {
    const { data, response } = await sdk(env.req, KEYS.teamA).chat.completions.create(
      { model: "gpt-4o-mini", messages: MESSAGES },
    ).withResponse();
    assert.equal(response.headers.get("x-mock-name"), "up");
    assert.match(data.choices[0]!.message.content ?? "", /Hello from up/);

    const viaHeader = await post(chatUrl, { "x-api-key": KEYS.teamB });
    assert.equal(viaHeader.status, 200, viaHeader.text());
    assert.equal(viaHeader.headers.get("x-mock-name"), "up");
  });

  await t.step("optional: no key passes as anonymous, an unknown key is still 401", async () => {
    const url = `${env.opt}/v1/chat/completions`;
    const anon = await post(url);
    assert.equal(anon.status, 200, anon.text());
    const unknown = await post(url, bearer(UNKNOWN_KEY));
    assertProxyError(unknown, 401, "invalid_api_key", "unknown key under optional");
    assert.equal(unknown.headers.get("www-authenticate"), "Bearer");
    const known = await post(url, { "x-api-key": KEYS.teamA });
    assert.equal(known.status, 200, known.text());

    let recs: Record<string, unknown>[] = [];
    await eventually(
      "access records of the optional forward",
      () => (recs = env.daemon.access().filter((r) => r.forward === "opt")).length >= 3,
      OBSERVE_DEADLINE_MS,
    );
    assert.deepEqual(
      recs.map((r) => [r.status, r.client_name]),
      [[200, "anonymous"], [401, null], [200, "team-a"]],
    );
    // The IP stays in `client`.
    for (const r of recs) assert.equal(r.client, "127.0.0.1");
    // Admitted requests are counted under the name they passed as, anonymous included.
    const s = await metrics(env);
    assert.equal(
      metricValue(s, "llmproxy_client_requests_total", { client: "anonymous" }),
      1,
      "llmproxy_client_requests_total{client=anonymous}",
    );
    assert.ok(metricValue(s, "llmproxy_client_tokens_total", { client: "anonymous" }) > 0);
  });

  await t.step(
    "the key never reaches an upstream, also past header ops and upstream auth",
    async () => {
      // Both ways of sending it, to a member with no auth of its own…
      await post(chatUrl, { ...bearer(KEYS.teamB), "x-api-key": KEYS.teamB });
      // …and to one with bearer auth and an `insert x-api-key` header op: insert adds only
      // when absent, so the client's x-api-key must be gone before header ops run.
      const r = await post(`${env.req}/authed/v1/chat/completions`, {
        ...bearer(KEYS.teamB),
        "x-api-key": KEYS.teamB,
      });
      assert.equal(r.status, 200, r.text());
      const log = await mockRequests(env.up);
      const last = new Map(log.at(-1)!.headers);
      assert.equal(last.get("authorization"), "Bearer upstream-bearer-token");
      assert.equal(last.get("x-api-key"), "upstream-api-key");
      const before = new Map(log.at(-2)!.headers);
      assert.equal(before.has("authorization"), false, JSON.stringify([...before]));
      assert.equal(before.has("x-api-key"), false, JSON.stringify([...before]));
      assert.ok((await assertNoKeyUpstream(env)) >= 5);
    },
  );

  await t.step("403 permission_denied for a group and for a model", async () => {
    const client = sdk(env.req, KEYS.teamA);
    const group = await sdkError(
      sdk(env.req, KEYS.teamA, "/local/v1").chat.completions.create(
        { model: "gpt-4o-mini", messages: MESSAGES },
      ),
    );
    assert.ok(group instanceof OpenAI.PermissionDeniedError, String(group));
    assert.equal(group.code, "permission_denied");
    assert.match(group.message, /group "local"/);

    const model = await sdkError(
      client.chat.completions.create({ model: "claude-3-haiku", messages: MESSAGES }),
    );
    assert.ok(model instanceof OpenAI.PermissionDeniedError, String(model));
    assert.equal(model.code, "permission_denied");
    assert.match(model.message, /model "claude-3-haiku"/);

    const raw = await post(`${env.req}/local/v1/chat/completions`, bearer(KEYS.teamA));
    assertProxyError(raw, 403, "permission_denied");
    // A client without a groups list reaches that group.
    const other = await post(`${env.req}/local/v1/chat/completions`, bearer(KEYS.teamB));
    assert.equal(other.status, 200, other.text());
    assert.equal(other.headers.get("x-mock-name"), "loc");
    assert.equal(env.loc.mock.stats.requests, 1);
  });

  await t.step("requests_per_minute: 3 → the 4th is 429 rate_limited", async () => {
    const client = sdk(env.req, KEYS.rpm);
    for (let i = 0; i < 3; i++) {
      await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    }
    const e = await sdkError(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }),
    );
    assert.ok(e instanceof OpenAI.RateLimitError, String(e));
    assert.equal(e.code, "rate_limited");
    // The bucket refills 3/60 per second: one request in 20 s.
    const ra = Number(e.headers?.get("retry-after"));
    assert.ok(ra >= 15 && ra <= 20, `Retry-After ${ra}`);
    const raw = await post(chatUrl, bearer(KEYS.rpm));
    assertProxyError(raw, 429, "rate_limited");
  });

  await t.step("tokens_per_minute: 1000 → refused once used + estimate is over", async () => {
    const usage = { "x-mock-input-tokens": "300", "x-mock-output-tokens": "100" };
    const body = chatBody();
    const estimate = Math.ceil(body.length / 4);
    // 400 each: 0, 400 and 800 used before, each + estimate ≤ 1000 → admitted.
    for (let i = 0; i < 3; i++) {
      const r = await post(chatUrl, { ...bearer(KEYS.tpm), ...usage }, body);
      assert.equal(r.status, 200, `request ${i + 1}: ${r.text()}`);
      await usageUntil(env, "tpm", (u) => u.tokens_last_minute === 400 * (i + 1));
    }
    // 1,200 used: the 4th is refused.
    const r = await post(chatUrl, { ...bearer(KEYS.tpm), ...usage }, body);
    assertProxyError(r, 429, "tokens_rate_limited");
    // Until the first 400 leave the window (60 s after they were recorded).
    const ra = Number(r.headers.get("retry-after"));
    assert.ok(ra >= 45 && ra <= 61, `Retry-After ${ra}`);
    assert.ok(estimate < 200);
    const u = await usageOf(env, "tpm");
    assert.equal(u.requests_last_minute, 3);
    assert.equal(u.tokens_last_minute, 1_200);
    assert.equal(u.tokens_today, 1_200);
  });

  await t.step(
    "tokens_per_day spent by a streamed answer → budget_exceeded until midnight",
    async () => {
      // The usage comes from the SSE stream's usage chunk (asked for with include_usage).
      const stream = await sdk(env.req, KEYS.tpd).chat.completions.create(
        {
          model: "gpt-4o-mini",
          stream: true,
          stream_options: { include_usage: true },
          messages: MESSAGES,
        },
        {
          headers: {
            "x-mock-input-tokens": "700",
            "x-mock-output-tokens": "290",
            "x-mock-stream-usage": "requested",
            "x-mock-chunks": "3",
          },
        },
      );
      let reported: number | undefined;
      for await (const c of stream) if (c.usage) reported = c.usage.total_tokens;
      assert.equal(reported, 990);
      const u = await usageUntil(env, "tpd", (u) => u.tokens_today === 990);
      assert.equal(u.tokens_last_minute, 990);

      // 990 + any estimate (a chat body is over 40 bytes) > 1000.
      const r = await post(chatUrl, bearer(KEYS.tpd));
      assertProxyError(r, 429, "budget_exceeded");
      const ra = Number(r.headers.get("retry-after"));
      const expected = secondsToUtcMidnight();
      assert.ok(Math.abs(ra - expected) <= 2, `Retry-After ${ra}, to midnight ${expected}`);

      // The SDK sees the same.
      const e = await sdkError(
        sdk(env.req, KEYS.tpd).chat.completions.create({ model: "gpt-4o", messages: MESSAGES }),
      );
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.equal(e.code, "budget_exceeded");

      const s = await metrics(env);
      const tokens = (type: string) =>
        metricValue(s, "llmproxy_client_tokens_total", { client: "tpd", type });
      assert.equal(tokens("input"), 700);
      assert.equal(tokens("output"), 290);
    },
  );

  await t.step("a key created through the admin API works at once; GET shows ***", async () => {
    const created = await adminCall(env, "POST", "/clients", {
      name: "made",
      limits: { requests_per_minute: 2 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const key: string = created.json.data.key;
    env.generated.push(key);
    assert.match(key, /^sk-llmproxy-[A-Za-z0-9_-]{43}$/);
    const digest = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal(created.json.data.key_sha256, digest);

    // The next request, with the SDK.
    const client = sdk(env.req, key);
    const { response } = await client.chat.completions.create(
      { model: "gpt-4o-mini", messages: MESSAGES },
    ).withResponse();
    assert.equal(response.status, 200);

    const one = await adminCall(env, "GET", "/clients/made");
    assert.equal(one.status, 200);
    assert.equal(one.json.data.key, "***");
    assert.equal(one.json.data.key_sha256, digest);
    const list = await adminCall(env, "GET", "/clients");
    assert.equal(list.status, 200);
    for (const c of list.json.data) assert.equal(c.key, "***", c.name);
    assert.ok(!JSON.stringify(list.json).includes(key));
    assert.ok(!JSON.stringify(list.json).includes(KEYS.teamA));

    // And its limit applies: the third request in the minute is refused.
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const e = await sdkError(
      client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }),
    );
    assert.ok(e instanceof OpenAI.RateLimitError, String(e));
    assert.equal(e.code, "rate_limited");

    // Deleted: the key stops working at once.
    assert.equal((await adminCall(env, "DELETE", "/clients/made")).status, 204);
    const gone = await post(chatUrl, bearer(key));
    assertProxyError(gone, 401, "invalid_api_key", "deleted client's key");
  });

  await t.step("usage endpoint: figures match what was sent", async () => {
    const h = { ...bearer(KEYS.acct), "x-mock-input-tokens": "100", "x-mock-output-tokens": "20" };
    // Two JSON answers and one stream (usage chunk always sent by default): 120 each.
    for (let i = 0; i < 2; i++) assert.equal((await post(chatUrl, h)).status, 200);
    const streamed = await post(chatUrl, h, chatBody("gpt-4o-mini", { stream: true }));
    assert.equal(streamed.status, 200);
    assert.ok(streamed.text().includes('"total_tokens":120'), streamed.text());
    // No usage reported: the estimate, ceil(bytes / 4), is kept.
    const noUsageBody = chatBody("gpt-4o-mini", { user: "x".repeat(401) });
    const estimate = Math.ceil(new TextEncoder().encode(noUsageBody).byteLength / 4);
    const nu = await post(chatUrl, { ...bearer(KEYS.acct), "x-mock-no-usage": "1" }, noUsageBody);
    assert.equal(nu.status, 200);
    // No upstream answered: nothing is counted (the reservation is given back).
    const dead = await post(`${env.req}/dead/v1/chat/completions`, bearer(KEYS.acct), noUsageBody);
    assertProxyError(dead, 502, "upstream_unreachable");

    const tokens = 3 * 120 + estimate;
    const u = await usageUntil(env, "acct", (u) => u.tokens_today === tokens);
    assert.deepEqual(u, {
      requests_last_minute: 5,
      tokens_last_minute: tokens,
      tokens_today: tokens,
      limits: { requests_per_minute: 1000, tokens_per_minute: 1000000, tokens_per_day: 100000000 },
    });
    const missing = await adminCall(env, "GET", "/clients/nobody/usage");
    assert.equal(missing.status, 404);
  });

  await t.step("order: per-IP limit → key → body → permission → client limits", async () => {
    // The per-IP limit (burst 1) comes before the key: the second keyless request is a 429.
    const ipUrl = `${env.ipl}/v1/chat/completions`;
    assertProxyError(await post(ipUrl), 401, "invalid_api_key", "first, no key");
    assertProxyError(await post(ipUrl), 429, "rate_limited", "second, per-IP limit");
    // The key comes before the body: no key and a body over max_body_size (64 KiB) → 401.
    const big = chatBody("gpt-4o-mini", { user: "x".repeat(100_000) });
    assertProxyError(await post(chatUrl, {}, big), 401, "invalid_api_key", "big body, no key");
    assertProxyError(
      await post(chatUrl, bearer(KEYS.teamB), big),
      413,
      "body_too_large",
      "big body, known key",
    );
    // Permission before the client's limits: over its one request per minute, a group it
    // may not use is still a 403, and a group it may use a 429.
    assert.equal((await post(chatUrl, bearer(KEYS.ord))).status, 200);
    assertProxyError(
      await post(`${env.req}/local/v1/chat/completions`, bearer(KEYS.ord)),
      403,
      "permission_denied",
      "forbidden group, over the limit",
    );
    assertProxyError(await post(chatUrl, bearer(KEYS.ord)), 429, "rate_limited", "over");
  });

  await t.step("a client that leaves mid-stream is charged the estimate", async () => {
    const body = chatBody("gpt-4o-mini", { stream: true });
    const estimate = Math.ceil(body.length / 4);
    const ac = new AbortController();
    const res = await fetch(chatUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...bearer(KEYS.gone),
        "x-mock-chunks": "50",
        "x-mock-chunk-delay": "100",
        "x-mock-input-tokens": "5000",
      },
      body,
      signal: AbortSignal.any([ac.signal, AbortSignal.timeout(REQUEST_DEADLINE_MS)]),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read(); // the first event; the usage chunk would come 5 s later
    ac.abort();
    await reader.cancel().catch(() => {});
    // The exchange ended (client_gone in the access log, the upstream stream aborted)…
    await eventually(
      "the access record of the stream the client left",
      () =>
        env.daemon.access().some((r) => r.client_name === "gone" && r.error === "client_gone") &&
        env.up.mock.stats.streams_aborted >= 1,
      OBSERVE_DEADLINE_MS,
      () =>
        JSON.stringify({
          access: env.daemon.access().filter((r) => r.client_name === "gone"),
          mock: env.up.mock.stats,
        }),
    );
    // …without usage: the estimate stays charged (not the 5,000 the end would have said).
    const u = await usageUntil(
      env,
      "gone",
      (u) => u.tokens_today === estimate && u.requests_last_minute === 1,
    );
    assert.equal(u.tokens_last_minute, estimate);
  });

  await t.step("50 concurrent requests, tokens_per_minute sized for 10 → 10 admitted", async () => {
    const body = sizedBody(CONC_BODY_BYTES); // estimate 1,000 each
    const before = env.up.mock.stats.requests;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        post(chatUrl, {
          ...bearer(KEYS.conc),
          // Held answers keep the reservations outstanding while the others arrive.
          "x-mock-latency": "1500",
          "x-mock-input-tokens": "1000",
          "x-mock-output-tokens": "0",
        }, body)),
    );
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status !== 200);
    assert.ok(ok.length <= 10, `${ok.length} admitted`);
    assert.equal(ok.length, 10, `${ok.length} admitted`);
    for (const r of refused) {
      assertProxyError(r, 429, "tokens_rate_limited");
      assert.ok(Number(r.headers.get("retry-after")) >= 1);
    }
    assert.equal(env.up.mock.stats.requests - before, 10);
    const u = await usageUntil(env, "conc", (u) => u.tokens_last_minute === 10_000);
    assert.equal(u.requests_last_minute, 10);
  });

  await t.step("metrics count per client; unknown keys never become labels", async () => {
    const s = await metrics(env);
    const val = (name: string, labels: Record<string, string>) => metricValue(s, name, labels);
    assert.equal(val("llmproxy_client_requests_total", { client: "team-a" }), 2);
    assert.equal(val("llmproxy_client_requests_total", { client: "rpm" }), 3);
    assert.equal(val("llmproxy_client_requests_total", { client: "conc" }), 10);
    assert.equal(
      val("llmproxy_client_rejected_total", { client: "rpm", reason: "rate_limited" }),
      2,
    );
    assert.equal(
      val("llmproxy_client_rejected_total", { client: "tpm", reason: "tokens_rate_limited" }),
      1,
    );
    assert.equal(
      val("llmproxy_client_rejected_total", { client: "tpd", reason: "budget_exceeded" }),
      2,
    );
    assert.equal(
      val("llmproxy_client_rejected_total", { client: "conc", reason: "tokens_rate_limited" }),
      40,
    );
    assert.equal(
      val("llmproxy_client_rejected_total", { client: "team-a", reason: "permission_denied" }),
      3,
    );
    assert.ok(
      val("llmproxy_client_rejected_total", { client: "unknown", reason: "invalid_api_key" }) >= 6,
    );
    assert.equal(val("llmproxy_client_tokens_total", { client: "acct", type: "input" }), 300);
    assert.equal(val("llmproxy_client_tokens_total", { client: "acct", type: "output" }), 60);
    for (const x of s) {
      for (const v of Object.values(x.labels)) {
        assert.ok(!v.startsWith("sk-"), `label value ${v} of ${x.name}`);
      }
    }
  });

  await t.step("access log names the client; no key in any log line", async () => {
    const recs = env.daemon.access();
    const names = new Set(recs.map((r) => r.client_name));
    for (const n of ["team-a", "team-b", "rpm", "tpm", "tpd", "conc", "acct", "made"]) {
      assert.ok(names.has(n), `no access record names ${n}`);
    }
    const refused = recs.filter((r) => r.client_name === "conc" && r.status === 429);
    assert.equal(refused.length, 40);
    const secrets = [...Object.values(KEYS), UNKNOWN_KEY, ...env.generated];
    for (const line of [...env.daemon.lines, ...env.daemon.errLines]) {
      for (const s of secrets) assert.ok(!line.includes(s), `a log line holds a key: ${line}`);
    }
    await assertNoKeyUpstream(env);
  });
}
