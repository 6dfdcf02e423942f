/**
 * The metrics llmproxy exports (docs/behaviour.md#metrics plus a few an operator needs), built once
 * and handed to the pipeline, the state store and the admin `/metrics` endpoint.
 *
 * @module
 */

import type { BreakerState } from "../breaker/types.ts";
import { Counter, type CounterChild } from "./counter.ts";
import { Gauge, type GaugeChild } from "./gauge.ts";
import { Histogram, type HistogramChild } from "./histogram.ts";
import { Registry } from "./registry.ts";

/**
 * Duration buckets in seconds (docs/behaviour.md#metrics): from fast local models to five-minute
 * streams.
 */
/**
 * Buckets of `llmproxy_time_per_output_token_seconds`: 1 ms to 2.5 s (docs/behaviour.md#metrics).
 */
export const TOKEN_BUCKETS: readonly number[] = Object.freeze([
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
]);

export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  20,
  30,
  60,
  120,
  300,
]);

/** `error` label values of `llmproxy_upstream_errors_total` (docs/behaviour.md#label-values). */
export type UpstreamErrorLabel = "unreachable" | "timeout" | "status_5xx" | "circuit_open";

/**
 * `result` label values of `llmproxy_circuitbreaker_calls_total` (docs/behaviour.md#label-values).
 */
export type BreakerCallResult = "success" | "failure" | "rejected";

/** Value of `llmproxy_circuitbreaker_state` per breaker state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = Object.freeze({
  closed: 0,
  open: 1,
  half_open: 2,
});

// The methods whose label is kept verbatim; anything else (WebDAV verbs, typos, junk
// from scanners) collapses into OTHER so a client cannot mint new series at will.
const STANDARD_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "HEAD",
  "OPTIONS",
]);

/**
 * The `method` label for an HTTP method: the method itself for GET, POST, PUT, DELETE,
 * PATCH, HEAD and OPTIONS, `OTHER` for anything else. Matching is exact (methods are
 * case-sensitive; `fetch` upper-cases the standard ones except PATCH), so no string is
 * built per request.
 *
 * @example
 * ```ts
 * import { methodLabel } from "./proxy_metrics.ts";
 * methodLabel("POST"); // "POST"
 * methodLabel("PROPFIND"); // "OTHER"
 * ```
 */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : "OTHER";
}

const FORWARD_METHOD_PATH = ["forward", "method", "path"] as const;
const GROUP_UPSTREAM = ["group", "upstream"] as const;

/**
 * Every llmproxy metric as a typed field, registered in one {@linkcode Registry}.
 * Resolve children once per label set where the values are known up front
 * (`metrics.upstreamRequests.labels(group, upstream)` per member of a snapshot) and
 * keep them; `inc`/`observe` on a child allocate nothing.
 *
 * Label value conventions: `path` is the matched route pattern or `default`, never the
 * raw path; `upstream` is the upstream's name; `method` comes from
 * {@linkcode methodLabel}; `status` is the decimal HTTP status sent.
 *
 * @example
 * ```ts
 * import { methodLabel, ProxyMetrics } from "./proxy_metrics.ts";
 * const metrics = new ProxyMetrics();
 * metrics.httpRequests.labels("public", methodLabel("POST"), "/v1/*").inc();
 * metrics.upstreamDuration.labels("openai", "primary").observe(1.2);
 * const body = metrics.encode(); // serve with CONTENT_TYPE
 * ```
 */
/**
 * The token series of one member and model label (see
 * {@linkcode ProxyMetrics.usageSeries}). Each series is created on first use, so a type
 * never counted is not exported at 0.
 */
export class UsageSeries {
  readonly #m: ProxyMetrics;
  readonly #labels: readonly [string, string, string];
  readonly #tokens: (CounterChild | undefined)[] = [undefined, undefined, undefined, undefined];
  #ttft: HistogramChild | undefined;
  #tpot: HistogramChild | undefined;

  constructor(m: ProxyMetrics, group: string, upstream: string, model: string) {
    this.#m = m;
    this.#labels = [group, upstream, model];
  }

  /** Adds `n` tokens of one type (0 input, 1 output, 2 cached_input, 3 reasoning). */
  count(type: 0 | 1 | 2 | 3, n: number): void {
    let child = this.#tokens[type];
    if (child === undefined) {
      const [g, u, model] = this.#labels;
      child = this.#m.tokens.labels(g, u, model, TOKEN_TYPES[type]);
      this.#tokens[type] = child;
    }
    child.inc(n);
  }

  /** `llmproxy_time_to_first_token_seconds`. */
  get timeToFirstToken(): HistogramChild {
    return this.#ttft ??= this.#m.timeToFirstToken.labels(...this.#labels);
  }

