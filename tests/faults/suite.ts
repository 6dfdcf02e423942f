/**
 * The fault suite: what a daemon does when its upstreams misbehave and its clients are
 * hostile (docs/behaviour.md: #availability-and-breakers,
 * #forwarding, #error-answers, #robustness). Registered once per daemon command by
 * `deno_test.ts` and `node_test.ts`.
 *
 * Every case states what the client sees (status, `x-llmproxy-error`, the OpenAI error
 * shape, or a cut connection), what `/metrics` records, what the breaker does, and that
 * the daemon still serves a normal request afterwards with every in-flight gauge back
 * at 0. Every wait is bounded; a step past its deadline fails.
 *
 * Three daemons per runtime: upstream faults, hostile clients, descriptor pressure.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RunningMock, startMock } from "../conformance/harness.ts";
import {
  badChunked,
  cutMidStream,
  duplicateContentLength,
  FaultUpstream,
  garbageStatus,
  ok,
  resetBeforeHeaders,
  stallAfterHeaders,
  stallBeforeHeaders,
  storm,
  tooManyRequests,
  trickle,
  TRICKLE_BODY,
} from "./fault_upstream.ts";
import {
  bodyText,
  chatBody,
  type DaemonCommand,
  DaemonProc,
  delta,
  eventually,
  fetchT,
  freePort,
  header,
  inFlightZero,
  Metrics,
  type ParsedResponse,
  parseResponse,
  rawChat,
  RawConn,
  rawRequest,
  sleep,
  within,
  withUlimit,
} from "./lib.ts";

// Metric names.
const UPSTREAM_ERRORS = "llmproxy_upstream_errors_total";
const BREAKER_CALLS = "llmproxy_circuitbreaker_calls_total";
const BREAKER_CHANGES = "llmproxy_circuitbreaker_state_changes_total";
const REQUEST_ERRORS = "llmproxy_http_request_errors_total";

/** The forward's `timeout.connect` in these configs (seconds). */
const CONNECT_S = 1;
/** Slack on top of `timeout.connect` before a slow client must have been dealt with. */
const SLOW_CLIENT_SLACK_MS = 2000;
/**
 * How long an idle keep-alive connection may stay open. docs/behaviour.md#slow-clients asks for "a
 * bound"; this allows Node's default keep-alive timeout (5 s) plus slack.
 */
const IDLE_BOUND_MS = 7000;

const POST_JSON = (stream = false): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: chatBody(stream),
});

// ---------------------------------------------------------------------------------------
// Shared assertions
// ---------------------------------------------------------------------------------------

/** `{"error":{"message","type":"llmproxy_error","code"}}`, code as given (if given). */
function assertErrorShape(body: unknown, code?: string): void {
  assert.ok(body && typeof body === "object", `error body is not an object: ${body}`);
  const e = (body as { error?: Record<string, unknown> }).error;
  assert.ok(e && typeof e === "object", `no "error" object in ${JSON.stringify(body)}`);
  assert.equal(typeof e.message, "string", `error.message in ${JSON.stringify(body)}`);
  assert.ok((e.message as string).length > 0, "error.message is empty");
  assert.equal(e.type, "llmproxy_error", `error.type in ${JSON.stringify(body)}`);
  assert.equal(typeof e.code, "string", `error.code in ${JSON.stringify(body)}`);
  if (code !== undefined) assert.equal(e.code, code, `error.code in ${JSON.stringify(body)}`);
}

