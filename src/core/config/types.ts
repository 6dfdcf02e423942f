/**
 * The validated, fully defaulted configuration snapshot.
 *
 * Keys keep the YAML spelling (snake_case) so that what the admin API returns is
 * exactly what a config file or a PUT accepts. Durations are seconds unless the key
 * says otherwise (`retry.initial` is milliseconds, as in the Rust release).
 * Optional blocks (`ratelimit`, `breaker`, `retry`, `proxy`) are absent when off.
 */

/** A balancing strategy name (docs/behaviour.md#strategies). */
export type Strategy =
  | "roundrobin"
  | "weighted_roundrobin"
  | "random"
  | "response_aware"
  | "failover"
  | "least_requests"
  | "hash";

/** One routing rule of a forward. */
export interface RouteRuleConfig {
  readonly path: string;
  readonly target_group: string;
}

/** One model routing rule of a forward (docs/behaviour.md#model-routing). */
export interface ModelRouteConfig {
  /** A glob: `*` is any run of characters; otherwise exact and case-sensitive. */
  readonly model: string;
  readonly target_group: string;
}

/** Token bucket parameters of a forward. */
export interface RateLimitConfig {
  readonly per_second: number;
  readonly burst: number;
}

/** Whether a forward asks for client keys (docs/behaviour.md#client-keys-and-limits). */
export type ClientAuthMode = "off" | "optional" | "required";

/** Request and token limits of a client; each absent limit is off. */
export interface ClientLimitsConfig {
  readonly requests_per_minute?: number;
  readonly tokens_per_minute?: number;
  readonly tokens_per_day?: number;
}

/** A caller known by its key (docs/behaviour.md#client-configuration). */
export interface ClientConfig {
  readonly name: string;
  /** The secret the client sends; absent when only its digest is configured. */
  readonly key?: string;
  /** Lower-case hex SHA-256 of the key; always present in a snapshot. */
  readonly key_sha256: string;
  /** Groups it may reach; absent means all. */
  readonly groups?: readonly string[];
  /** Model globs it may request; absent means all. */
  readonly models?: readonly string[];
  readonly limits: ClientLimitsConfig;
}

/** One inbound listener. */
export interface ForwardConfig {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  readonly default_group: string;
  readonly routing: readonly RouteRuleConfig[];
  /** Tried before `routing`, in order; the first glob matching the request's model wins. */
  readonly model_routing: readonly ModelRouteConfig[];
  readonly ratelimit?: RateLimitConfig;
  readonly timeout: { readonly connect: number };
  /** Bytes. */
  readonly max_body_size: number;
  /** CIDRs whose X-Forwarded-For is trusted for the client IP. */
  readonly trusted_proxies: readonly string[];
  /** Host names this forward answers on Workers (no ports there). */
  readonly hosts: readonly string[];
  /**
   * Client keys: `off` (default), `optional` or `required`
   * (docs/behaviour.md#client-keys-and-limits).
   */
  readonly client_auth: ClientAuthMode;
}

/** The management listener. */
export interface AdminConfig {
  readonly port: number;
  readonly address: string;
  readonly timeout: { readonly connect: number };
}

/** How the proxy authenticates to an upstream. */
export type AuthConfig =
  | { readonly type: "none" }
  | { readonly type: "bearer"; readonly token: string }
  | { readonly type: "basic"; readonly username: string; readonly password: string };

/** A request header operation applied before forwarding. */
export interface HeaderOpConfig {
  readonly op: "insert" | "replace" | "remove";
  readonly key: string;
  readonly value?: string;
}

/** Circuit breaker parameters of an upstream. */
export interface BreakerConfig {
  /** Failure ratio 0.01–1.0 that opens the breaker. */
  readonly threshold: number;
  /** Seconds the breaker stays open before half-open. */
  readonly cooldown: number;
}

/** One backend endpoint. */
export interface UpstreamConfig {
  readonly name: string;
  readonly url: string;
  readonly auth: AuthConfig;
  readonly headers: readonly HeaderOpConfig[];
  readonly breaker?: BreakerConfig;
  readonly weight: number;
  /**
   * Client model (glob) → the model name this upstream serves, tried in key order
   * (docs/behaviour.md#model_map); absent when empty.
   */
  readonly model_map?: Readonly<Record<string, string>>;
}

/** A member of a group. */
export interface GroupMemberConfig {
  readonly name: string;
  readonly weight: number;
}

/** Retry policy of a group. */
export interface RetryConfig {
  /** Retries after the first try (at most 1 + attempts tries). */
  readonly attempts: number;
  /** Milliseconds before the first retry. */
  readonly initial: number;
}

/** Outbound HTTP client settings of a group. */
export interface HttpClientConfig {
  readonly agent: string;
  readonly keepalive: number;
  readonly stream: boolean;
  readonly timeout: {
    readonly connect: number;
    readonly request: number;
    readonly idle: number;
  };
  readonly retry?: RetryConfig;
  readonly proxy?: { readonly url: string };
  /** Ask for usage in streamed chat completions (`stream_options.include_usage`). */
  readonly stream_usage: boolean;
}

/** A set of upstreams with a balancing strategy. */
export interface GroupConfig {
  readonly name: string;
  readonly upstreams: readonly GroupMemberConfig[];
  readonly balance: {
    readonly strategy: Strategy;
    /** With `hash`: `header:<name>`, `client_ip` or `body:<field>` (normalised spelling). */
    readonly hash_key?: string;
  };
  readonly http_client: HttpClientConfig;
}

/** Where shared state lives (docs/behaviour.md#shared-state). */
export type StateStoreKind = "memory" | "redis";

/** The Redis a fleet of daemons shares (docs/behaviour.md#shared-state). */
export interface RedisStateConfig {
  /** `redis://` or `rediss://`; may carry `user:password@` (a secret). */
  readonly url: string;
  /** Put before every key (default `llmproxy:`). */
  readonly prefix: string;
  /** Milliseconds one store call may take before the instance decides locally. */
  readonly timeout: number;
}

/** The `state` block: `memory` (default) or `redis` (Deno and Node daemons). */
export interface StateConfig {
  readonly store: StateStoreKind;
  /** Present when the file gives it; always present with `store: redis`. */
  readonly redis?: RedisStateConfig;
}

/** The whole configuration. */
export interface Config {
  readonly http_server: {
    readonly forwards: readonly ForwardConfig[];
    readonly admin: AdminConfig;
  };
  readonly upstreams: readonly UpstreamConfig[];
  readonly upstream_groups: readonly GroupConfig[];
  /** Callers known by key (docs/behaviour.md#client-keys-and-limits); empty when none. */
  readonly clients: readonly ClientConfig[];
  /**
   * Where shared state lives (docs/behaviour.md#shared-state); `{ store: "memory" }` by default.
   */
  readonly state: StateConfig;
}