  /** `llmproxy_time_per_output_token_seconds`. */
  get timePerOutputToken(): HistogramChild {
    return this.#tpot ??= this.#m.timePerOutputToken.labels(...this.#labels);
  }
}

const TOKEN_TYPES = ["input", "output", "cached_input", "reasoning"] as const;

/** `map`'s value for `key`, made by `make` and kept on first use. */
function kept<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * The per-attempt series of one group member (see {@linkcode ProxyMetrics.memberSeries}),
 * each resolved on first use and kept.
 */
export class MemberSeries {
  readonly #m: ProxyMetrics;
  readonly #labels: readonly [string, string];
  #requests: CounterChild | undefined;
  #retries: CounterChild | undefined;
  #ttfb: HistogramChild | undefined;
  #duration: HistogramChild | undefined;
  #inFlight: GaugeChild | undefined;

  constructor(m: ProxyMetrics, group: string, upstream: string) {
    this.#m = m;
    this.#labels = [group, upstream];
  }

  /** `llmproxy_upstream_requests_total`. */
  get requests(): CounterChild {
    return this.#requests ??= this.#m.upstreamRequests.labels(...this.#labels);
  }
  /** `llmproxy_upstream_retries_total`. */
  get retries(): CounterChild {
    return this.#retries ??= this.#m.upstreamRetries.labels(...this.#labels);
  }
  /** `llmproxy_upstream_ttfb_seconds`. */
  get ttfb(): HistogramChild {
    return this.#ttfb ??= this.#m.upstreamTtfb.labels(...this.#labels);
  }
  /** `llmproxy_upstream_duration_seconds`. */
  get duration(): HistogramChild {
    return this.#duration ??= this.#m.upstreamDuration.labels(...this.#labels);
  }
  /** `llmproxy_upstream_in_flight`. */
  get inFlight(): GaugeChild {
    return this.#inFlight ??= this.#m.upstreamInFlight.labels(...this.#labels);
  }
}

/** The series of one forward, method and route (see {@linkcode ProxyMetrics.routeSeries}). */
export interface RouteSeries {
  readonly requests: CounterChild;
  readonly duration: HistogramChild;
}

export class ProxyMetrics {
  /** The registry holding the metrics below; adapters may register more in it. */
  readonly registry: Registry;

  /** `llmproxy_http_requests_total{forward, method, path}`. */
  readonly httpRequests: Counter<typeof FORWARD_METHOD_PATH>;
  /** `llmproxy_http_request_duration_seconds{forward, method, path}`. */
  readonly httpRequestDuration: Histogram<typeof FORWARD_METHOD_PATH>;
  /** `llmproxy_http_request_errors_total{forward, error, status}`. */
  readonly httpRequestErrors: Counter<readonly ["forward", "error", "status"]>;
  /** `llmproxy_ratelimit_total{forward}`. */
  readonly rateLimited: Counter<readonly ["forward"]>;
  /** `llmproxy_upstream_requests_total{group, upstream}`. */
  readonly upstreamRequests: Counter<typeof GROUP_UPSTREAM>;
  /** `llmproxy_upstream_duration_seconds{group, upstream}`. */
  readonly upstreamDuration: Histogram<typeof GROUP_UPSTREAM>;
  /** `llmproxy_upstream_errors_total{error, group, upstream}`; error is an {@linkcode UpstreamErrorLabel}. */
  readonly upstreamErrors: Counter<readonly ["error", "group", "upstream"]>;
  /** `llmproxy_circuitbreaker_state_changes_total{group, upstream, url, from, to}`. */
  readonly breakerStateChanges: Counter<
    readonly ["group", "upstream", "url", "from", "to"]
  >;
  /** `llmproxy_circuitbreaker_calls_total{group, upstream, url, result}`; result is a {@linkcode BreakerCallResult}. */
  readonly breakerCalls: Counter<readonly ["group", "upstream", "url", "result"]>;
  /** `llmproxy_upstream_in_flight{group, upstream}`. */
  readonly upstreamInFlight: Gauge<typeof GROUP_UPSTREAM>;
  /** `llmproxy_circuitbreaker_state{group, upstream}`; values from {@linkcode BREAKER_STATE_VALUE}. */
  readonly breakerState: Gauge<typeof GROUP_UPSTREAM>;
  /** `llmproxy_upstream_retries_total{group, upstream}`. */
  readonly upstreamRetries: Counter<typeof GROUP_UPSTREAM>;
  /** `llmproxy_upstream_ttfb_seconds{group, upstream}`. */
  readonly upstreamTtfb: Histogram<typeof GROUP_UPSTREAM>;