/** A proxy error answer through `fetch`: status, header, shape. */
async function expectProxyError(r: Response, status: number, code: string): Promise<void> {
  const text = await r.text();
  assert.equal(r.status, status, `status (body ${text.slice(0, 300)})`);
  assert.equal(r.headers.get("x-llmproxy-error"), code, "x-llmproxy-error");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 300)}`);
  }
  assertErrorShape(body, code);
}

/**
 * A proxy error answer on a raw connection: one of `statuses`, `x-llmproxy-error` equal
 * to the body's code (and to `code` when given), the OpenAI shape.
 */
function expectRawProxyError(
  p: ParsedResponse | undefined,
  statuses: number[],
  code: string | undefined,
  raw: string,
): string {
  assert.ok(p, `no complete HTTP response; received ${JSON.stringify(raw.slice(0, 300))}`);
  assert.ok(statuses.includes(p.status), `status ${p.status}, wanted one of ${statuses}: ${raw}`);
  const hdr = header(p, "x-llmproxy-error");
  assert.ok(hdr, `no x-llmproxy-error header in ${JSON.stringify(raw.slice(0, 400))}`);
  if (code !== undefined) assert.equal(hdr, code, "x-llmproxy-error");
  let body: unknown;
  try {
    body = JSON.parse(bodyText(p));
  } catch {
    assert.fail(`error body is not JSON: ${JSON.stringify(bodyText(p).slice(0, 300))}`);
  }
  assertErrorShape(body, hdr);
  return hdr;
}

/**
 * The client saw a cut, never a clean end: the response body is incomplete by its own
 * framing (Content-Length not reached, or no final chunk) and the connection ended.
 * A close-delimited body is only a visible cut when it ends in a reset.
 */
function assertCut(c: RawConn, p: ParsedResponse | undefined, what: string): void {
  assert.ok(p, `${what}: no response head; received ${JSON.stringify(c.text.slice(0, 300))}`);
  assert.ok(c.ended, `${what}: the proxy left the client connection open after the cut`);
  if (p.framing === "close") {
    assert.equal(
      c.end,
      "reset",
      `${what}: a close-delimited body that ended with a FIN looks complete`,
    );
  } else {
    assert.equal(
      p.complete,
      false,
      `${what}: the client got a cleanly ended body (${p.framing} framing, ${p.body.byteLength} bytes` +
        `${p.declared !== undefined ? ` of ${p.declared}` : ""}): ${JSON.stringify(bodyText(p))}`,
    );
  }
}

/** RawConns opened in a step, all closed when it ends or runs out of time. */
class Scope {
  readonly conns: RawConn[] = [];
  async open(port: number, ms = 2000): Promise<RawConn> {
    const c = await RawConn.open(port, ms);
    this.conns.push(c);
    return c;
  }
  closeAll(): void {
    for (const c of this.conns) c.close();
  }
}

/** A `t.step` whose body must finish within `ms`. */
function step(
  t: Deno.TestContext,
  name: string,
  ms: number,
  fn: (scope: Scope) => Promise<void>,
): Promise<boolean> {
  return t.step({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const scope = new Scope();
      try {
        await within(ms, name, fn(scope), () => scope.closeAll());
      } finally {
        scope.closeAll();
      }
    },
  });
}

// ---------------------------------------------------------------------------------------
// Daemon 1: upstream faults
// ---------------------------------------------------------------------------------------

interface UpEnv {
  d: DaemonProc;
  port: number;
  base: string;
  admin: number;
  f: FaultUpstream;
  okMock: RunningMock;
  bMock: RunningMock;
}

function upstreamFaultsYaml(
  port: number,
  admin: number,
  f: FaultUpstream,
  okUrl: string,
  bUrl: string,
  deadUrl: string,
): string {
  const faulty = [
    "rst",
    "cut",
    "stall",
    "stream",
    "trickle",
    "storm",
    "p429",
    "s429",
    "garbage",
    "badchunk",
    "dupcl",
  ];
  const routes = ["refuse", ...faulty].map((g) =>
    `        - { path: /${g}/*, target_group: ${g} }`
  );
  const ups = faulty.map((u) =>
    `  - { name: ${u}, url: "${f.url}", breaker: { threshold: 0.5, cooldown: ${
      u === "storm" ? 1 : 60
    } } }`
  );
  const groups = faulty
    .filter((g) => !["stall", "stream", "p429"].includes(g))
    .map((g) => `  - { name: ${g}, upstreams: [{ name: ${g} }] }`);
  return `http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: ok
      timeout: { connect: ${CONNECT_S} }
      routing:
${routes.join("\n")}
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: ok, url: "${okUrl}" }
  - { name: b, url: "${bUrl}" }
  - { name: refuse, url: "${deadUrl}", breaker: { threshold: 0.5, cooldown: 60 } }
${ups.join("\n")}
upstream_groups:
  - { name: ok, upstreams: [{ name: ok }] }
  - { name: refuse, upstreams: [{ name: refuse }] }
${groups.join("\n")}
  - name: stall
    upstreams: [{ name: stall }]
    http_client: { stream: false, timeout: { request: 1 } }
  - name: stream
    upstreams: [{ name: stream }]
    http_client: { stream: true }
  - name: p429
    upstreams: [{ name: p429 }, { name: b }]
    balance: { strategy: failover }
`;
}

/** The daemon still answers a normal request, every in-flight gauge is 0. */
async function servesNormally(env: UpEnv): Promise<void> {
  env.d.assertAlive("after the case");
  const r = await fetchT(`${env.base}/v1/chat/completions`, POST_JSON(), 5000);
  assert.equal(r.status, 200, "a normal request afterwards");
  assert.equal(r.headers.get("x-mock-name"), "ok");
  await r.body?.cancel();
  await inFlightZero(env.admin, 3000);
}

/**
 * `send(i)` fails five times in a row (asserting what the client sees each time); the
 * breaker must count five failures and open, after which the group answers 503
 * `no_available_upstream` without the upstream seeing the request.
 */
async function fiveFailuresOpenTheBreaker(
  env: UpEnv,
  group: string,
  errorLabel: string,
  send: (i: number) => Promise<void>,
  faultKeys: string[],
): Promise<void> {
  const m0 = await Metrics.scrape(env.admin);
  for (let i = 0; i < 5; i++) await send(i);
  const m1 = await Metrics.scrape(env.admin);
  const g = { group, upstream: group };
  assert.equal(
    delta(m0, m1, UPSTREAM_ERRORS, { ...g, error: errorLabel }),
    5,
    `${UPSTREAM_ERRORS}{error="${errorLabel}"} after 5 failures:\n${m1.show(UPSTREAM_ERRORS, g)}`,
  );
  assert.equal(
    delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
    5,
    `breaker failures after 5 failures:\n${m1.show(BREAKER_CALLS, g)}`,
  );
  assert.equal(
    delta(m0, m1, BREAKER_CALLS, { ...g, result: "success" }),
    0,
    `breaker successes (a failure must never also count as a success):\n${
      m1.show(BREAKER_CALLS, g)
    }`,
  );
  assert.equal(
    delta(m0, m1, BREAKER_CHANGES, { ...g, from: "closed", to: "open" }),
    1,
    `breaker closed→open after 5 consecutive failures:\n${m1.show(BREAKER_CHANGES, g)}`,
  );
  const seen = faultKeys.map((k) => env.f.count(k));
  const r = await fetchT(
    `${env.base}/${group}/${faultKeys[0] ?? "x"}/v1/chat/completions`,
    POST_JSON(),
  );
  const ra = Number(r.headers.get("retry-after"));
  await expectProxyError(r, 503, "no_available_upstream");
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra} (cooldown 60 s)`);
  assert.deepEqual(
    faultKeys.map((k) => env.f.count(k)),
    seen,
    "an open breaker let a request through",
  );
  const m2 = await Metrics.scrape(env.admin);
  assert.equal(
    delta(m1, m2, UPSTREAM_ERRORS, { ...g, error: "circuit_open" }),
    1,
    "circuit_open counted",
  );
}

async function upstreamCases(t: Deno.TestContext, env: UpEnv): Promise<void> {
  const { d, port, base, admin, f } = env;

  await step(t, "baseline: a normal request is served", 10_000, async () => {
    await servesNormally(env);
  });

  await step(
    t,
    "refused connect → 502 upstream_unreachable ×5, breaker opens, then 503",
    15_000,
    async () => {
      await fiveFailuresOpenTheBreaker(env, "refuse", "unreachable", async () => {
        const r = await fetchT(`${base}/refuse/v1/chat/completions`, POST_JSON());
        await expectProxyError(r, 502, "upstream_unreachable");
      }, []);
      await servesNormally(env);
    },
  );

  await step(
    t,
    "reset before headers → 502 upstream_unreachable ×5, breaker opens, then 503",
    15_000,
    async () => {
      await fiveFailuresOpenTheBreaker(env, "rst", "unreachable", async () => {
        const r = await fetchT(`${base}/rst/v1/chat/completions`, POST_JSON());
        await expectProxyError(r, 502, "upstream_unreachable");
      }, ["rst"]);
      await servesNormally(env);
    },
  );

  await step(
    t,
    "body cut mid-stream (Content-Length/chunked × RST/FIN) → client connection cut, " +
      'access log "upstream_body_cut", breaker failure (opens after 5)',
    20_000,
    async (scope) => {
      const variants = ["cl-rst", "cl-fin", "chunked-rst", "chunked-fin", "cl-rst#2"];
      // What the access log said per variant, checked after the metrics so that one
      // failure report shows both.
      const logged: Record<string, unknown> = {};
      const breaker = fiveFailuresOpenTheBreaker(env, "cut", "unreachable", async (i) => {
        const v = variants[i]!;
        const path = `/cut/${v.split("#")[0]}/v1/chat/completions`;
        const from = d.access().length;
        const c = await scope.open(port);
        assert.ok(await c.write(rawChat(path, { stream: true })));
        await c.waitEnd(3000);
        const p = parseResponse(c.bytes, { eof: c.ended });
        assert.ok(p, `${v}: no response head; got ${JSON.stringify(c.text)}`);
        assert.equal(p.status, 200, `${v}: status`);
        assert.match(bodyText(p), /"content":"first"/, `${v}: the first event reached the client`);
        assertCut(c, p, v);
        const [rec] = await d.accessFor(path, from);
        logged[v] = rec!.error;
      }, variants.slice(0, 4).map((v) => `cut/${v}`));
      const [outcome] = await Promise.allSettled([breaker]);
      assert.deepEqual(
        logged,
        Object.fromEntries(variants.map((v) => [v, "upstream_body_cut"])),
        "the access record's error per variant",
      );
      if (outcome.status === "rejected") throw outcome.reason;
      await servesNormally(env);
    },
  );

  await step(
    t,
    "garbage status line → 502 upstream_unreachable ×5, breaker opens, then 503",
    15_000,
    async () => {
      await fiveFailuresOpenTheBreaker(env, "garbage", "unreachable", async () => {
        const r = await fetchT(`${base}/garbage/v1/chat/completions`, POST_JSON());
        await expectProxyError(r, 502, "upstream_unreachable");
      }, ["garbage"]);
      await servesNormally(env);
    },
  );

  await step(
    t,
    "duplicate conflicting Content-Length → 502 upstream_unreachable ×5, breaker opens",
    15_000,
    async () => {
      await fiveFailuresOpenTheBreaker(env, "dupcl", "unreachable", async () => {
        const r = await fetchT(`${base}/dupcl/v1/chat/completions`, POST_JSON());
        await expectProxyError(r, 502, "upstream_unreachable");
      }, ["dupcl"]);
      await servesNormally(env);
    },
  );

  await step(
    t,
    'bad chunked framing after 200 → client connection cut, "upstream_body_cut", ' +
      "breaker opens after 5",
    20_000,
    async (scope) => {
      await fiveFailuresOpenTheBreaker(env, "badchunk", "unreachable", async (i) => {
        const path = "/badchunk/v1/chat/completions";
        const from = d.access().length;
        const c = await scope.open(port);
        assert.ok(await c.write(rawChat(path, { stream: true })));
        await c.waitEnd(3000);
        const p = parseResponse(c.bytes, { eof: c.ended });
        assert.ok(p, `#${i}: no response head; got ${JSON.stringify(c.text)}`);
        assert.equal(p.status, 200);
        assert.match(bodyText(p), /"content":"good"/, "the good chunk reached the client");
        assert.doesNotMatch(bodyText(p), /"content":"bad"/, "bytes of a bad chunk were passed on");
        assertCut(c, p, `badchunk #${i}`);
        const recs = await d.accessFor(path, from);
        assert.equal(recs[0]!.error, "upstream_body_cut", JSON.stringify(recs[0]));
      }, ["badchunk"]);
      await servesNormally(env);
    },
  );

  await step(
    t,
    "stall before headers (stream: false, timeout.request 1 s) → 504 upstream_timeout, " +
      "upstream connection closed",
    15_000,
    async () => {
      const m0 = await Metrics.scrape(admin);
      const t0 = performance.now();
      const r = await fetchT(`${base}/stall/head/v1/chat/completions`, POST_JSON(), 6000);
      const took = performance.now() - t0;
      await expectProxyError(r, 504, "upstream_timeout");
      assert.ok(took >= 900 && took < 3000, `answered after ${Math.round(took)} ms, not ≈ 1 s`);
      await eventually(
        "the proxy closed its upstream connection",
        () => (f.peerClosedAfter.get("stall/head")?.length ?? 0) >= 1,
        2000,
      );
      const m1 = await Metrics.scrape(admin);
      const g = { group: "stall", upstream: "stall" };
      assert.equal(
        delta(m0, m1, UPSTREAM_ERRORS, { ...g, error: "timeout" }),
        1,
        m1.show(UPSTREAM_ERRORS, g),
      );
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
        1,
        m1.show(BREAKER_CALLS, g),
      );
      await servesNormally(env);
    },
  );

  await step(
    t,
    "stall after headers (stream: false, timeout.request 1 s) → client connection cut " +
      "at the deadline, upstream connection closed, breaker failure",
    15_000,
    async (scope) => {
      const m0 = await Metrics.scrape(admin);
      const path = "/stall/body/v1/chat/completions";
      const from = d.access().length;
      const c = await scope.open(port);
      const t0 = performance.now();
      assert.ok(await c.write(rawChat(path, { stream: true })));
      await c.waitEnd(4000);
      const took = (c.endAt ?? performance.now()) - t0;
      const p = parseResponse(c.bytes, { eof: c.ended });
      assert.ok(p, `no response head; got ${JSON.stringify(c.text)}`);
      assert.equal(p.status, 200);
      assert.match(
        bodyText(p),
        /"content":"only"/,
        "the event before the stall reached the client",
      );
      assertCut(c, p, "stalled body");
      assert.ok(took >= 900 && took < 3000, `cut after ${Math.round(took)} ms, not ≈ 1 s`);
      await eventually(
        "the proxy closed its upstream connection",
        () => (f.peerClosedAfter.get("stall/body")?.length ?? 0) >= 1,
        2000,
      );
      const [rec] = await d.accessFor(path, from);
      assert.equal(rec!.status, 200);
      const m1 = await Metrics.scrape(admin);
      const g = { group: "stall", upstream: "stall" };
      assert.equal(
        delta(m0, m1, UPSTREAM_ERRORS, { ...g, error: "timeout" }),
        1,
        m1.show(UPSTREAM_ERRORS, g),
      );
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
        1,
        m1.show(BREAKER_CALLS, g),
      );
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "success" }),
        0,
        m1.show(BREAKER_CALLS, g),
      );
      await servesNormally(env);
    },
  );

  for (const where of ["head", "body"] as const) {
    await step(
      t,
      `client aborts ${
        where === "head" ? "while the upstream stalls before headers" : "mid-stream"
      }` +
        " (stream: true) → upstream connection closed within 1 s, no breaker failure",
      15_000,
      async (scope) => {
        const m0 = await Metrics.scrape(admin);
        const key = `stream/${where}`;
        const before = f.count(key);
        const closedBefore = f.peerClosedAfter.get(key)?.length ?? 0;
        const c = await scope.open(port);
        assert.ok(await c.write(rawChat(`/${key}/v1/chat/completions`, { stream: true })));
        await eventually("the upstream got the request", () => f.count(key) === before + 1, 2000);
        if (where === "body") {
          assert.ok(
            await c.waitFor(() => c.text.includes('"content":"only"'), 2000),
            `the first event never reached the client: ${JSON.stringify(c.text)}`,
          );
        } else {
          await sleep(200);
        }
        c.close();
        await eventually(
          "the proxy closed its upstream connection after the client left",
          () => (f.peerClosedAfter.get(key)?.length ?? 0) > closedBefore,
          1000,
        );
        await inFlightZero(admin, 2000);
        const m1 = await Metrics.scrape(admin);
        const g = { group: "stream", upstream: "stream" };
        assert.equal(
          delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
          0,
          m1.show(BREAKER_CALLS, g),
        );
        assert.equal(delta(m0, m1, UPSTREAM_ERRORS, g), 0, m1.show(UPSTREAM_ERRORS, g));
        await servesNormally(env);
      },
    );
  }

  await step(
    t,
    "slow trickle (8 bytes / 40 ms) → passed on as it comes, whole, breaker success",
    15_000,
    async (scope) => {
      const m0 = await Metrics.scrape(admin);
      const path = "/trickle/v1/chat/completions";
      const from = d.access().length;
      const c = await scope.open(port);
      assert.ok(await c.write(rawChat(path, { stream: true })));
      const p = await c.response(5000);
      assert.ok(p?.complete, `no complete response; got ${JSON.stringify(c.text)}`);
      assert.equal(p.status, 200);
      assert.equal(bodyText(p), TRICKLE_BODY, "the body arrived changed");
      const spread = (c.lastByteAt ?? 0) - (c.firstByteAt ?? 0);
      assert.ok(spread >= 500, `all bytes arrived within ${Math.round(spread)} ms: held back`);
      const [rec] = await d.accessFor(path, from);
      assert.equal(rec!.error, undefined, JSON.stringify(rec));
      const m1 = await Metrics.scrape(admin);
      const g = { group: "trickle", upstream: "trickle" };
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "success" }),
        1,
        m1.show(BREAKER_CALLS, g),
      );
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
        0,
        m1.show(BREAKER_CALLS, g),
      );
      assert.equal(delta(m0, m1, UPSTREAM_ERRORS, g), 0, m1.show(UPSTREAM_ERRORS, g));
      await servesNormally(env);
    },
  );

  await step(
    t,
    "5xx storm → 500s passed through, breaker opens (503 + Retry-After), " +
      "half-opens after 1 s, closes on success",
    15_000,
    async () => {
      f.knobs.storm = 5;
      const m0 = await Metrics.scrape(admin);
      for (let i = 0; i < 5; i++) {
        const r = await fetchT(`${base}/storm/v1/chat/completions`, POST_JSON());
        const body = await r.json();
        assert.equal(r.status, 500, "the upstream's 500 is passed through");
        assert.equal(
          r.headers.get("x-llmproxy-error"),
          null,
          "an upstream error is not the proxy's",
        );
        assert.equal(body.error.message, "storm", "the upstream's body is passed through");
      }
      const open = await fetchT(`${base}/storm/v1/chat/completions`, POST_JSON());
      const ra = open.headers.get("retry-after");
      await expectProxyError(open, 503, "no_available_upstream");
      assert.equal(ra, "1", "Retry-After: seconds until the breaker half-opens (cooldown 1 s)");
      assert.equal(f.count("storm"), 5, "the open breaker let a request through");
      const m1 = await Metrics.scrape(admin);
      const g = { group: "storm", upstream: "storm" };
      assert.equal(
        delta(m0, m1, UPSTREAM_ERRORS, { ...g, error: "status_5xx" }),
        5,
        m1.show(UPSTREAM_ERRORS, g),
      );
      assert.equal(
        delta(m0, m1, UPSTREAM_ERRORS, { ...g, error: "circuit_open" }),
        1,
        m1.show(UPSTREAM_ERRORS, g),
      );
      assert.equal(
        delta(m0, m1, BREAKER_CHANGES, { ...g, from: "closed", to: "open" }),
        1,
        m1.show(BREAKER_CHANGES, g),
      );
      await sleep(1100);
      const probe = await fetchT(`${base}/storm/v1/chat/completions`, POST_JSON());
      assert.equal(probe.status, 200, "the half-open probe");
      await probe.body?.cancel();
      const m2 = await Metrics.scrape(admin);
      assert.equal(
        delta(m1, m2, BREAKER_CHANGES, { ...g, from: "open", to: "half_open" }),
        1,
        m2.show(BREAKER_CHANGES, g),
      );
      assert.equal(
        delta(m1, m2, BREAKER_CHANGES, { ...g, from: "half_open", to: "closed" }),
        1,
        m2.show(BREAKER_CHANGES, g),
      );
      await servesNormally(env);
    },
  );

  await step(
    t,
    "429 with Retry-After → passed through, member paused 1 s (others serve, " +
      "alone: 503 no_available_upstream), no breaker failure",
    15_000,
    async () => {
      f.knobs.p429 = 1;
      f.knobs.s429 = 1;
      const m0 = await Metrics.scrape(admin);
      for (const g of ["p429", "s429"]) {
        const r = await fetchT(`${base}/${g}/v1/chat/completions`, POST_JSON());
        const body = await r.json();
        assert.equal(r.status, 429, `${g}: the upstream's 429 is passed through`);
        assert.equal(r.headers.get("retry-after"), "1", `${g}: its Retry-After too`);
        assert.equal(r.headers.get("x-llmproxy-error"), null);
        assert.equal(body.error.message, "slow down");
      }
      // p429 = failover [p429, b]: while p429 is paused, b serves.
      for (let i = 0; i < 3; i++) {
        const r = await fetchT(`${base}/p429/v1/chat/completions`, POST_JSON());
        assert.equal(r.status, 200, "another member serves while the 429 member is paused");
        assert.equal(r.headers.get("x-mock-name"), "b", "the paused member was chosen");
        await r.body?.cancel();
      }
      // s429 has no other member.
      const alone = await fetchT(`${base}/s429/v1/chat/completions`, POST_JSON());
      const ra = alone.headers.get("retry-after");
      await expectProxyError(alone, 503, "no_available_upstream");
      assert.equal(ra, "1", "Retry-After: seconds until the pause ends");
      assert.equal(f.count("p429"), 1, "the paused member got a request");
      assert.equal(f.count("s429"), 1, "the paused member got a request");
      await sleep(1100);
      for (const g of ["p429", "s429"]) {
        const r = await fetchT(`${base}/${g}/v1/chat/completions`, POST_JSON());
        assert.equal(r.status, 200, `${g}: the member serves again after its pause`);
        assert.equal((await r.json()).name, "fault-ok", `${g}: answered by the paused member`);
      }
      const m1 = await Metrics.scrape(admin);
      for (const u of ["p429", "s429"]) {
        const g = { group: u, upstream: u };
        assert.equal(
          delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
          0,
          m1.show(BREAKER_CALLS, g),
        );
        assert.equal(delta(m0, m1, BREAKER_CHANGES, g), 0, m1.show(BREAKER_CHANGES, g));
        for (const error of ["unreachable", "timeout", "status_5xx"]) {
          assert.equal(
            delta(m0, m1, UPSTREAM_ERRORS, { ...g, error }),
            0,
            m1.show(UPSTREAM_ERRORS, g),
          );
        }
      }
      await servesNormally(env);
    },
  );

  await step(t, "no upstream exchange is left open", 5000, async () => {
    await eventually(
      "no exchange still open at the fault upstream",
      () => f.active === 0,
      2000,
      () => `${f.active} active`,
    );
    await inFlightZero(admin, 2000);
    d.assertAlive("at the end");
  });
}

