import type { GroupConfig, RateLimitConfig, UpstreamConfig } from "../config/types.ts";

/** Outcome of a rate-limit check. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Milliseconds until a token is available (0 when allowed). */
  readonly retryAfterMs: number;
}

/** Breaker states; the spelling is the one metrics and logs use. */
export type BreakerState = "closed" | "open" | "half_open";

/** What one attempt against an upstream came to, as the breaker and stats see it. */
export interface AttemptOutcome {
  /**
   * `success`: any answer that is not a failure (2xx–4xx, including 429);
   * `failure`: transport error, timeout or 5xx;
   * `cancelled`: the client left or the proxy gave up before an outcome was known
   * (frees a half-open probe slot without counting either way).
   */
  readonly kind: "success" | "failure" | "cancelled";
  /** Time to response headers, when there were headers. */
  readonly latencyMs?: number;
  /**
   * The upstream answered 429 or 503 with Retry-After: it is unavailable for this long
   * (the store caps it at 60 s).
   */
  readonly unavailableForMs?: number;
}

/** A member chosen for one attempt. Settle and release it exactly once each. */
export interface Selection {
  readonly id: number;
  readonly upstream: string;
  /** True when this attempt is the half-open breaker's single probe. */
  readonly probe: boolean;
}

/** Result of asking a group for a member. */
export type SelectResult =
  | { readonly ok: true; readonly selection: Selection }
  | {
    readonly ok: false;
    /** Milliseconds until the earliest member becomes available again (≥ 1000). */
    readonly retryAfterMs: number;
  };

/** Live per-member view for the admin API and gauges. */
export interface MemberStatus {
  readonly upstream: string;
  readonly breaker: BreakerState | "none";
  readonly inFlight: number;
  readonly latencyMs: number;
  readonly successRate: number;
}

/** How a member is to be selected (see {@linkcode GroupState.select}). */
export interface SelectOptions {
  /** Members already tried by this request: others are preferred (SPEC §5.5). */
  readonly exclude?: ReadonlySet<string>;
  /**
   * The request's affinity key for the `hash` strategy (SPEC §10.5), as extracted per
   * `balance.hash_key`; `undefined` or `""` when the request has none (then `hash`
   * balances as `least_requests`). Other strategies ignore it.
   */
  readonly key?: string;
}

/**
 * The shared state of one group: breakers, balancer position and stats of its members.
 * On Deno and Node it lives in memory; on Workers each call is one Durable Object
 * round trip, so the pipeline makes at most three calls per attempt.
 */
export interface GroupState {
  /**
   * Chooses an available member (SPEC §4.1–4.2, §10.5), preferring members not in
   * `exclude` (already tried by this request), and takes its in-flight slot and, when
   * half-open, the breaker's probe slot. A bare set is the `exclude` of the options
   * (the original signature, still accepted).
   */
  select(options?: ReadonlySet<string> | SelectOptions): Promise<SelectResult>;
  /** Records the attempt's outcome (breaker, latency, success rate). Idempotent. */
  settle(selection: Selection, outcome: AttemptOutcome): Promise<void>;
  /**
   * Gives back the in-flight slot (call when the response body has ended or was
   * abandoned). Settles as `cancelled` first if the selection was never settled.
   * Idempotent.
   */
  release(selection: Selection): Promise<void>;
  /** Current member states. */
  status(): Promise<readonly MemberStatus[]>;
}

/** Observer of state events, for metrics and logs. */
export interface StateEvents {
  breakerChange?(group: string, upstream: string, from: BreakerState, to: BreakerState): void;
  breakerCall?(group: string, upstream: string, result: "success" | "failure" | "rejected"): void;
}

/**
 * Where state that may be shared between isolates or processes lives.
 *
 * `group()` is called when a configuration snapshot is built; state of a member whose
 * upstream and breaker settings are unchanged carries over from the previous snapshot.
 */
export interface StateStore {
  /** Takes one token from the bucket `key`. */
  rateLimit(key: string, limit: RateLimitConfig): Promise<RateDecision>;
  /** The state handle for a group under the given configuration. */
  group(group: GroupConfig, upstreams: ReadonlyMap<string, UpstreamConfig>): GroupState;
  /** Drops state of groups that are no longer configured. */
  retain(groupNames: ReadonlySet<string>): void;
}
