/**
 * Conformance of the LLM-aware traffic (docs/behaviour.md#llm-aware-traffic) on one daemon: token
 * usage read from every API shape (also for clients that accept compressed answers), time to first
 * token and per output token, SSE passed byte for byte and paced, no usage → usage_missing,
 * `stream_usage` injection only where docs/behaviour.md#stream_usage says, model rules before path
 * rules, `model_map` per retry attempt, `least_requests`, `hash` affinity through a breaker,
 * and `/metrics` still passing promtool.
 *
 * Clients are the official `openai` SDK where a client would use it, and raw `fetch`
 * for the Anthropic shape and for byte comparisons. Every request carries a deadline
 * (tests/deadline.ts); the daemon is stopped by its PID in `finally`.
 */
import assert from "node:assert/strict";
import { OpenAI } from "../../dev_deps.ts";
import {
  type Answer,
  eventually,
  fetchAll,
  fetchWithDeadline,
  runWithDeadline,
  withDeadline,
} from "../deadline.ts";
import { rendezvousPick } from "../../src/core/balance/hash/rendezvous.ts";
import { MockLlm } from "../../src/mock/mock_llm.ts";
import {
  type Daemon,
  type DaemonCommand,
  delay,
  freePort,
  type RunningMock,
  startDaemon,
  startMock,
} from "./harness.ts";

/** One request (head and body) through the proxy or to a mock. */
const REQUEST_DEADLINE_MS = 10_000;
/** How long a metric or a log line may take to show what an answer reported. */
const OBSERVE_DEADLINE_MS = 3_000;

// ---------------------------------------------------------------------------------------
// Metrics text