  /** `llmproxy_tokens_total{group, upstream, model, type}` (docs/behaviour.md#token-usage). */
  readonly tokens: Counter<readonly ["group", "upstream", "model", "type"]>;
  /** `llmproxy_usage_missing_total{group, upstream}`. */
  readonly usageMissing: Counter<typeof GROUP_UPSTREAM>;
  /** `llmproxy_time_to_first_token_seconds{group, upstream, model}`. */
  readonly timeToFirstToken: Histogram<readonly ["group", "upstream", "model"]>;
  /** `llmproxy_time_per_output_token_seconds{group, upstream, model}`. */
  readonly timePerOutputToken: Histogram<readonly ["group", "upstream", "model"]>;

  /** `llmproxy_client_requests_total{client}` (docs/behaviour.md#client-admin-api-and-metrics). */
  readonly clientRequests: Counter<readonly ["client"]>;
  /** `llmproxy_client_tokens_total{client, type}`; type is input or output. */
  readonly clientTokens: Counter<readonly ["client", "type"]>;
  /** `llmproxy_client_rejected_total{client, reason}`; reason is the error code. */
  readonly clientRejected: Counter<readonly ["client", "reason"]>;

  /**
   * `llmproxy_state_store_errors_total{op}` (docs/behaviour.md#shared-state): decisions made
   * locally.
   */
  readonly stateStoreErrors: Counter<readonly ["op"]>;

