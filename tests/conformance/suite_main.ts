/**
 * Conformance cases that share one daemon: routing, strategies, headers, URL rule,
 * body limits, rate limits, errors, timeouts, streaming, abort, retries, breakers.
 */
import assert from "node:assert/strict";
import { OpenAI } from "../../dev_deps.ts";
import {
  type DaemonCommand,
  delay,
  freePort,
  mockStats,
  postChat,
  type RunningMock,
  startDaemon,
  startMock,
} from "./harness.ts";

interface Env {
  base: string;
  limited: string;
  small: string;
  admin: string;
  mocks: Record<string, RunningMock>;
  deadUrl: string;
}

function configYaml(
  p: Record<string, number>,
  m: Record<string, RunningMock>,
  deadUrl: string,
): string {
  return `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${p.main}
      default_group: rr
      timeout: { connect: 1 }
      routing:
        - { path: /wrr/*, target_group: wrr }
        - { path: /random/*, target_group: rnd }
        - { path: /failover/*, target_group: fo }
        - { path: /ra/*, target_group: ra }
        - { path: /auth/*, target_group: auth }
        - { path: /noauth/*, target_group: noauth }
        - { path: /fixed/*, target_group: fixed }
        - { path: /retry/*, target_group: retry }
        - { path: /unreachable/*, target_group: dead }
        - { path: /timeout/*, target_group: slow_nostream }
        - { path: /longstream/*, target_group: stream_short_timeout }
        - { path: /broken/*, target_group: broken }
        - { path: /breaker/*, target_group: breaker }
        - { path: /retry5xx/*, target_group: retry5xx }
        - { path: /api/users/admin, target_group: r_admin }
        - { path: /api/users/:id, target_group: r_user }
        - { path: "/api/items/{id:[0-9]+}", target_group: r_item_num }
        - { path: /api/items/:id, target_group: r_item }
        - { path: /api/*/docs, target_group: r_docs }
        - { path: /files/*, target_group: r_files }
    - name: limited
      address: 127.0.0.1
      port: ${p.limited}
      default_group: rr
      ratelimit: { per_second: 1, burst: 3 }
    - name: small
      address: 127.0.0.1
      port: ${p.small}
      default_group: rr
      max_body_size: 1KiB
  admin:
    address: 127.0.0.1
    port: ${p.admin}
upstreams:
  - { name: a, url: "${m.a!.url}" }
  - { name: b, url: "${m.b!.url}" }
  - { name: s, url: "${m.s!.url}" }
  - { name: dead, url: "${deadUrl}" }
  - name: dead_brk
    url: "${deadUrl}"
    breaker: { threshold: 0.5, cooldown: 30 }
  - name: brk
    url: "${m.brk!.url}"
    breaker: { threshold: 0.5, cooldown: 1 }
  - name: echo_bearer
    url: "${m.echo!.url}"
    auth: { type: bearer, token: sk-upstream-secret }
    headers:
      - { op: insert, key: x-insert, value: from-proxy }
      - { op: insert, key: x-client-has, value: from-proxy }
      - { op: replace, key: x-replace, value: from-proxy }
      - { op: remove, key: x-remove }
  - { name: echo_none, url: "${m.echo!.url}" }
  - { name: echo_fixed, url: "${m.echo!.url}/__mock/echo?api-version=2024&x=up" }
upstream_groups:
  - { name: rr, upstreams: [{ name: a }, { name: b }] }
  - name: wrr
    upstreams: [{ name: a, weight: 3 }, { name: b, weight: 1 }]
    balance: { strategy: weighted_roundrobin }
  - { name: rnd, upstreams: [{ name: a }, { name: b }], balance: { strategy: random } }
  - { name: fo, upstreams: [{ name: a }, { name: b }], balance: { strategy: failover } }
  - { name: ra, upstreams: [{ name: s }, { name: a }], balance: { strategy: response_aware } }
  - { name: auth, upstreams: [{ name: echo_bearer }] }
  - { name: noauth, upstreams: [{ name: echo_none }] }
  - { name: fixed, upstreams: [{ name: echo_fixed }] }
  - name: retry
    upstreams: [{ name: dead }, { name: a }]
    http_client: { retry: { attempts: 2, initial: 100 } }
  - name: retry5xx
    upstreams: [{ name: b }, { name: a }]
    balance: { strategy: failover }
    http_client: { retry: { attempts: 1, initial: 100 } }
  - { name: dead, upstreams: [{ name: dead }] }
  - name: slow_nostream
    upstreams: [{ name: s }]
    http_client: { stream: false, timeout: { request: 1 } }
  - name: stream_short_timeout
    upstreams: [{ name: a }]
    http_client: { stream_mode: true, timeout: { request: 1 } }
  - { name: broken, upstreams: [{ name: dead_brk }] }
  - { name: breaker, upstreams: [{ name: brk }] }
  - { name: r_admin, upstreams: [{ name: a }] }
  - { name: r_user, upstreams: [{ name: a }] }
  - { name: r_item_num, upstreams: [{ name: a }] }
  - { name: r_item, upstreams: [{ name: a }] }
  - { name: r_docs, upstreams: [{ name: a }] }
  - { name: r_files, upstreams: [{ name: a }] }
`;
}