/** One sample of the Prometheus text format. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of `name` whose labels include every one of `labels`. */
function samplesOf(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

/** The sum of the matching samples (0 when there are none: a counter not yet used). */
function total(samples: readonly Sample[], name: string, labels: Record<string, string>): number {
  return samplesOf(samples, name, labels).reduce((sum, s) => sum + s.value, 0);
}

/** The one matching sample's value, or `undefined` when there is no such series. */
function valueOf(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const hits = samplesOf(samples, name, labels);
  assert.ok(hits.length <= 1, `${name} ${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}

async function metricsText(admin: string): Promise<string> {
  const r = await fetchAll(`${admin}/metrics`, { deadlineMs: 5_000, what: "GET /metrics" });
  assert.equal(r.status, 200);
  return r.text();
}

async function scrape(admin: string): Promise<Sample[]> {
  return parseMetrics(await metricsText(admin));
}

/**
 * Scrapes until `check` holds (usage is recorded when the answer's body ends, which may
 * be a moment after the client read its last byte); returns the samples it held on.
 */
async function metricsUntil(
  admin: string,
  what: string,
  check: (s: Sample[]) => boolean,
  describe: (s: Sample[]) => unknown,
): Promise<Sample[]> {
  let last: Sample[] = [];
  await eventually(
    what,
    async () => check(last = await scrape(admin)),
    OBSERVE_DEADLINE_MS,
    () => JSON.stringify(describe(last)),
  );
  return last;
}

/** Token counters by type for one group/upstream/model. */
function tokensOf(
  s: readonly Sample[],
  group: string,
  upstream: string,
  model: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samplesOf(s, "llmproxy_tokens_total", { group, upstream, model })) {
    out[x.labels.type!] = x.value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Requests

function client(base: string, prefix = "/v1"): OpenAI {
  return new OpenAI({
    baseURL: `${base}${prefix}`,
    apiKey: "client-key",
    maxRetries: 0,
    timeout: REQUEST_DEADLINE_MS,
  });
}

function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  contentType = "application/json",
): Promise<Answer> {
  return fetchAll(url, {
    method: "POST",
    headers: { "content-type": contentType, ...headers },
    body,
    deadlineMs: REQUEST_DEADLINE_MS,
  });
}

/** The newest request a mock received, through its own log endpoint. */
async function lastRequest(m: RunningMock): Promise<MockRecord> {
  const r = await fetchAll(`${m.url}/__mock/last`, {
    deadlineMs: 5_000,
    what: `last request of mock ${m.mock.options.name}`,
  });
  assert.equal(r.status, 200, `mock ${m.mock.options.name} received nothing`);
  return r.json();
}

interface MockRecord {
  seq: number;
  path: string;
  headers: [string, string][];
  body_bytes: number;
  body: string;
  // deno-lint-ignore no-explicit-any
  json: any;
  model: string | null;
}

function received(m: RunningMock): number {
  return m.mock.stats.requests;
}

/** Events of an SSE byte stream with the time each one became complete. */
async function readEvents(
  res: Response,
): Promise<{ bytes: Uint8Array; events: number[]; reads: number }> {
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  const events: number[] = [];
  let tail = "";
  let reads = 0;
  const dec = new TextDecoder();
  await withDeadline(
    async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const at = performance.now();
        reads++;
        chunks.push(value);
        tail += dec.decode(value, { stream: true });
        let i;
        while ((i = tail.indexOf("\n\n")) >= 0) {
          events.push(at);
          tail = tail.slice(i + 2);
        }
      }
    },
    REQUEST_DEADLINE_MS,
    "reading an SSE answer",
    () => reader.cancel().catch(() => {}),
  );
  const size = chunks.reduce((n, c) => n + c.byteLength, 0);
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  return { bytes, events, reads };
}

/**
 * A mock that compresses its answers with gzip whenever the request accepts it, as
 * providers do for SDK clients (whose HTTP stacks send `Accept-Encoding: gzip, …`).
 */
export function startCompressingMock(name: string): RunningMock & { encodings: (string | null)[] } {
  const mock = new MockLlm({ name });
  const encodings: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const accepts = req.headers.get("accept-encoding");
    const res = await mock.fetch(req);
    if (!new URL(req.url).pathname.startsWith("/__mock/")) encodings.push(accepts);
    if (res.body === null || !/\bgzip\b/.test(accepts ?? "")) return res;
    const headers = new Headers(res.headers);
    headers.set("content-encoding", "gzip");
    headers.delete("content-length");
    return new Response(res.body.pipeThrough(new CompressionStream("gzip")), {
      status: res.status,
      headers,
    });
  });
  const port = server.addr.port;
  return {
    mock,
    port,
    url: `http://127.0.0.1:${port}`,
    encodings,
    close: () => withDeadline(server.shutdown(), 10_000, `shutdown of mock ${name}`),
  };
}

// ---------------------------------------------------------------------------------------
// The daemon under test

interface Mocks {
  acct: RunningMock;
  sse: RunningMock;
  /** Same name as `sse` and never behind the proxy: the reference for byte equality. */
  sseDirect: RunningMock;
  su: RunningMock;
  m1: RunningMock;
  m2: RunningMock;
  la: RunningMock;
  lb: RunningMock;
  ha: RunningMock;
  hb: RunningMock;
  hc: RunningMock;
  ra: RunningMock;
  rb: RunningMock;
  rc: RunningMock;
  rd: RunningMock;
  /** Compresses its answers for clients that accept gzip. */
  gz: ReturnType<typeof startCompressingMock>;
}

function configYaml(p: { main: number; mr: number; admin: number }, m: Mocks): string {
  return `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${p.main}
      default_group: acct
      routing:
        - { path: /sse/*, target_group: sse }
        - { path: /su/*, target_group: su }
        - { path: /nosu/*, target_group: nosu }
        - { path: /mm/*, target_group: mm }
        - { path: /lr/*, target_group: lr }
        - { path: /hash/*, target_group: hash }
        - { path: /gz/*, target_group: gz }
    - name: mr
      address: 127.0.0.1
      port: ${p.mr}
      default_group: gd
      routing:
        - { path: /v1/*, target_group: ga }
      model_routing:
        - { model: "claude-*", target_group: gb }
        - { model: "gpt-4o-mini", target_group: gc }
        - { model: "*-preview", target_group: gc }
  admin: { address: 127.0.0.1, port: ${p.admin} }
upstreams:
  - { name: acct, url: "${m.acct.url}" }
  - { name: sse, url: "${m.sse.url}" }
  - { name: su, url: "${m.su.url}" }
  - { name: nosu, url: "${m.su.url}" }
  - name: m1
    url: "${m.m1.url}"
    model_map: { "*": "m-one" }
  - name: m2
    url: "${m.m2.url}"
    model_map: { "gpt-*": "m-two" }
  - { name: la, url: "${m.la.url}" }
  - { name: lb, url: "${m.lb.url}" }
  - { name: ha, url: "${m.ha.url}", breaker: { threshold: 0.5, cooldown: 2 } }
  - { name: hb, url: "${m.hb.url}", breaker: { threshold: 0.5, cooldown: 2 } }
  - { name: hc, url: "${m.hc.url}", breaker: { threshold: 0.5, cooldown: 2 } }
  - { name: ua, url: "${m.ra.url}" }
  - { name: ub, url: "${m.rb.url}" }
  - { name: uc, url: "${m.rc.url}" }
  - { name: ud, url: "${m.rd.url}" }
  - { name: gz, url: "${m.gz.url}" }
upstream_groups:
  - { name: acct, upstreams: [{ name: acct }] }
  - { name: sse, upstreams: [{ name: sse }] }
  - name: su
    upstreams: [{ name: su }]
    http_client: { stream_usage: true }
  - { name: nosu, upstreams: [{ name: nosu }] }
  - name: mm
    upstreams: [{ name: m1 }, { name: m2 }]
    balance: { strategy: failover }
    http_client: { retry: { attempts: 1, initial: 100 } }
  - name: lr
    upstreams: [{ name: la }, { name: lb }]
    balance: { strategy: least_requests }
  - name: hash
    upstreams: [{ name: ha }, { name: hb }, { name: hc }]
    balance: { strategy: hash, hash_key: "header:X-Session-Id" }
  - { name: ga, upstreams: [{ name: ua }] }
  - { name: gb, upstreams: [{ name: ub }] }
  - { name: gc, upstreams: [{ name: uc }] }
  - { name: gd, upstreams: [{ name: ud }] }
  - { name: gz, upstreams: [{ name: gz }] }
`;
}

interface Env {
  base: string;
  mr: string;
  admin: string;
  mocks: Mocks;
  daemon: Daemon;
}

/** Registers the LLM-aware conformance cases for a daemon command. */
export function llmSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: LLM-aware traffic (docs/behaviour.md#llm-aware-traffic)`, async (t) => {
    const mocks: Mocks = {
      acct: startMock({ name: "acct" }),
      sse: startMock({ name: "sse" }),
      sseDirect: startMock({ name: "sse" }),
      su: startMock({ name: "su", chunks: 3, chunkDelayMs: 1 }),
      m1: startMock({ name: "m1", errorRate: 1, errorStatus: 503 }),
      m2: startMock({ name: "m2" }),
      la: startMock({ name: "la" }),
      lb: startMock({ name: "lb" }),
      ha: startMock({ name: "ha" }),
      hb: startMock({ name: "hb" }),
      hc: startMock({ name: "hc" }),
      ra: startMock({ name: "ra" }),
      rb: startMock({ name: "rb" }),
      rc: startMock({ name: "rc" }),
      rd: startMock({ name: "rd" }),
      gz: startCompressingMock("gz"),
    };
    const p = { main: freePort(), mr: freePort(), admin: freePort() };
    let daemon: Daemon | undefined;
    try {
      daemon = await startDaemon(cmd, configYaml(p, mocks), p.admin);
      await cases(t, {
        base: `http://127.0.0.1:${p.main}`,
        mr: `http://127.0.0.1:${p.mr}`,
        admin: `http://127.0.0.1:${p.admin}`,
        mocks,
        daemon,
      });
    } finally {
      await daemon?.stop();
      await Promise.all(Object.values(mocks).map((m: RunningMock) => m.close()));
    }
  });
}