// ---------------------------------------------------------------------------------------
// Daemon 2: hostile clients
// ---------------------------------------------------------------------------------------

interface ClientEnv {
  d: DaemonProc;
  port: number;
  base: string;
  admin: number;
  h: FaultUpstream;
}

function hostileClientsYaml(port: number, admin: number, h: FaultUpstream): string {
  return `http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: fok
      timeout: { connect: ${CONNECT_S} }
      max_body_size: 1KiB
      routing:
        - { path: /base/*, target_group: trap }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: fok, url: "${h.url}", breaker: { threshold: 0.5, cooldown: 60 } }
  - { name: trap, url: "${h.url}", breaker: { threshold: 0.5, cooldown: 60 } }
upstream_groups:
  - { name: fok, upstreams: [{ name: fok }] }
  - { name: trap, upstreams: [{ name: trap }] }
`;
}

async function clientServesNormally(env: ClientEnv): Promise<void> {
  env.d.assertAlive("after the case");
  const before = env.h.count("v1");
  const r = await fetchT(`${env.base}/v1/chat/completions`, POST_JSON(), 5000);
  assert.equal(r.status, 200, "a normal request afterwards");
  const body = await r.json();
  assert.equal(body.name, "fault-ok");
  assert.equal(body.path, "/v1/chat/completions");
  assert.equal(env.h.count("v1"), before + 1);
  await inFlightZero(env.admin, 3000);
}

