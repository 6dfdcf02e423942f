import assert from "node:assert/strict";
import {
  BREAKER_STATE_VALUE,
  CONTENT_TYPE,
  DURATION_BUCKETS,
  methodLabel,
  ProxyMetrics,
} from "./mod.ts";
import { promtoolCheckMetrics } from "../../../tests/promtool.ts";
import {
  CLIENT_METRICS,
  EXTRA_METRICS,
  LLM_METRICS,
  SPEC_METRICS,
  STATE_METRICS,
  TOKEN_BUCKET_LES,
} from "../../../tests/spec_metrics.ts";

/** docs/behaviour.md#metrics plus the operator extras: name, type and label names in order. */
const EXPECTED = [
  ...SPEC_METRICS,
  ...EXTRA_METRICS,
  ...LLM_METRICS,
  ...CLIENT_METRICS,
  ...STATE_METRICS,
];

/** One sample in every metric, with label values that need escaping here and there. */
function recordOneOfEach(): ProxyMetrics {
  const m = new ProxyMetrics();
  const url = 'http://vllm:8000/v1?q="x"';
  m.httpRequests.labels("public", methodLabel("POST"), "/v1/*").inc();
  m.httpRequestDuration.labels("public", methodLabel("POST"), "/v1/*").observe(0.42);
  m.httpRequestErrors.labels("public", "no_available_upstream", "503").inc();
  m.rateLimited.labels("public").inc();
  m.upstreamRequests.labels("openai", "primary").inc();
  m.upstreamDuration.labels("openai", "primary").observe(12.5);
  m.upstreamErrors.labels("timeout", "openai", "primary").inc();
  m.breakerStateChanges.labels("openai", "primary", url, "closed", "open").inc();
  m.breakerCalls.labels("openai", "primary", url, "rejected").inc();
  m.upstreamInFlight.labels("openai", "primary").inc();
  m.breakerState.labels("openai", "primary").set(BREAKER_STATE_VALUE.half_open);
  m.upstreamRetries.labels("openai", "back\\up\nnode").inc();
  m.upstreamTtfb.labels("openai", "primary").observe(0.8);
  m.tokens.labels("openai", "primary", "gpt-4o", "input").inc(12);
  m.usageMissing.labels("openai", "primary").inc();
  m.timeToFirstToken.labels("openai", "primary", "gpt-4o").observe(0.3);
  m.timePerOutputToken.labels("openai", "primary", "gpt-4o").observe(0.02);
  m.clientRequests.labels("team-a").inc();
  m.clientTokens.labels("team-a", "input").inc(12);
  m.clientRejected.labels("team-a", "budget_exceeded").inc();
  m.stateStoreErrors.labels("ratelimit").inc();
  return m;
}

Deno.test("ProxyMetrics with one sample of each metric passes `promtool check metrics`", async () => {
  const text = recordOneOfEach().encode();
  const { code, output: stderr } = await promtoolCheckMetrics(text);
  assert.equal(stderr, "", `promtool complained:\n${stderr}\n--- input ---\n${text}`);
  assert.equal(code, 0);
});

Deno.test("a fresh ProxyMetrics (HELP and TYPE only) passes `promtool check metrics`", async () => {
  const { code, output: stderr } = await promtoolCheckMetrics(new ProxyMetrics().encode());
  assert.equal(stderr, "");
  assert.equal(code, 0);
});

Deno.test("the promtool check is not vacuous: a lint problem is reported", async () => {
  const { code, output: stderr } = await promtoolCheckMetrics(
    "# HELP bad_ms Bad.\n# TYPE bad_ms counter\nbad_ms 1\n",
  );
  assert.notEqual(code, 0);
  assert.match(stderr, /_total/);
});

Deno.test("every metric appears with its type and label names in order", () => {
  const text = recordOneOfEach().encode();
  const lines = text.split("\n");
  const labelNamesOf = (line: string) =>
    [...(line.match(/\{(.*)\}/)?.[1] ?? "").matchAll(/([a-z_]+)="(?:[^"\\]|\\.)*"/g)]
      .map((m) => m[1]);
  for (const [name, type, labels] of EXPECTED) {
    assert.ok(lines.includes(`# TYPE ${name} ${type}`), `missing TYPE of ${name}`);
    assert.ok(lines.some((l) => l.startsWith(`# HELP ${name} `)), `missing HELP of ${name}`);
    const series = type === "histogram"
      ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
      : [name];
    for (const s of series) {
      const sample = lines.filter((l) => l.startsWith(`${s}{`));
      assert.ok(sample.length > 0, `no sample of ${s}`);
      const want = s.endsWith("_bucket") ? [...labels, "le"] : [...labels];
      for (const l of sample) assert.deepEqual(labelNamesOf(l), want, l);
    }
  }
  const families = lines.filter((l) => l.startsWith("# TYPE ")).length;
  assert.equal(families, EXPECTED.length, "unexpected extra metric families");
  // Each histogram has 15 finite buckets plus +Inf.
  assert.equal(
    lines.filter((l) => l.startsWith("llmproxy_upstream_ttfb_seconds_bucket{")).length,
    DURATION_BUCKETS.length + 1,
  );
  assert.match(text, /^llmproxy_circuitbreaker_state\{group="openai",upstream="primary"\} 2$/m);
  assert.match(
    text,
    /^llmproxy_upstream_retries_total\{group="openai",upstream="back\\\\up\\nnode"\} 1$/m,
  );
});

