/**
 * The proxy's own error codes (docs/behaviour.md#error-answers); also the `error` label of request
 * metrics.
 */
export type ProxyErrorCode =
  | "rate_limited"
  | "body_too_large"
  | "request_timeout"
  | "no_available_upstream"
  | "upstream_unreachable"
  | "upstream_timeout"
  | "not_found"
  | "invalid_request"
  | "method_not_allowed"
  | "invalid_api_key"
  | "permission_denied"
  | "tokens_rate_limited"
  | "budget_exceeded"
  | "internal"
  // Workers only: the configuration binding and the Durable Objects (docs/workers.md).
  | "config_missing"
  | "config_invalid"
  | "state_unavailable";

const STATUS: Record<ProxyErrorCode, number> = {
  rate_limited: 429,
  body_too_large: 413,
  request_timeout: 408,
  no_available_upstream: 503,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  not_found: 404,
  invalid_request: 400,
  method_not_allowed: 405,
  invalid_api_key: 401,
  permission_denied: 403,
  tokens_rate_limited: 429,
  budget_exceeded: 429,
  internal: 500,
  config_missing: 500,
  config_invalid: 500,
  state_unavailable: 503,
};

/**
 * An error answer in the OpenAI error shape, so SDKs surface the message as they do
 * for the provider's own errors.
 */
export function errorResponse(
  code: ProxyErrorCode,
  message: string,
  retryAfterMs?: number,
  extra?: Readonly<Record<string, string>>,
): Response {
  const headers = new Headers({
    "content-type": "application/json",
    "x-llmproxy-error": code,
    ...extra,
  });
  if (retryAfterMs !== undefined) {
    headers.set("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  }
  const body = JSON.stringify({ error: { message, type: "llmproxy_error", code } });
  return new Response(body, { status: STATUS[code], headers });
}

/** HTTP status of a proxy error code. */
export function statusOf(code: ProxyErrorCode): number {
  return STATUS[code];
}

/** The last-resort answer of an adapter when the handler itself failed. */
export function internalErrorResponse(): Response {
  return errorResponse("internal", "internal error");
}

/** One line on stderr for an error nothing else can report (the adapters' last resort). */
export function logUnhandled(msg: string, error: unknown): void {
  console.error(JSON.stringify({
    ts: new Date().toISOString(),
    level: "error",
    msg,
    error: error instanceof Error ? error.message : String(error),
  }));
}