/**
 * A slow client's connection must end within `timeout.connect` + slack of its opening;
 * if the proxy answered, it is a 408 `request_timeout` in the OpenAI shape with
 * `Connection: close`.
 */
function assertSlowClientDealtWith(c: RawConn, what: string): void {
  const bound = CONNECT_S * 1000 + SLOW_CLIENT_SLACK_MS;
  assert.ok(
    c.ended,
    `${what}: connection still open ${bound} ms after it opened (timeout.connect ${CONNECT_S} s); ` +
      `received ${JSON.stringify(c.text.slice(0, 200))}`,
  );
  const took = c.endAt! - c.openedAt;
  assert.ok(took <= bound + 200, `${what}: closed only after ${Math.round(took)} ms`);
  if (c.bytes.byteLength > 0) {
    const p = parseResponse(c.bytes, { eof: true });
    expectRawProxyError(p, [408], "request_timeout", c.text);
    assert.match(
      header(p!, "connection") ?? "",
      /close/i,
      `${what}: 408 without Connection: close`,
    );
  }
}

async function clientCases(t: Deno.TestContext, env: ClientEnv): Promise<void> {
  const { d, port, admin, h } = env;

  await step(t, "baseline: a normal request is served", 10_000, async () => {
    await clientServesNormally(env);
  });

  await step(
    t,
    "slow head (1 byte/s) ×10 → each closed once timeout.connect passed (408 where " +
      "answered), others served meanwhile",
    15_000,
    async (scope) => {
      const head = rawChat("/v1/chat/completions");
      const before = h.count("v1");
      const conns = await Promise.all(Array.from({ length: 10 }, () => scope.open(port)));
      const bound = CONNECT_S * 1000 + SLOW_CLIENT_SLACK_MS;
      const dripping = conns.map(async (c) => {
        for (let i = 0; i < head.length && !c.ended; i++) {
          if (!await c.write(head[i]!)) break;
          await c.waitEnd(1000);
          if (performance.now() - c.openedAt > bound + 200) break;
        }
      });
      // Meanwhile a normal client is served, while the slow heads are still open.
      await sleep(100);
      const r = await fetchT(`${env.base}/v1/chat/completions`, POST_JSON(), 3000);
      assert.equal(r.status, 200, "a normal request while slow heads are open");
      await r.body?.cancel();
      const servedAt = performance.now();
      await Promise.all(dripping);
      const firstClosed = Math.min(...conns.map((c) => c.endAt ?? Infinity));
      assert.ok(
        servedAt < firstClosed,
        `the normal request was answered only after a slow head was closed ` +
          `(${Math.round(servedAt - firstClosed)} ms later)`,
      );
      conns.forEach((c, i) => assertSlowClientDealtWith(c, `slow head #${i}`));
      assert.equal(h.count("v1"), before + 1, "only the normal request reached the upstream");
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    "silent connection (connects, sends nothing) → closed once timeout.connect passed",
    10_000,
    async (scope) => {
      const c = await scope.open(port);
      await c.waitEnd(CONNECT_S * 1000 + SLOW_CLIENT_SLACK_MS);
      assertSlowClientDealtWith(c, "silent connection");
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    "slow body (1 byte/s) → 408 request_timeout, Connection: close, then closed; " +
      "never forwarded",
    15_000,
    async (scope) => {
      const m0 = await Metrics.scrape(admin);
      const before = h.count("v1");
      const c = await scope.open(port);
      assert.ok(
        await c.write(
          rawRequest("POST", "/v1/chat/completions", {
            host: "127.0.0.1",
            "content-type": "application/json",
            "content-length": "100",
          }) + "{",
        ),
      );
      const bound = CONNECT_S * 1000 + SLOW_CLIENT_SLACK_MS;
      let p: ParsedResponse | undefined;
      for (let i = 0; i < 10 && !c.ended; i++) {
        p = parseResponse(c.bytes, { eof: c.ended });
        if (p?.complete) break;
        if (performance.now() - c.openedAt > bound) break;
        await c.write(" ");
        await c.waitFor(() => parseResponse(c.bytes)?.complete === true, 1000);
      }
      p = parseResponse(c.bytes, { eof: c.ended });
      const took = (c.firstByteAt ?? performance.now()) - c.openedAt;
      expectRawProxyError(p, [408], "request_timeout", c.text);
      assert.ok(took >= 800 && took <= bound, `408 after ${Math.round(took)} ms`);
      assert.match(header(p!, "connection") ?? "", /close/i, "a 408 must say Connection: close");
      // The rest of the body is not read: the proxy closes the connection.
      await c.write(" ".repeat(10));
      assert.ok(await c.waitEnd(1000), "the connection stayed open after the 408");
      assert.equal(h.count("v1"), before, "a slow body was forwarded");
      const m1 = await Metrics.scrape(admin);
      assert.equal(
        delta(m0, m1, REQUEST_ERRORS, { forward: "main", error: "request_timeout", status: "408" }),
        1,
        m1.show(REQUEST_ERRORS),
      );
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    "body over max_body_size (declared 1 MiB, 10 bytes sent) → 413 body_too_large at once, " +
      "Connection: close, the rest not read",
    10_000,
    async (scope) => {
      const m0 = await Metrics.scrape(admin);
      const before = h.count("v1");
      const c = await scope.open(port);
      assert.ok(
        await c.write(
          rawRequest("POST", "/v1/chat/completions", {
            host: "127.0.0.1",
            "content-type": "application/json",
            "content-length": String(1024 * 1024),
          }) + '{"model":"',
        ),
      );
      const p = await c.response(1500);
      expectRawProxyError(p, [413], "body_too_large", c.text);
      assert.match(header(p!, "connection") ?? "", /close/i, "a 413 must say Connection: close");
      assert.ok(await c.waitEnd(1000), "the connection stayed open after the 413");
      assert.equal(h.count("v1"), before, "an oversized body was forwarded");
      const m1 = await Metrics.scrape(admin);
      assert.equal(
        delta(m0, m1, REQUEST_ERRORS, { forward: "main", error: "body_too_large", status: "413" }),
        1,
        m1.show(REQUEST_ERRORS),
      );
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    `idle keep-alive connection → reusable at once, closed within ${IDLE_BOUND_MS} ms of idling`,
    15_000,
    async (scope) => {
      const c = await scope.open(port);
      let offset = 0;
      for (let i = 0; i < 2; i++) {
        assert.ok(await c.write(rawChat("/v1/chat/completions")), `request ${i + 1} written`);
        let p: ParsedResponse | undefined;
        await c.waitFor(() => {
          p = parseResponse(c.bytes.subarray(offset));
          return p?.complete === true;
        }, 3000);
        assert.ok(p?.complete, `response ${i + 1} on the kept-alive connection`);
        assert.equal(p.status, 200);
        offset += p.size;
      }
      const idleFrom = performance.now();
      await c.waitEnd(IDLE_BOUND_MS);
      assert.ok(
        c.ended,
        `an idle keep-alive connection was still open ${IDLE_BOUND_MS} ms after its last response`,
      );
      assert.equal(c.bytes.byteLength, offset, `unexpected bytes: ${c.text.slice(offset)}`);
      const idle = c.endAt! - idleFrom;
      assert.ok(idle > 0, `closed after ${Math.round(idle)} ms of idling`);
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    "TRACE / TRACK / CONNECT ×6 each → 400/405 in the OpenAI shape, never forwarded, " +
      "no breaker failure",
    15_000,
    async (scope) => {
      const m0 = await Metrics.scrape(admin);
      const before = h.count("v1");
      const requests = [
        rawRequest("TRACE", "/v1/chat/completions", { host: "127.0.0.1" }),
        rawRequest("TRACK", "/v1/chat/completions", { host: "127.0.0.1" }),
        rawRequest("CONNECT", `127.0.0.1:${h.port}`, { host: `127.0.0.1:${h.port}` }),
      ];
      for (const req of requests) {
        const method = req.split(" ")[0]!;
        for (let i = 0; i < 6; i++) {
          const c = await scope.open(port);
          assert.ok(await c.write(req), `${method}: request written`);
          const p = await c.response(3000);
          expectRawProxyError(p, [400, 405], undefined, `${method}: ${c.text}`);
          c.close();
        }
      }
      assert.equal(h.count("v1"), before, "a TRACE/TRACK/CONNECT reached the upstream");
      const m1 = await Metrics.scrape(admin);
      const g = { group: "fok", upstream: "fok" };
      assert.equal(
        delta(m0, m1, BREAKER_CALLS, { ...g, result: "failure" }),
        0,
        m1.show(BREAKER_CALLS, g),
      );
      assert.equal(delta(m0, m1, BREAKER_CHANGES, g), 0, m1.show(BREAKER_CHANGES, g));
      assert.equal(delta(m0, m1, UPSTREAM_ERRORS, g), 0, m1.show(UPSTREAM_ERRORS, g));
      await clientServesNormally(env);
    },
  );

  await step(
    t,
    "Host: x/base, evil#frag, 'a b' → 400, never routed by the Host, never forwarded",
    15_000,
    async (scope) => {
      const before = { v1: h.count("v1"), base: h.count("base") };
      for (const host of ["x/base", "evil#frag", "a b"]) {
        const c = await scope.open(port);
        assert.ok(await c.write(rawChat("/v1/chat/completions", { host, close: true })));
        const p = await c.response(3000);
        expectRawProxyError(p, [400], undefined, `Host: ${host} → ${c.text}`);
        c.close();
        assert.deepEqual(
          { v1: h.count("v1"), base: h.count("base") },
          before,
          `Host: ${host} reached an upstream (base = the /base/* route taken from the Host)`,
        );
      }
      // A valid Host changes nothing either: the path comes from the request target.
      const c = await scope.open(port);
      assert.ok(
        await c.write(rawChat("/v1/chat/completions", { host: "example.com:8080", close: true })),
      );
      const p = await c.response(3000);
      assert.ok(p?.complete, `no response: ${c.text}`);
      assert.equal(p.status, 200);
      const echoed = JSON.parse(bodyText(p));
      assert.equal(echoed.path, "/v1/chat/completions", "the upstream got another path");
      assert.equal(echoed.host, `127.0.0.1:${h.port}`, "the upstream got another Host");
      await clientServesNormally(env);
    },
  );

  await step(t, "the daemon is still up", 5000, async () => {
    d.assertAlive("at the end");
    await inFlightZero(admin, 2000);
  });
}

// ---------------------------------------------------------------------------------------
// Daemon 3: descriptor pressure
// ---------------------------------------------------------------------------------------

const FD_LIMIT = 256;
const PRESSURE_CONNS = 400;

async function pressureCases(
  t: Deno.TestContext,
  d: DaemonProc,
  port: number,
  admin: number,
  mock: RunningMock,
): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const normal = async (ms: number) => {
    const r = await fetchT(`${base}/v1/chat/completions`, POST_JSON(), ms);
    await r.body?.cancel();
    return r.status;
  };

  await step(t, `baseline under ulimit -n ${FD_LIMIT}`, 10_000, async () => {
    assert.equal(await normal(3000), 200);
    d.assertAlive("at start");
  });

  await step(
    t,
    `${PRESSURE_CONNS} idle connections (more than ${FD_LIMIT} descriptors) → the daemon ` +
      "survives, sheds or refuses, and serves again once they close",
    40_000,
    async (scope) => {
      const held: RawConn[] = [];
      let failedInARow = 0;
      let refused = 0;
      while (held.length < PRESSURE_CONNS && failedInARow < 5) {
        try {
          held.push(await scope.open(port, 300));
          failedInARow = 0;
        } catch {
          refused++;
          failedInARow++;
        }
      }
      await sleep(1000);
      d.assertAlive(`with ${held.length} connections held (${refused} connects failed)`);
      // A new client meanwhile: served, refused or shed are all fine; a crash is not.
      let during = "";
      try {
        during = String(await normal(2000));
      } catch (e) {
        during = e instanceof Error ? e.name : String(e);
      }
      await sleep(500);
      d.assertAlive(`after a request under pressure (it got: ${during})`);
      for (const c of held) c.close();
      let last = "";
      await eventually(
        "a normal request is served again after the connections closed",
        async () => {
          try {
            last = String(await normal(2000));
          } catch (e) {
            last = e instanceof Error ? e.message : String(e);
          }
          return last === "200";
        },
        10_000,
        () => `${last}; daemon ${d.exitText}\n${d.tail(10)}`,
      );
      const health = await fetchT(`http://127.0.0.1:${admin}/health`, {}, 2000);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      d.assertAlive("after the pressure");
      await eventually(
        "the daemon's descriptors are released",
        () => d.fdCount() < FD_LIMIT / 2,
        10_000,
        () => `${d.fdCount()} open descriptors`,
      );
      await inFlightZero(admin, 2000);
      assert.equal(mock.mock.stats.active_streams, 0);
    },
  );
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

/** Registers the fault suite for one daemon command. */
export function faultSuite(cmd: DaemonCommand): void {
  Deno.test({
    name: `faults[${cmd.name}]: upstream faults`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const f = new FaultUpstream({
        rst: resetBeforeHeaders,
        "cut/cl-rst": cutMidStream("length", "rst"),
        "cut/cl-fin": cutMidStream("length", "fin"),
        "cut/chunked-rst": cutMidStream("chunked", "rst"),
        "cut/chunked-fin": cutMidStream("chunked", "fin"),
        "stall/head": stallBeforeHeaders,
        "stall/body": stallAfterHeaders,
        "stream/head": stallBeforeHeaders,
        "stream/body": stallAfterHeaders,
        trickle,
        storm: storm("storm"),
        p429: tooManyRequests("p429"),
        s429: tooManyRequests("s429"),
        garbage: garbageStatus,
        badchunk: badChunked,
        dupcl: duplicateContentLength,
      });
      const okMock = startMock({ name: "ok", chunks: 2, chunkDelayMs: 5 });
      const bMock = startMock({ name: "b", chunks: 2, chunkDelayMs: 5 });
      const port = freePort();
      const admin = freePort();
      const deadUrl = `http://127.0.0.1:${freePort()}`;
      let d: DaemonProc | undefined;
      try {
        d = await DaemonProc.start(
          cmd,
          upstreamFaultsYaml(port, admin, f, okMock.url, bMock.url, deadUrl),
          admin,
        );
        await upstreamCases(t, {
          d,
          port,
          base: `http://127.0.0.1:${port}`,
          admin,
          f,
          okMock,
          bMock,
        });
      } finally {
        await d?.stop();
        await f.close();
        await within(3000, "mock shutdown", Promise.all([okMock.close(), bMock.close()])).catch(
          () => {},
        );
      }
    },
  });

  Deno.test({
    name: `faults[${cmd.name}]: hostile clients`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const h = new FaultUpstream({ v1: ok, base: ok });
      const port = freePort();
      const admin = freePort();
      let d: DaemonProc | undefined;
      try {
        d = await DaemonProc.start(cmd, hostileClientsYaml(port, admin, h), admin);
        await clientCases(t, { d, port, base: `http://127.0.0.1:${port}`, admin, h });
      } finally {
        await d?.stop();
        await h.close();
      }
    },
  });

  Deno.test({
    name: `faults[${cmd.name}]: descriptor pressure (ulimit -n ${FD_LIMIT})`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const mock = startMock({ name: "ok" });
      const port = freePort();
      const admin = freePort();
      let d: DaemonProc | undefined;
      try {
        d = await DaemonProc.start(
          withUlimit(cmd, FD_LIMIT),
          `http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${port}, default_group: g, timeout: { connect: 2 } }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: u, url: "${mock.url}" }
upstream_groups:
  - { name: g, upstreams: [{ name: u }] }
`,
          admin,
        );
        await pressureCases(t, d, port, admin, mock);
      } finally {
        await d?.stop();
        await within(3000, "mock shutdown", mock.close()).catch(() => {});
      }
    },
  });
}