  /** Registers every metric in `registry` (a new one by default). */
  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const r = registry;
    this.httpRequests = r.register(
      new Counter({
        name: "llmproxy_http_requests_total",
        help: "Client requests received, by forward, HTTP method and matched route pattern.",
        labelNames: FORWARD_METHOD_PATH,
      }),
    );
    this.httpRequestDuration = r.register(
      new Histogram({
        name: "llmproxy_http_request_duration_seconds",
        help: "Client request duration in seconds, from arrival until the response " +
          "(streamed body included) ended.",
        labelNames: FORWARD_METHOD_PATH,
        buckets: DURATION_BUCKETS,
      }),
    );
    this.httpRequestErrors = r.register(
      new Counter({
        name: "llmproxy_http_request_errors_total",
        help: "Error responses sent to clients; error is the proxy's error code, or " +
          "upstream_status for a passed-through upstream 4xx/5xx; status is the HTTP status sent.",
        labelNames: ["forward", "error", "status"] as const,
      }),
    );
    this.rateLimited = r.register(
      new Counter({
        name: "llmproxy_ratelimit_total",
        help: "Requests refused with 429 by the forward's per-client rate limit.",
        labelNames: ["forward"] as const,
      }),
    );
    this.upstreamRequests = r.register(
      new Counter({
        name: "llmproxy_upstream_requests_total",
        help: "Attempts sent to an upstream, retries and failover included.",
        labelNames: GROUP_UPSTREAM,
      }),
    );
    this.upstreamDuration = r.register(
      new Histogram({
        name: "llmproxy_upstream_duration_seconds",
        help: "Upstream attempt duration in seconds, from sending the request until the " +
          "response (streamed body included) ended or the attempt failed.",
        labelNames: GROUP_UPSTREAM,
        buckets: DURATION_BUCKETS,
      }),
    );
    this.upstreamErrors = r.register(
      new Counter({
        name: "llmproxy_upstream_errors_total",
        help: "Failed upstream attempts by cause: unreachable, timeout, status_5xx or " +
          "circuit_open.",
        labelNames: ["error", "group", "upstream"] as const,
      }),
    );
    this.breakerStateChanges = r.register(
      new Counter({
        name: "llmproxy_circuitbreaker_state_changes_total",
        help: "Circuit breaker transitions; from and to are closed, open or half_open.",
        labelNames: ["group", "upstream", "url", "from", "to"] as const,
      }),
    );
    this.breakerCalls = r.register(
      new Counter({
        name: "llmproxy_circuitbreaker_calls_total",
        help: "Calls seen by a circuit breaker: success or failure outcomes, or rejected " +
          "while the breaker would not admit them.",
        labelNames: ["group", "upstream", "url", "result"] as const,
      }),
    );
    this.upstreamInFlight = r.register(
      new Gauge({
        name: "llmproxy_upstream_in_flight",
        help: "Requests currently open to an upstream (until the response body ended).",
        labelNames: GROUP_UPSTREAM,
      }),
    );
    this.breakerState = r.register(
      new Gauge({
        name: "llmproxy_circuitbreaker_state",
        help: "Current circuit breaker state: 0 closed, 1 open, 2 half-open.",
        labelNames: GROUP_UPSTREAM,
      }),
    );
    this.upstreamRetries = r.register(
      new Counter({
        name: "llmproxy_upstream_retries_total",
        help: "Retries sent to an upstream (attempts after the first try of a request).",
        labelNames: GROUP_UPSTREAM,
      }),
    );
    this.upstreamTtfb = r.register(
      new Histogram({
        name: "llmproxy_upstream_ttfb_seconds",
        help: "Time in seconds from sending a request to an upstream until its response " +
          "headers arrived.",
        labelNames: GROUP_UPSTREAM,
        buckets: DURATION_BUCKETS,
      }),
    );
    this.tokens = r.register(
      new Counter({
        name: "llmproxy_tokens_total",
        help: "Tokens reported by upstream answers; type is input, output, cached_input or " +
          "reasoning; model is the answer's model (at most 200 values, then other).",
        labelNames: ["group", "upstream", "model", "type"] as const,
      }),
    );
    this.usageMissing = r.register(
      new Counter({
        name: "llmproxy_usage_missing_total",
        help: "Successful answers to JSON POST requests, read to their end, that reported no " +
          "token usage.",
        labelNames: GROUP_UPSTREAM,
      }),
    );
    this.timeToFirstToken = r.register(
      new Histogram({
        name: "llmproxy_time_to_first_token_seconds",
        help: "Time in seconds from receiving a request to forwarding the first SSE event " +
          "of its answer.",
        labelNames: ["group", "upstream", "model"] as const,
        buckets: DURATION_BUCKETS,
      }),
    );
    this.timePerOutputToken = r.register(
      new Histogram({
        name: "llmproxy_time_per_output_token_seconds",
        help: "Time in seconds per output token after the first, for streamed answers " +
          "reporting at least 2 output tokens.",
        labelNames: ["group", "upstream", "model"] as const,
        buckets: TOKEN_BUCKETS,
      }),
    );
    this.clientRequests = r.register(
      new Counter({
        name: "llmproxy_client_requests_total",
        help: "Requests admitted for a client (its name, or anonymous).",
        labelNames: ["client"] as const,
      }),
    );
    this.clientTokens = r.register(
      new Counter({
        name: "llmproxy_client_tokens_total",
        help: "Tokens reported by the answers to a client's requests; type is input or output.",
        labelNames: ["client", "type"] as const,
      }),
    );
    this.clientRejected = r.register(
      new Counter({
        name: "llmproxy_client_rejected_total",
        help: "Requests refused for a client; reason is the error code (client is unknown " +
          "for keys that match no client).",
        labelNames: ["client", "reason"] as const,
      }),
    );
    this.stateStoreErrors = r.register(
      new Counter({
        name: "llmproxy_state_store_errors_total",
        help: "Shared state store calls that failed, timed out or were skipped while the " +
          "store was unreachable, so the instance decided from its own memory; op is the call " +
          "(ratelimit, client_admit, client_settle, client_usage, breaker, config).",
        labelNames: ["op"] as const,
      }),
    );
  }

  /**
   * The token series of one member and model label, resolved once and kept: an answer's
   * usage then costs one lookup instead of one per series. The number of entries is
   * bounded by the members times the model label bound.
   */
  usageSeries(group: string, upstream: string, model: string): UsageSeries {
    return kept(
      this.#usageSeries,
      `${group}\u0000${upstream}\u0000${model}`,
      () => new UsageSeries(this, group, upstream, model),
    );
  }

  readonly #usageSeries = new Map<string, UsageSeries>();

  /** The per-attempt series of a group member, resolved once and kept. */
  memberSeries(group: string, upstream: string): MemberSeries {
    return kept(
      this.#memberSeries,
      `${group}\u0000${upstream}`,
      () => new MemberSeries(this, group, upstream),
    );
  }

  readonly #memberSeries = new Map<string, MemberSeries>();

  /**
   * The request series of a forward, method label and route, resolved once and kept;
   * bounded by the routes of the configuration times the method labels.
   */
  routeSeries(forward: string, method: string, route: string): RouteSeries {
    return kept(this.#routeSeries, `${forward}\u0000${method}\u0000${route}`, () => ({
      requests: this.httpRequests.labels(forward, method, route),
      duration: this.httpRequestDuration.labels(forward, method, route),
    }));
  }

  readonly #routeSeries = new Map<string, RouteSeries>();

  /**
   * Drops the gauge series of a member that left its group (or a group that is gone),
   * so a stale in-flight count or breaker state is not exported forever. Counters and
   * histograms stay: Prometheus handles their series ending, and their totals remain
   * meaningful. Children that running requests still hold keep working, unexported.
   */
  forgetUpstream(group: string, upstream: string): void {
    // Its cached series hold the removed gauge child: a member added back starts afresh.
    this.#memberSeries.delete(`${group}\u0000${upstream}`);
    this.upstreamInFlight.remove(group, upstream);
    this.breakerState.remove(group, upstream);
  }

  /** The Prometheus text exposition (format 0.0.4) of every registered metric. */
  encode(): string {
    return this.registry.encode();
  }
}