Deno.test("ProxyMetrics fields expose the registered names", () => {
  const m = new ProxyMetrics();
  const byField = [
    m.httpRequests,
    m.httpRequestDuration,
    m.httpRequestErrors,
    m.rateLimited,
    m.upstreamRequests,
    m.upstreamDuration,
    m.upstreamErrors,
    m.breakerStateChanges,
    m.breakerCalls,
    m.upstreamInFlight,
    m.breakerState,
    m.upstreamRetries,
    m.upstreamTtfb,
    m.tokens,
    m.usageMissing,
    m.timeToFirstToken,
    m.timePerOutputToken,
    m.clientRequests,
    m.clientTokens,
    m.clientRejected,
    m.stateStoreErrors,
  ].map((f) => [f.name, f.type, [...f.labelNames]]);
  assert.deepEqual(byField, EXPECTED.map(([n, t, l]) => [n, t, [...l]]));
  assert.deepEqual(m.httpRequestDuration.buckets, DURATION_BUCKETS);
  assert.deepEqual(m.upstreamDuration.buckets, DURATION_BUCKETS);
  assert.deepEqual(m.upstreamTtfb.buckets, DURATION_BUCKETS);
  assert.deepEqual(m.timeToFirstToken.buckets, DURATION_BUCKETS);
  assert.deepEqual([...m.timePerOutputToken.buckets.map(String), "+Inf"], TOKEN_BUCKET_LES);
});

Deno.test("methodLabel keeps the standard methods and folds the rest into OTHER", () => {
  for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
    assert.equal(methodLabel(method), method);
  }
  for (const method of ["PROPFIND", "TRACE", "CONNECT", "get", "", "X".repeat(1000)]) {
    assert.equal(methodLabel(method), "OTHER");
  }
});

Deno.test("forgetUpstream drops the gauges of a member, not its counters", () => {
  const m = new ProxyMetrics();
  m.upstreamInFlight.labels("g", "u").inc();
  m.breakerState.labels("g", "u").set(BREAKER_STATE_VALUE.open);
  m.upstreamRequests.labels("g", "u").inc();
  m.forgetUpstream("g", "u");
  const text = m.encode();
  assert.doesNotMatch(text, /^llmproxy_upstream_in_flight\{/m);
  assert.doesNotMatch(text, /^llmproxy_circuitbreaker_state\{/m);
  assert.match(text, /^llmproxy_upstream_requests_total\{group="g",upstream="u"\} 1$/m);
});

Deno.test("CONTENT_TYPE names the 0.0.4 text format", () => {
  assert.equal(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  assert.deepEqual(BREAKER_STATE_VALUE, { closed: 0, open: 1, half_open: 2 });
});

Deno.test("cached member series: the same children; a forgotten member's gauge starts afresh", () => {
  const m = new ProxyMetrics();
  const a = m.memberSeries("g", "u");
  assert.equal(m.memberSeries("g", "u"), a);
  a.requests.inc();
  a.inFlight.inc();
  assert.match(m.encode(), /^llmproxy_upstream_requests_total\{group="g",upstream="u"\} 1$/m);
  // Series not used yet are not exported (no retries line at 0).
  assert.doesNotMatch(m.encode(), /^llmproxy_upstream_retries_total\{/m);
  m.forgetUpstream("g", "u");
  const b = m.memberSeries("g", "u");
  assert.notEqual(b, a);
  b.inFlight.inc();
  assert.match(m.encode(), /^llmproxy_upstream_in_flight\{group="g",upstream="u"\} 1$/m);
  const r = m.routeSeries("f", "POST", "/v1/*");
  assert.equal(m.routeSeries("f", "POST", "/v1/*"), r);
  r.requests.inc();
  assert.match(
    m.encode(),
    /^llmproxy_http_requests_total\{forward="f",method="POST",path="\/v1\/\*"\} 1$/m,
  );
});