async function names(base: string, path: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await postChat(base, { path });
    assert.equal(r.status, 200, `${path} attempt ${i}`);
    out.push(r.headers.get("x-mock-name") ?? "?");
    await r.body?.cancel();
  }
  return out;
}

async function echo(base: string, path: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}${path}`, { method: "POST", headers, body: "payload" });
  assert.equal(r.status, 200);
  return await r.json() as {
    headers: [string, string][];
    authorization: string | null;
    path: string;
    query: string;
    body: string;
  };
}

/**
 * The first access record for `path` after record `from`. Logs are written in batches,
 * so "the last record" may lag behind; each case uses a path of its own and waits for it.
 */
async function accessFor(
  access: () => Record<string, unknown>[],
  path: string,
  from: number,
): Promise<Record<string, unknown>> {
  const end = Date.now() + 3000;
  for (;;) {
    const hit = access().slice(from).find((r) => r.path === path);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`no access record for ${path}`);
    await delay(5);
  }
}

/** Registers the shared-daemon conformance cases for a daemon command. */
export function mainSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: forwarding, balancing, errors, streaming`, async (t) => {
    const mocks: Record<string, RunningMock> = {
      a: startMock({ name: "a", chunks: 3, chunkDelayMs: 5 }),
      b: startMock({ name: "b", chunks: 3, chunkDelayMs: 5 }),
      s: startMock({ name: "s", latencyMs: 250 }),
      brk: startMock({ name: "brk" }),
      echo: startMock({ name: "echo" }),
    };
    const deadPort = freePort();
    const deadUrl = `http://127.0.0.1:${deadPort}`;
    const p = { main: freePort(), limited: freePort(), small: freePort(), admin: freePort() };
    // s answers in 250 ms here; the timeout case asks it for 3 s per request.
    const daemon = await startDaemon(cmd, configYaml(p, mocks, deadUrl), p.admin);
    const env: Env = {
      base: `http://127.0.0.1:${p.main}`,
      limited: `http://127.0.0.1:${p.limited}`,
      small: `http://127.0.0.1:${p.small}`,
      admin: `http://127.0.0.1:${p.admin}`,
      mocks,
      deadUrl,
    };
    try {
      await cases(t, env, daemon.access.bind(daemon));
    } finally {
      await daemon.stop();
      await Promise.all(Object.values(mocks).map((m) => m.close()));
    }
  });
}