async function cases(t: Deno.TestContext, env: Env): Promise<void> {
  const { base, admin, mocks } = env;
  const usage = {
    "x-mock-input-tokens": "11",
    "x-mock-output-tokens": "7",
    "x-mock-cached-tokens": "3",
    "x-mock-reasoning-tokens": "2",
  };
  const counted = (s: Sample[], model: string) => tokensOf(s, "acct", "acct", model);

  await t.step("tokens: chat completions JSON via the SDK", async () => {
    const { data, response } = await client(base).chat.completions.create(
      { model: "req-chat-json", messages: [{ role: "user", content: "hi" }] },
      { headers: { ...usage, "x-mock-model": "ans-chat-json" } },
    ).withResponse();
    assert.equal(response.headers.get("x-mock-name"), "acct");
    assert.equal(data.model, "ans-chat-json");
    assert.equal(data.usage?.prompt_tokens, 11);
    const s = await metricsUntil(
      admin,
      "tokens of ans-chat-json",
      (s) => counted(s, "ans-chat-json").input === 11,
      (s) => samplesOf(s, "llmproxy_tokens_total"),
    );
    assert.deepEqual(counted(s, "ans-chat-json"), {
      input: 11,
      output: 7,
      cached_input: 3,
      reasoning: 2,
    });
    // The label is the answer's model, never the request's.
    assert.deepEqual(counted(s, "req-chat-json"), {});
    // Not streamed: no first token to time.
    assert.equal(
      valueOf(s, "llmproxy_time_to_first_token_seconds_count", { model: "ans-chat-json" }),
      undefined,
    );
  });

  await t.step("tokens: chat completions streamed with include_usage via the SDK", async () => {
    const stream = await client(base).chat.completions.create(
      {
        model: "req-chat-sse",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "hi" }],
      },
      {
        headers: {
          ...usage,
          "x-mock-model": "ans-chat-sse",
          "x-mock-stream-usage": "requested",
          "x-mock-chunks": "4",
          "x-mock-chunk-delay": "20",
        },
      },
    );
    let text = "";
    let reported: number | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? "";
      assert.equal(c.model, "ans-chat-sse");
      if (c.usage) reported = c.usage.completion_tokens;
    }
    assert.match(text, /^Hello from acct\./);
    assert.equal(reported, 7);
    const s = await metricsUntil(
      admin,
      "tokens of ans-chat-sse",
      (s) => counted(s, "ans-chat-sse").input === 11,
      (s) => samplesOf(s, "llmproxy_tokens_total"),
    );
    assert.deepEqual(counted(s, "ans-chat-sse"), {
      input: 11,
      output: 7,
      cached_input: 3,
      reasoning: 2,
    });
    assert.deepEqual(counted(s, "req-chat-sse"), {});
    const labels = { group: "acct", upstream: "acct", model: "ans-chat-sse" };
    assert.equal(valueOf(s, "llmproxy_time_to_first_token_seconds_count", labels), 1);
    // 7 output tokens ≥ 2: one time-per-token observation.
    assert.equal(valueOf(s, "llmproxy_time_per_output_token_seconds_count", labels), 1);
    // The access log gains model, tokens and time to first token.
    let rec: Record<string, unknown> | undefined;
    await eventually(
      "access record of ans-chat-sse",
      () => (rec = env.daemon.access().find((r) => r.model === "ans-chat-sse")) !== undefined,
      OBSERVE_DEADLINE_MS,
    );
    assert.equal(rec!.input_tokens, 11);
    assert.equal(rec!.output_tokens, 7);
    assert.equal(typeof rec!.ttft_ms, "number");
    assert.ok((rec!.ttft_ms as number) >= 0, `ttft_ms ${rec!.ttft_ms}`);
    const json = env.daemon.access().find((r) => r.model === "ans-chat-json");
    assert.ok(json, "access record of ans-chat-json");
    assert.equal(json.input_tokens, 11);
    assert.equal(json.ttft_ms, null);
  });

  await t.step("time to first token and per output token follow the stream's timing", async () => {
    // 300 ms before the headers; events at 0 (role and first content), then 4 more
    // 100 ms apart and the closing ones 100 ms later: about 500 ms from first to last.
    const stream = await client(base).chat.completions.create(
      { model: "req-timing", stream: true, messages: [{ role: "user", content: "hi" }] },
      {
        headers: {
          "x-mock-model": "ans-timing",
          "x-mock-latency": "300",
          "x-mock-chunks": "5",
          "x-mock-chunk-delay": "100",
          "x-mock-output-tokens": "4",
        },
      },
    );
    for await (const _ of stream) { /* read to the end */ }
    const labels = { group: "acct", upstream: "acct", model: "ans-timing" };
    const bucket = (s: Sample[], name: string, le: string) =>
      valueOf(s, `${name}_bucket`, { ...labels, le });
    const ttft = "llmproxy_time_to_first_token_seconds";
    const tpot = "llmproxy_time_per_output_token_seconds";
    const s = await metricsUntil(
      admin,
      "timing of ans-timing",
      (s) => valueOf(s, `${tpot}_count`, labels) === 1,
      (s) => samplesOf(s, `${tpot}_count`),
    );
    // TTFT counts from the request's arrival: the 300 ms before the headers are in it.
    assert.equal(valueOf(s, `${ttft}_count`, labels), 1);
    assert.equal(bucket(s, ttft, "0.25"), 0, "time to first token under 300 ms");
    assert.equal(bucket(s, ttft, "2.5"), 1);
    const ttftSum = valueOf(s, `${ttft}_sum`, labels)!;
    assert.ok(ttftSum >= 0.3 && ttftSum < 2.5, `time to first token ${ttftSum} s`);
    // About 500 ms over 4 - 1 tokens: about 0.17 s per token.
    const per = valueOf(s, `${tpot}_sum`, labels)!;
    assert.ok(per >= 0.1 && per <= 0.25, `time per output token ${per} s, expected about 0.17`);
    assert.equal(bucket(s, tpot, "0.1"), 0);
    assert.equal(bucket(s, tpot, "0.25"), 1);
    let rec: Record<string, unknown> | undefined;
    await eventually(
      "access record of ans-timing",
      () => (rec = env.daemon.access().find((r) => r.model === "ans-timing")) !== undefined,
      OBSERVE_DEADLINE_MS,
    );
    assert.ok((rec!.ttft_ms as number) >= 300, `ttft_ms ${rec!.ttft_ms}`);
    assert.equal(rec!.output_tokens, 4);
  });

  await t.step("tokens: Responses API JSON and streamed via the SDK", async () => {
    const ai = client(base);
    const r = await ai.responses.create(
      { model: "req-resp-json", input: "hi" },
      { headers: { ...usage, "x-mock-model": "ans-resp-json" } },
    );
    assert.equal(r.model, "ans-resp-json");
    assert.equal(r.usage?.input_tokens, 11);
    const stream = await ai.responses.create(
      { model: "req-resp-sse", input: "hi", stream: true },
      { headers: { ...usage, "x-mock-model": "ans-resp-sse", "x-mock-chunks": "3" } },
    );
    let completed = false;
    for await (const e of stream) {
      if (e.type === "response.completed") {
        completed = true;
        assert.equal(e.response.usage?.output_tokens, 7);
      }
    }
    assert.ok(completed, "response.completed arrived");
    const s = await metricsUntil(
      admin,
      "tokens of both Responses answers",
      (s) => counted(s, "ans-resp-json").input === 11 && counted(s, "ans-resp-sse").input === 11,
      (s) => samplesOf(s, "llmproxy_tokens_total"),
    );
    for (const model of ["ans-resp-json", "ans-resp-sse"]) {
      assert.deepEqual(
        counted(s, model),
        { input: 11, output: 7, cached_input: 3, reasoning: 2 },
        model,
      );
    }
    assert.deepEqual(counted(s, "req-resp-json"), {});
    assert.deepEqual(counted(s, "req-resp-sse"), {});
    assert.equal(
      valueOf(s, "llmproxy_time_to_first_token_seconds_count", { model: "ans-resp-sse" }),
      1,
    );
  });

  await t.step("tokens: Anthropic Messages JSON and SSE via fetch", async () => {
    const body = (stream: boolean, model: string) =>
      JSON.stringify({
        model,
        max_tokens: 64,
        stream,
        messages: [{ role: "user", content: "hi" }],
      });
    const anthropic = { "anthropic-version": "2023-06-01", "x-api-key": "client-key" };
    const j = await post(`${base}/v1/messages`, body(false, "req-msg-json"), {
      ...anthropic,
      ...usage,
      "x-mock-model": "ans-msg-json",
    });
    assert.equal(j.status, 200);
    assert.equal(j.json().usage.cache_read_input_tokens, 3);
    const e = await post(`${base}/v1/messages`, body(true, "req-msg-sse"), {
      ...anthropic,
      ...usage,
      "x-mock-model": "ans-msg-sse",
      "x-mock-chunks": "3",
    });
    assert.equal(e.status, 200);
    assert.match(e.headers.get("content-type") ?? "", /text\/event-stream/);
    assert.match(e.text(), /event: message_start[\s\S]*event: message_delta[\s\S]*message_stop/);
    const s = await metricsUntil(
      admin,
      "tokens of both Anthropic answers",
      (s) => counted(s, "ans-msg-json").input === 11 && counted(s, "ans-msg-sse").output === 7,
      (s) => samplesOf(s, "llmproxy_tokens_total"),
    );
    // message_start reports 1 output token, message_delta the cumulative 7: the last counts.
    for (const model of ["ans-msg-json", "ans-msg-sse"]) {
      assert.deepEqual(counted(s, model), { input: 11, output: 7, cached_input: 3 }, model);
    }
    assert.deepEqual(counted(s, "req-msg-json"), {});
  });

  await t.step("tokens: counted when the client accepts compressed answers", async () => {
    // SDK clients send Accept-Encoding: gzip (undici, httpx, Deno's fetch), and providers
    // compress their answers when asked: usage must still be read.
    const ai = client(base, "/gz/v1");
    const r = await ai.chat.completions.create(
      { model: "req-gz", messages: [{ role: "user", content: "hi" }] },
      { headers: { ...usage, "x-mock-model": "ans-gz-json", "accept-encoding": "gzip, br" } },
    );
    assert.equal(r.usage?.prompt_tokens, 11);
    const stream = await ai.chat.completions.create(
      {
        model: "req-gz",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "hi" }],
      },
      { headers: { ...usage, "x-mock-model": "ans-gz-sse", "accept-encoding": "gzip, br" } },
    );
    let reported: number | undefined;
    for await (const c of stream) if (c.usage) reported = c.usage.completion_tokens;
    assert.equal(reported, 7);
    const gz = (s: Sample[], model: string) => tokensOf(s, "gz", "gz", model);
    const s = await metricsUntil(
      admin,
      "tokens of the answers to a client that accepts gzip",
      (s) => gz(s, "ans-gz-json").input === 11 && gz(s, "ans-gz-sse").input === 11,
      (s) => ({
        tokens: samplesOf(s, "llmproxy_tokens_total", { group: "gz" }),
        missing: samplesOf(s, "llmproxy_usage_missing_total", { group: "gz" }),
        upstreamSaw: mocks.gz.encodings,
      }),
    );
    for (const model of ["ans-gz-json", "ans-gz-sse"]) {
      assert.deepEqual(gz(s, model), { input: 11, output: 7, cached_input: 3, reasoning: 2 });
    }
  });

  await t.step("SSE bytes pass unchanged and paced as the upstream sends them", async () => {
    const body = JSON.stringify({
      model: "m",
      stream: true,
      messages: [{ role: "user", content: "pace" }],
    });
    const headers = {
      "content-type": "application/json",
      "x-mock-chunks": "10",
      "x-mock-chunk-delay": "100",
    };
    // The two mocks are twins (same name, fresh counters): their answers differ only in
    // `created` (whole seconds), so both requests start just after a second begins.
    await delay(1005 - (Date.now() % 1000));
    const send = (url: string) =>
      fetchWithDeadline(`${url}/sse/v1/chat/completions`, {
        method: "POST",
        headers,
        body,
        deadlineMs: REQUEST_DEADLINE_MS,
      });
    const [viaProxy, direct] = await Promise.all([send(base), send(mocks.sseDirect.url)]);
    assert.equal(viaProxy.status, 200);
    assert.equal(viaProxy.headers.get("content-type"), "text/event-stream");
    const [p, d] = await Promise.all([readEvents(viaProxy), readEvents(direct)]);
    const text = new TextDecoder().decode(p.bytes);
    assert.equal(text, new TextDecoder().decode(d.bytes));
    assert.deepEqual(p.bytes, d.bytes);
    assert.ok(text.trimEnd().endsWith("data: [DONE]"));
    // 1 head event, 10 content events 100 ms apart, then finish, usage and [DONE].
    assert.equal(p.events.length, 14, text);
    const spread = p.events.at(-1)! - p.events[0]!;
    assert.ok(spread >= 800, `events spread over ${spread.toFixed(0)} ms, expected about 1000`);
    assert.ok(p.reads >= 9, `the answer arrived in ${p.reads} reads: a burst`);
    // The first events arrive well before the end, and the middle one in the middle.
    assert.ok(p.events.at(-1)! - p.events[1]! >= 700, "first content event held back");
    assert.ok(p.events.at(-1)! - p.events[6]! >= 300, "middle events held back");

    // Anthropic's named events (no timestamps in them) pass byte for byte as well.
    const msg = JSON.stringify({
      model: "claude-3",
      max_tokens: 64,
      stream: true,
      messages: [{ role: "user", content: "pace" }],
    });
    const sendMsg = (url: string) =>
      fetchWithDeadline(`${url}/sse/v1/messages`, {
        method: "POST",
        headers: { ...headers, "x-mock-chunks": "5", "x-mock-chunk-delay": "10" },
        body: msg,
        deadlineMs: REQUEST_DEADLINE_MS,
      });
    const [pm, dm] = await Promise.all([sendMsg(base), sendMsg(mocks.sseDirect.url)]);
    const [pmb, dmb] = await Promise.all([readEvents(pm), readEvents(dm)]);
    assert.equal(new TextDecoder().decode(pmb.bytes), new TextDecoder().decode(dmb.bytes));
    assert.match(new TextDecoder().decode(pmb.bytes), /^event: message_start\n/);
  });

  await t.step(
    "no usage: nothing counted, usage_missing +1; GET /v1/models is not missing",
    async () => {
      const missing = (s: Sample[]) =>
        total(s, "llmproxy_usage_missing_total", { group: "acct", upstream: "acct" });
      const before = missing(await scrape(admin));
      const r = await client(base).chat.completions.create(
        { model: "req-none", messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-mock-no-usage": "1", "x-mock-model": "ans-none-json" } },
      );
      assert.equal(r.usage, undefined);
      let s = await metricsUntil(
        admin,
        "usage_missing after a JSON answer without usage",
        (s) => missing(s) === before + 1,
        (s) => samplesOf(s, "llmproxy_usage_missing_total"),
      );
      assert.deepEqual(counted(s, "ans-none-json"), {});
      assert.deepEqual(counted(s, "req-none"), {});
      // A streamed answer without usage is missing too.
      const stream = await client(base).chat.completions.create(
        { model: "req-none", stream: true, messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-mock-no-usage": "1", "x-mock-model": "ans-none-sse" } },
      );
      for await (const c of stream) assert.equal(c.usage ?? undefined, undefined);
      s = await metricsUntil(
        admin,
        "usage_missing after a streamed answer without usage",
        (s) => missing(s) === before + 2,
        (s) => samplesOf(s, "llmproxy_usage_missing_total"),
      );
      assert.deepEqual(counted(s, "ans-none-sse"), {});
      // Neither a GET nor an error answer is "missing usage".
      const models = await client(base).models.list();
      assert.equal(models.data[0]?.id, "mock-model");
      const err = await post(`${base}/v1/chat/completions`, '{"model":"req-err"}', {
        "x-mock-status": "400",
      });
      assert.equal(err.status, 400);
      // A POST whose body is not JSON (by its content type) is no LLM request either.
      const plain = await post(
        `${base}/v1/chat/completions`,
        '{"model":"req-plain"}',
        { "x-mock-no-usage": "1" },
        "text/plain",
      );
      assert.equal(plain.status, 200);
      // Synchronise on something that is counted (a normal answer), then compare.
      const ok = await post(`${base}/v1/chat/completions`, '{"model":"sync-1"}', usage);
      assert.equal(ok.status, 200);
      s = await metricsUntil(
        admin,
        "tokens of sync-1",
        (s) => counted(s, "sync-1").input === 11,
        (s) => samplesOf(s, "llmproxy_tokens_total"),
      );
      assert.equal(missing(s), before + 2);
      assert.deepEqual(counted(s, "req-err"), {});
    },
  );

  await t.step("stream_usage: injected into streamed chat completions only", async () => {
    const su = mocks.su;
    const requested = { "x-mock-stream-usage": "requested", ...usage };
    // Through the SDK: the client did not ask, the proxy did; the SDK takes the chunk.
    const stream = await client(base, "/su/v1").chat.completions.create(
      { model: "su-1", stream: true, messages: [{ role: "user", content: "hi" }] },
      { headers: requested },
    );
    let usageChunk: OpenAI.CompletionUsage | undefined;
    let text = "";
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? "";
      if (c.usage) {
        usageChunk = c.usage;
        assert.deepEqual(c.choices, []);
      }
    }
    assert.match(text, /^Hello from su\./);
    assert.equal(usageChunk?.prompt_tokens, 11);
    assert.equal(usageChunk?.completion_tokens, 7);
    let last = await lastRequest(su);
    assert.equal(last.path, "/su/v1/chat/completions");
    assert.deepEqual(last.json.stream_options, { include_usage: true });
    assert.equal(last.model, "su-1");

    // Raw: the client's bytes are kept, the member is added after the last one.
    const raw = '{ "model": "su-2", "stream": true, "messages": [{"role":"user","content":"hi"}] }';
    let r = await post(`${base}/su/v1/chat/completions`, raw, requested);
    assert.equal(r.status, 200);
    assert.match(r.text(), /"choices":\[\],"usage":\{"prompt_tokens":11/);
    last = await lastRequest(su);
    assert.equal(
      last.body,
      '{ "model": "su-2", "stream": true, "messages": [{"role":"user","content":"hi"}],' +
        '"stream_options":{"include_usage":true} }',
    );
    assert.equal(
      new Map(last.headers).get("content-length"),
      String(new TextEncoder().encode(last.body).byteLength),
    );
    const s = await metricsUntil(
      admin,
      "tokens of su-2",
      (s) => tokensOf(s, "su", "su", "su-2").output === 7,
      (s) => samplesOf(s, "llmproxy_tokens_total", { group: "su" }),
    );
    assert.equal(tokensOf(s, "su", "su", "su-1").input, 11);

    /** Sends `body` to `path` and checks the mock received exactly those bytes. */
    const untouched = async (path: string, body: string, what: string) => {
      const before = received(su);
      const r = await post(`${base}${path}`, body, requested);
      assert.equal(r.status, 200, what);
      assert.equal(received(su), before + 1, what);
      const got = await lastRequest(su);
      assert.equal(got.path, path, what);
      assert.equal(got.body, body, what);
      return r;
    };
    // Not streamed; the Responses API; the client's own include_usage, false or true.
    r = await untouched(
      "/su/v1/chat/completions",
      '{"model":"su-3","stream":false,"messages":[]}',
      "non-streamed",
    );
    assert.equal(r.json().usage.prompt_tokens, 11);
    await untouched("/su/v1/responses", '{"model":"su-4","stream":true,"input":"hi"}', "responses");
    r = await untouched(
      "/su/v1/chat/completions",
      '{"model":"su-5","stream":true,"stream_options":{"include_usage":false},"messages":[]}',
      "include_usage false",
    );
    assert.doesNotMatch(r.text(), /"prompt_tokens"/, "the client opted out: no usage chunk");
    await untouched(
      "/su/v1/chat/completions",
      '{"model":"su-6","stream":true,"stream_options":{"include_usage":true},"messages":[]}',
      "include_usage true",
    );

    // Without stream_usage (the default) nothing is added, and the answer has no usage.
    const missing = (s: Sample[]) =>
      total(s, "llmproxy_usage_missing_total", { group: "nosu", upstream: "nosu" });
    const missingBefore = missing(await scrape(admin));
    const plain = await client(base, "/nosu/v1").chat.completions.create(
      { model: "nosu-1", stream: true, messages: [{ role: "user", content: "hi" }] },
      { headers: requested },
    );
    for await (const c of plain) assert.equal(c.usage ?? undefined, undefined);
    last = await lastRequest(su);
    assert.equal(last.path, "/nosu/v1/chat/completions");
    assert.equal(last.json.stream_options, undefined);
    assert.doesNotMatch(last.body, /stream_options/);
    await untouched(
      "/nosu/v1/chat/completions",
      '{"model":"nosu-2","stream":true,"messages":[]}',
      "no stream_usage",
    );
    await metricsUntil(
      admin,
      "usage_missing of nosu",
      (s) => missing(s) === missingBefore + 2,
      (s) => samplesOf(s, "llmproxy_usage_missing_total"),
    );
  });

  await t.step("model rules come before path rules; globs match whole names", async () => {
    const { mr } = env;
    const ai = client(mr);
    // Through the SDK: the answer's x-mock-name tells the group.
    const via = async (model: string) => {
      const { response } = await ai.chat.completions.create(
        { model, messages: [{ role: "user", content: "hi" }] },
      ).withResponse();
      return response.headers.get("x-mock-name");
    };
    assert.equal(await via("claude-3"), "rb");
    assert.equal(await via("gpt-4o"), "ra");
    assert.equal(await via("gpt-4o-mini"), "rc");
    // Exact unless there is a star; case-sensitive; a star may match nothing.
    assert.equal(await via("gpt-4o-mini-2024"), "ra");
    assert.equal(await via("Claude-3"), "ra");
    assert.equal(await via("xclaude-3"), "ra");
    assert.equal(await via("claude-"), "rb");
    assert.equal(await via("o1-preview"), "rc");
    // The first matching rule in file order wins.
    assert.equal(await via("claude-3-preview"), "rb");

    const raw = async (path: string, body: string, contentType = "application/json") => {
      const r = await post(`${mr}${path}`, body, {}, contentType);
      return `${r.status} ${r.headers.get("x-mock-name")}`;
    };
    // A model rule applies whatever the path (also one no path rule matches).
    assert.equal(await raw("/other/chat/completions", '{"model":"claude-3"}'), "200 rb");
    assert.equal(await raw("/other/chat/completions", '{"model":"gpt-4o"}'), "200 rd");
    assert.equal(
      await raw("/v1/messages", '{"model":"claude-3-5-sonnet","max_tokens":8,"messages":[]}'),
      "200 rb",
    );
    // No model: by path. The mock answers 400 to a body that is not JSON.
    assert.equal(await raw("/v1/chat/completions", '{"model":"claude-3",'), "400 ra");
    assert.equal(await raw("/other/chat/completions", '{"model":"claude-3"'), "400 rd");
    assert.equal(await raw("/v1/chat/completions", '{"model":5}'), "200 ra");
    assert.equal(await raw("/v1/chat/completions", '{"x":{"model":"claude-3"}}'), "200 ra");
    assert.equal(await raw("/v1/chat/completions", '["claude-3"]'), "400 ra");
    assert.equal(await raw("/v1/chat/completions", ""), "400 ra");
    // Only a JSON content type carries a model.
    assert.equal(
      await raw("/v1/chat/completions", '{"model":"claude-3"}', "text/plain"),
      "200 ra",
    );
    // The proxy never fails a request for its body: no proxy error among these.
    const s = await scrape(admin);
    assert.equal(
      samplesOf(s, "llmproxy_http_request_errors_total", { forward: "mr" })
        .filter((x) => x.labels.error !== "upstream_status").length,
      0,
    );
  });

  await t.step(
    "model_map applies per attempt: a retry carries the next member's model",
    async () => {
      const { m1, m2 } = mocks;
      // Field order, spacing, escapes and a nested "model" that must not change.
      const head = '{\n  "messages": [{"role": "user", "content": "h\\u00e9llo \\"model\\": ' +
        '\\"gpt-4o\\" ✓"}],\n  "model" :  ';
      const tail = ' ,\n  "temperature": 0.25,\n  "metadata": {"model": "gpt-4o", ' +
        '"n": [1, 2.50, -0e3]},\n  "stream": false,\n  "user": "u-1"\n}';
      const send = async (model: string) => {
        const b1 = received(m1);
        const b2 = received(m2);
        const r = await post(`${base}/mm/v1/chat/completions`, `${head}"${model}"${tail}`);
        assert.equal(r.status, 200, r.text());
        assert.equal(r.headers.get("x-mock-name"), "m2");
        // Exactly one try on each member.
        assert.equal(received(m1), b1 + 1);
        assert.equal(received(m2), b2 + 1);
        return [await lastRequest(m1), await lastRequest(m2)] as const;
      };
      const bytes = (s: string) => String(new TextEncoder().encode(s).byteLength);

      let [one, two] = await send("gpt-4o");
      assert.equal(one.body, `${head}"m-one"${tail}`);
      assert.equal(two.body, `${head}"m-two"${tail}`);
      assert.equal(two.model, "m-two");
      assert.equal(two.json.metadata.model, "gpt-4o");
      assert.equal(new Map(one.headers).get("content-length"), bytes(one.body));
      assert.equal(new Map(two.headers).get("content-length"), bytes(two.body));
      assert.equal(two.body_bytes, Number(bytes(two.body)));

      // A model m2's map does not match reaches it exactly as the client sent it.
      [one, two] = await send("llama-3");
      assert.equal(one.body, `${head}"m-one"${tail}`);
      assert.equal(two.body, `${head}"llama-3"${tail}`);
      assert.equal(new Map(two.headers).get("content-length"), bytes(two.body));
    },
  );

  await t.step("least_requests sends new requests to the member with fewer in flight", async () => {
    const inFlight = async () => {
      const s = await scrape(admin);
      const of = (upstream: string) =>
        valueOf(s, "llmproxy_upstream_in_flight", { group: "lr", upstream }) ?? 0;
      return { la: of("la"), lb: of("lb") };
    };
    const held: Promise<Answer>[] = [];
    const slow = () =>
      post(`${base}/lr/v1/chat/completions`, '{"model":"slow","messages":[]}', {
        "x-mock-latency": "4000",
      });
    try {
      // Five slow requests, one at a time, each once the previous one is counted.
      for (let i = 1; i <= 5; i++) {
        held.push(slow());
        let seen = { la: 0, lb: 0 };
        await eventually(
          `${i} slow requests in flight`,
          async () => (seen = await inFlight()).la + seen.lb === i,
          OBSERVE_DEADLINE_MS,
          () => JSON.stringify(seen),
        );
      }
      const spread = await inFlight();
      // Each new one went to the member with fewer: 3 and 2.
      assert.deepEqual(
        [spread.la, spread.lb].sort(),
        [2, 3],
        `slow requests spread ${JSON.stringify(spread)}`,
      );
      const fewer = spread.la < spread.lb ? "la" : "lb";
      for (let i = 0; i < 6; i++) {
        // The previous quick request is over (its count released), the slow ones held.
        let now = spread;
        await eventually(
          "only the slow requests in flight",
          async () => (now = await inFlight()).la === spread.la && now.lb === spread.lb,
          OBSERVE_DEADLINE_MS,
          () => JSON.stringify(now),
        );
        const r = await post(`${base}/lr/v1/chat/completions`, '{"model":"quick","messages":[]}');
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("x-mock-name"), fewer, `quick request ${i}`);
      }
      const answers = await Promise.all(held);
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
      const names = answers.map((a) => a.headers.get("x-mock-name"));
      assert.equal(names.filter((n) => n === fewer).length, Math.min(spread.la, spread.lb));
    } finally {
      await Promise.allSettled(held);
    }
    await eventually(
      "in-flight counts back to 0",
      async () => {
        const n = await inFlight();
        return n.la === 0 && n.lb === 0;
      },
      OBSERVE_DEADLINE_MS,
    );
  });

  await t.step("hash keeps sessions on one member, moves only a broken member's", async () => {
    const url = `${base}/hash/v1/chat/completions`;
    const memberOf = async (session: string, headers: Record<string, string> = {}) => {
      const r = await post(url, '{"model":"h","messages":[]}', {
        "x-session-id": session,
        ...headers,
      });
      return `${r.status} ${r.headers.get("x-mock-name")}`;
    };
    const first = await memberOf("session-0");
    for (let i = 0; i < 20; i++) assert.equal(await memberOf("session-0"), first, `request ${i}`);

    const sessions = Array.from({ length: 30 }, (_, i) => `session-${i}`);
    const home = new Map<string, string>();
    for (const s of sessions) home.set(s, await memberOf(s));
    const members = new Set(home.values());
    assert.deepEqual([...members].sort(), ["200 ha", "200 hb", "200 hc"], "sessions spread");
    // The hash is the one every runtime shares (a fleet agrees): the core's own pick.
    const weighted = ["ha", "hb", "hc"].map((name) => ({ name, weight: 1 }));
    for (const [s, m] of home) assert.equal(m, `200 ${rendezvousPick(weighted, s)!.name}`, s);
    // Sticky: asked again, every session answers from the same member.
    for (const s of sessions) assert.equal(await memberOf(s), home.get(s), s);

    // Break session-0's member: 5 failures in a row through a request of that session.
    const broken = home.get("session-0")!.slice(4);
    for (let i = 0; i < 5; i++) {
      assert.equal(await memberOf("session-0", { "x-mock-status": "500" }), `500 ${broken}`);
    }
    const state = async () =>
      valueOf(await scrape(admin), "llmproxy_circuitbreaker_state", {
        group: "hash",
        upstream: broken,
      });
    assert.equal(await state(), 1, "the breaker is open");
    const moved = new Map<string, string>();
    for (const s of sessions) {
      const now = await memberOf(s);
      if (home.get(s) === `200 ${broken}`) {
        assert.notEqual(now, `200 ${broken}`, `${s} left the broken member`);
        assert.match(now, /^200 h[abc]$/);
        moved.set(s, now);
      } else {
        assert.equal(now, home.get(s), `${s} is not on the broken member: it stays`);
      }
    }
    assert.ok(moved.size >= 1);
    // While it is open, a moved session stays on its runner-up.
    for (const [s, m] of moved) assert.equal(await memberOf(s), m, `${s} runner-up`);
    assert.equal(await state(), 1, "the checks above ran while the breaker was open");

    // Cooldown 2 s, then half-open (no call needed); a probe that succeeds closes it.
    let seen: number | undefined;
    await eventually(
      "the breaker half-opens after its cooldown",
      async () => (seen = await state()) === 2,
      4_000,
      () => `state ${seen}`,
      50,
    );
    assert.equal(await memberOf("session-0"), `200 ${broken}`, "the probe goes home");
    assert.equal(await state(), 0, "the probe's success closed the breaker");
    for (const s of sessions) assert.equal(await memberOf(s), home.get(s), `${s} back home`);
  });

  await t.step("/metrics with the LLM metrics passes promtool check metrics", async () => {
    const text = await metricsText(admin);
    for (
      const name of [
        "llmproxy_tokens_total",
        "llmproxy_usage_missing_total",
        "llmproxy_time_to_first_token_seconds",
        "llmproxy_time_per_output_token_seconds",
      ]
    ) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|histogram)$`, "m"), name);
    }
    // promtool reads stdin: `exec` makes the shell promtool itself, so the deadline's
    // kill by PID reaches it.
    const file = await Deno.makeTempFile({ prefix: "llmproxy-metrics-" });
    let out;
    try {
      await Deno.writeTextFile(file, text);
      out = await runWithDeadline(
        "sh",
        {
          args: [
            "-c",
            'exec "$0" check metrics < "$1"',
            Deno.env.get("PROMTOOL") ?? "promtool",
            file,
          ],
        },
        20_000,
        "promtool check metrics",
      );
    } finally {
      await Deno.remove(file);
    }
    const { code } = out;
    const output = out.stdout + out.stderr;
    assert.notEqual(code, 127, `promtool is not on PATH (Debian package prometheus): ${output}`);
    assert.equal(code, 0, output);
  });
}
