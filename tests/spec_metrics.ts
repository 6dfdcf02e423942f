/**
 * The metrics contract as docs/behaviour.md#metrics writes it, restated once for the tests (never
 * taken from the implementation, so a change there cannot silently change what is checked).
 */

/** A metric family: name, type and label names in order. */
export type MetricSpec = readonly [string, string, readonly string[]];

/** The metrics of docs/behaviour.md#metrics. */
export const SPEC_METRICS: readonly MetricSpec[] = [
  ["llmproxy_http_requests_total", "counter", ["forward", "method", "path"]],
  ["llmproxy_http_request_duration_seconds", "histogram", ["forward", "method", "path"]],
  ["llmproxy_http_request_errors_total", "counter", ["forward", "error", "status"]],
  ["llmproxy_ratelimit_total", "counter", ["forward"]],
  ["llmproxy_upstream_requests_total", "counter", ["group", "upstream"]],
  ["llmproxy_upstream_duration_seconds", "histogram", ["group", "upstream"]],
  ["llmproxy_upstream_errors_total", "counter", ["error", "group", "upstream"]],
  [
    "llmproxy_circuitbreaker_state_changes_total",
    "counter",
    ["group", "upstream", "url", "from", "to"],
  ],
  ["llmproxy_circuitbreaker_calls_total", "counter", ["group", "upstream", "url", "result"]],
];

/** The metrics rows added with token usage accounting (docs/behaviour.md#token-usage). */
export const LLM_METRICS: readonly MetricSpec[] = [
  ["llmproxy_tokens_total", "counter", ["group", "upstream", "model", "type"]],
  ["llmproxy_usage_missing_total", "counter", ["group", "upstream"]],
  ["llmproxy_time_to_first_token_seconds", "histogram", ["group", "upstream", "model"]],
  ["llmproxy_time_per_output_token_seconds", "histogram", ["group", "upstream", "model"]],
];

/** The metrics rows of client keys and limits (docs/behaviour.md#client-admin-api-and-metrics). */
export const CLIENT_METRICS: readonly MetricSpec[] = [
  ["llmproxy_client_requests_total", "counter", ["client"]],
  ["llmproxy_client_tokens_total", "counter", ["client", "type"]],
  ["llmproxy_client_rejected_total", "counter", ["client", "reason"]],
];

/** The `le` values of `llmproxy_time_per_output_token_seconds`, `+Inf` included. */
export const TOKEN_BUCKET_LES: readonly string[] = [
  "0.001",
  "0.0025",
  "0.005",
  "0.01",
  "0.025",
  "0.05",
  "0.1",
  "0.25",
  "0.5",
  "1",
  "2.5",
  "+Inf",
];

/** The operator extras beyond docs/behaviour.md#metrics (issue 4). */
export const EXTRA_METRICS: readonly MetricSpec[] = [
  ["llmproxy_upstream_in_flight", "gauge", ["group", "upstream"]],
  ["llmproxy_circuitbreaker_state", "gauge", ["group", "upstream"]],
  ["llmproxy_upstream_retries_total", "counter", ["group", "upstream"]],
  ["llmproxy_upstream_ttfb_seconds", "histogram", ["group", "upstream"]],
];

/** The `le` values of every duration histogram, `+Inf` included, in order. */
export const SPEC_BUCKET_LES: readonly string[] = [
  "0.01",
  "0.025",
  "0.05",
  "0.1",
  "0.25",
  "0.5",
  "1",
  "2.5",
  "5",
  "10",
  "20",
  "30",
  "60",
  "120",
  "300",
  "+Inf",
];

/** The row of the shared state store (docs/behaviour.md#redis). */
export const STATE_METRICS: readonly MetricSpec[] = [
  ["llmproxy_state_store_errors_total", "counter", ["op"]],
];