async function cases(
  t: Deno.TestContext,
  env: Env,
  access: () => Record<string, unknown>[],
): Promise<void> {
  const { base } = env;

  await t.step("health and ready", async () => {
    for (const path of ["/health", "/ready"]) {
      const r = await fetch(`${env.admin}${path}`);
      assert.equal(r.status, 200);
      await r.body?.cancel();
    }
  });

  await t.step("roundrobin rotates in list order", async () => {
    assert.deepEqual(await names(base, "/v1/chat/completions", 4), ["a", "b", "a", "b"]);
  });

  await t.step("weighted_roundrobin gives each member its weight, interleaved", async () => {
    const got = await names(base, "/wrr/v1/chat/completions", 8);
    assert.equal(got.filter((n) => n === "a").length, 6);
    assert.equal(got.filter((n) => n === "b").length, 2);
    assert.ok(!got.join("").includes("aaaa"), got.join(""));
  });

  await t.step("random reaches every member", async () => {
    const got = new Set(await names(base, "/random/v1/chat/completions", 40));
    assert.deepEqual([...got].sort(), ["a", "b"]);
  });

  await t.step("failover always uses the first available member", async () => {
    assert.deepEqual(await names(base, "/failover/v1/chat/completions", 5), [
      "a",
      "a",
      "a",
      "a",
      "a",
    ]);
  });

  await t.step("response_aware prefers the faster member", async () => {
    const got = await names(base, "/ra/v1/chat/completions", 16);
    const fast = got.filter((n) => n === "a").length;
    assert.ok(fast >= 12, `fast member got ${fast} of 16: ${got.join(",")}`);
  });

  await t.step("routing follows the documented priority", async () => {
    const cases: [string, string][] = [
      ["/api/users/admin", "r_admin"],
      ["/api/users/admins", "r_user"],
      ["/api/items/42", "r_item_num"],
      ["/api/items/abc", "r_item"],
      ["/api/v1/docs", "r_docs"],
      ["/api/v1/v2/docs", "rr"],
      ["/files/a/b/c", "r_files"],
      ["/files/", "rr"],
      ["/api/users/admin?x=1", "r_admin"],
    ];
    const seen = access().length;
    for (const [path, group] of cases) {
      const r = await postChat(base, { path });
      await r.body?.cancel();
      const rec = await accessFor(access, path.split("?")[0]!, seen);
      assert.equal(rec.group, group, path);
    }
  });

  await t.step("configured auth replaces the client's; header ops apply", async () => {
    const e = await echo(base, "/auth/__mock/echo", {
      authorization: "Bearer client-key",
      "x-client-has": "client",
      "x-replace": "client",
      "x-remove": "client",
      connection: "keep-alive, x-hop",
      "x-hop": "1",
    });
    const auths = e.headers.filter(([k]) => k === "authorization");
    assert.deepEqual(auths, [["authorization", "Bearer sk-upstream-secret"]]);
    const h = new Map(e.headers);
    assert.equal(h.get("x-insert"), "from-proxy");
    assert.equal(h.get("x-client-has"), "client");
    assert.equal(h.get("x-replace"), "from-proxy");
    assert.equal(h.get("x-remove"), undefined);
    assert.equal(h.get("x-hop"), undefined);
    assert.equal(h.get("user-agent"), "LLMProxy/1.0");
    assert.equal(h.get("x-forwarded-for"), "127.0.0.1");
    assert.equal(h.get("x-forwarded-proto"), "http");
    assert.equal(h.get("x-forwarded-host"), new URL(base).host);
    assert.equal(h.get("host"), new URL(env.mocks.echo!.url).host);
    assert.equal(e.body, "payload");
    // The secret never reaches the log.
    assert.ok(!JSON.stringify(access()).includes("sk-upstream-secret"));
  });

  await t.step("auth none passes the client's Authorization", async () => {
    const e = await echo(base, "/noauth/__mock/echo", { authorization: "Bearer client-key" });
    assert.equal(e.authorization, "Bearer client-key");
    assert.equal(e.path, "/noauth/__mock/echo");
  });

  await t.step("an upstream URL with a path is the target; its query wins", async () => {
    const e = await echo(base, "/fixed/anything?x=client&keep=1");
    assert.equal(e.path, "/__mock/echo");
    const q = new URLSearchParams(e.query);
    assert.equal(q.get("x"), "up");
    assert.equal(q.get("keep"), "1");
    assert.equal(q.get("api-version"), "2024");
  });

  await t.step("compressed answers keep bytes and Content-Encoding consistent", async () => {
    const r = await fetch(`${base}/__mock/gzip`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.gzip, true);
  });

  await t.step(
    "SSE via the openai SDK arrives chunk by chunk with the upstream's pacing",
    async () => {
      const ai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "client-key", maxRetries: 0 });
      const stream = await ai.chat.completions.create(
        { model: "m", stream: true, messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-mock-chunks": "20", "x-mock-chunk-delay": "100" } },
      );
      const times: number[] = [];
      let text = "";
      let usage = false;
      for await (const c of stream) {
        const d = c.choices[0]?.delta?.content;
        if (d) {
          times.push(performance.now());
          text += d;
        }
        if (c.usage) usage = true;
      }
      assert.equal(times.length, 20);
      assert.ok(text.startsWith("Hello from "));
      assert.ok(usage, "usage chunk arrives");
      const spread = times.at(-1)! - times[0]!;
      assert.ok(spread > 1500, `chunks spread over ${spread} ms, expected about 1900`);
      // Not a burst at the end: the middle chunk arrives well before the last.
      assert.ok(times.at(-1)! - times[10]! > 600, "chunks were delivered in a burst");
    },
  );

  await t.step("non-streaming completion via the openai SDK", async () => {
    const ai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "client-key", maxRetries: 0 });
    const r = await ai.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.match(r.choices[0]!.message.content ?? "", /^Hello from [ab]\./);
  });

  await t.step("a client that leaves mid-stream aborts the upstream within 1 s", async () => {
    const before = (await mockStats(env.mocks.a!)).streams_aborted!;
    const ac = new AbortController();
    const r = await postChat(base, {
      path: "/failover/v1/chat/completions",
      stream: true,
      headers: { "x-mock-chunks": "100", "x-mock-chunk-delay": "50" },
      signal: ac.signal,
    });
    const reader = r.body!.getReader();
    await reader.read();
    await reader.read();
    ac.abort();
    await reader.cancel().catch(() => {});
    const deadline = Date.now() + 1000;
    let aborted = before;
    while (Date.now() < deadline) {
      aborted = (await mockStats(env.mocks.a!)).streams_aborted!;
      if (aborted > before) break;
      await delay(20);
    }
    assert.equal(aborted, before + 1, "upstream saw no abort within 1 s");
  });

  await t.step("a retrying group with one dead member never fails a client request", async () => {
    for (let i = 0; i < 10; i++) {
      const r = await postChat(base, { path: "/retry/v1/chat/completions" });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-mock-name"), "a");
      await r.body?.cancel();
    }
  });

  await t.step("retries a 5xx on another member and returns its answer", async () => {
    // b (first, failover) answers 503 for this request; the retry goes to a.
    const seen = access().length;
    const r = await fetch(`${base}/retry5xx/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-status": "503" },
      body: "{}",
    });
    // Both members get the forced status, so the last answer comes back as it was.
    assert.equal(r.status, 503);
    const body = await r.json();
    assert.match(body.error.message, /forced status 503 from a/);
    const rec = await accessFor(access, "/retry5xx/v1/chat/completions", seen);
    assert.equal(rec.attempts, 2);
  });

  await t.step("unreachable upstream → 502 upstream_unreachable", async () => {
    const r = await postChat(base, { path: "/unreachable/v1/chat/completions" });
    assert.equal(r.status, 502);
    assert.equal(r.headers.get("x-llmproxy-error"), "upstream_unreachable");
    const body = await r.json();
    assert.equal(body.error.code, "upstream_unreachable");
    assert.equal(body.error.type, "llmproxy_error");
  });

  await t.step("stream: false with timeout.request 1 → 504 in about 1 s", async () => {
    const t0 = performance.now();
    const r = await postChat(base, {
      path: "/timeout/v1/chat/completions",
      headers: { "x-mock-latency": "3000" },
    });
    const took = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.equal((await r.json()).error.code, "upstream_timeout");
    assert.ok(took >= 900 && took < 2500, `took ${took} ms`);
  });

  await t.step("stream: true never cuts a long stream", async () => {
    const t0 = performance.now();
    const r = await postChat(base, {
      path: "/longstream/v1/chat/completions",
      stream: true,
      headers: { "x-mock-chunks": "15", "x-mock-chunk-delay": "100" },
    });
    const text = await r.text();
    assert.ok(performance.now() - t0 > 1300);
    assert.ok(text.trimEnd().endsWith("data: [DONE]"), "stream completed");
  });

  await t.step("all members broken → 503 no_available_upstream with Retry-After", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await postChat(base, { path: "/broken/v1/chat/completions" });
      assert.equal(r.status, 502);
      await r.body?.cancel();
    }
    const r = await postChat(base, { path: "/broken/v1/chat/completions" });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("x-llmproxy-error"), "no_available_upstream");
    const ra = Number(r.headers.get("retry-after"));
    assert.ok(ra >= 1 && ra <= 30, `retry-after ${ra}`);
    assert.equal((await r.json()).error.code, "no_available_upstream");
  });

  await t.step(
    "breaker opens on 5xx, half-opens after its 1 s cooldown, closes on success",
    async () => {
      const fail = () =>
        postChat(base, {
          path: "/breaker/v1/chat/completions",
          headers: { "x-mock-status": "500" },
        });
      for (let i = 0; i < 5; i++) {
        const r = await fail();
        assert.equal(r.status, 500);
        await r.body?.cancel();
      }
      const open = await postChat(base, { path: "/breaker/v1/chat/completions" });
      assert.equal(open.status, 503);
      await open.body?.cancel();
      await delay(1100);
      // Half-open: a failing probe reopens it.
      const probe = await fail();
      assert.equal(probe.status, 500);
      await probe.body?.cancel();
      const reopened = await postChat(base, { path: "/breaker/v1/chat/completions" });
      assert.equal(reopened.status, 503);
      await reopened.body?.cancel();
      await delay(1100);
      const ok = await postChat(base, { path: "/breaker/v1/chat/completions" });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const again = await postChat(base, { path: "/breaker/v1/chat/completions" });
      assert.equal(again.status, 200);
      await again.body?.cancel();
      const metrics = await (await fetch(`${env.admin}/metrics`)).text();
      assert.match(
        metrics,
        /llmproxy_circuitbreaker_state_changes_total\{group="breaker",upstream="brk",url="[^"]+",from="closed",to="open"\} 1/,
      );
      assert.match(metrics, /from="open",to="half_open"\} 2/);
      assert.match(metrics, /from="half_open",to="closed"\} 1/);
    },
  );

  await t.step("rate limit: burst 3 then 429 with Retry-After, never forwarded", async () => {
    const before = (await mockStats(env.mocks.a!)).requests! +
      (await mockStats(env.mocks.b!)).requests!;
    const statuses: number[] = [];
    let retryAfter = "";
    for (let i = 0; i < 4; i++) {
      const r = await postChat(env.limited);
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get("retry-after") ?? "";
        assert.equal((await r.json()).error.code, "rate_limited");
      } else await r.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(retryAfter, "1");
    const after = (await mockStats(env.mocks.a!)).requests! +
      (await mockStats(env.mocks.b!)).requests!;
    assert.equal(after - before, 3);
  });

  await t.step("body over max_body_size → 413 body_too_large", async () => {
    const r = await fetch(`${env.small}/v1/chat/completions`, {
      method: "POST",
      body: "x".repeat(2048),
    });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).error.code, "body_too_large");
    const ok = await fetch(`${env.small}/v1/chat/completions`, { method: "POST", body: "{}" });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });

  await t.step("a client too slow to send its body → 408 request_timeout", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(base).port) });
    const enc = new TextEncoder();
    await conn.write(enc.encode(
      "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    ));
    const buf = new Uint8Array(4096);
    const t0 = performance.now();
    const n = await conn.read(buf);
    const took = performance.now() - t0;
    conn.close();
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 408/);
    assert.ok(took > 800 && took < 3000, `took ${took}`);
  });

  await t.step("one access record per request with the documented fields", () => {
    const rec = access().find((r) => r.group === "r_admin")!;
    for (
      const k of [
        "forward",
        "method",
        "path",
        "group",
        "upstream",
        "status",
        "attempts",
        "ttfb_ms",
        "duration_ms",
        "bytes",
      ]
    ) {
      assert.ok(k in rec, `access record lacks ${k}`);
    }
  });
}
