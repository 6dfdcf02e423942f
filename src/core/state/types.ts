import type {
  ClientLimitsConfig,
  GroupConfig,
  RateLimitConfig,
  UpstreamConfig,
} from "../config/types.ts";

import type { BreakerState } from "../breaker/types.ts";
import type { RateDecision } from "../ratelimit/types.ts";

export type { BreakerState, RateDecision };

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
  /**
   * Members already tried by this request: others are preferred
   * (docs/behaviour.md#retries-and-failover).
   */
  readonly exclude?: ReadonlySet<string>;
  /**
   * The request's affinity key for the `hash` strategy (docs/behaviour.md#hash), as extracted per
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
   * Chooses an available member (docs/behaviour.md#availability,
   * docs/behaviour.md#strategies), preferring members not in
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

/**
 * Why a client's request was refused by its limits (the codes of docs/behaviour.md#error-answers).
 */
export type ClientRefusal = "rate_limited" | "tokens_rate_limited" | "budget_exceeded";

/**
 * Tokens set aside for one admitted request until its answer ends; hand it back with
 * {@linkcode ClientLimiter.settle} exactly once.
 */
export interface ClientReservation {
  readonly client: string;
  /** Unique per store: what `settle` finds the reservation by. */
  readonly id: string;
  /** The estimate reserved (`ceil(body bytes / 4)`). */
  readonly tokens: number;
}

/** The outcome of asking a client's limits to admit one request. */
export type ClientAdmission =
  | { readonly allowed: true; readonly reservation: ClientReservation }
  | {
    readonly allowed: false;
    readonly reason: ClientRefusal;
    /** Milliseconds until enough is free again (for a budget: the next UTC midnight). */
    readonly retryAfterMs: number;
  };

/** What a client has used, for the admin API. */
export interface ClientUsage {
  readonly requests_last_minute: number;
  /** Tokens used in the sliding last 60 s, reservations of running requests included. */
  readonly tokens_last_minute: number;
  /** Tokens used since the last UTC midnight, reservations included. */
  readonly tokens_today: number;
}

/**
 * Client limits (docs/behaviour.md#client-behaviour): a request bucket of `requests_per_minute`
 * refilled at N/60 per second, a sliding 60 s window of tokens and a UTC-day budget. Admission is
 * one decision: every limit is checked against used + reserved + the estimate, and
 * only when all pass is the request counted and the estimate reserved.
 */
export interface ClientLimiter {
  admit(client: string, limits: ClientLimitsConfig, estimate: number): Promise<ClientAdmission>;
  /**
   * Replaces the reservation by the tokens the answer reported (undefined: none were
   * reported, the estimate stands). Idempotent.
   */
  settle(reservation: ClientReservation, usedTokens: number | undefined): Promise<void>;
  /** Current figures of a client. */
  usage(client: string): Promise<ClientUsage>;
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
  /**
   * Client limits (docs/behaviour.md#client-keys-and-limits), kept where the rest of the state is.
   */
  readonly clients: ClientLimiter;
}
