/**
 * The Redis-backed {@linkcode StateStore} of the Deno and Node daemons (docs/behaviour.md#redis):
 * every daemon pointed at the same Redis shares
 * per-IP token buckets and client limits, each decision one atomic round trip (a Lua
 * script by SHA, see `scripts.ts`).
 *
 * When Redis is unreachable or slower than `timeout`, the decision is made from local
 * memory (a {@linkcode MemoryStateStore}): traffic goes on, the call is counted in
 * `llmproxy_state_store_errors_total{op}`, a warning is logged at most every 10 s, and
 * a health check (PING, every second while Redis is away) brings Redis back within
 * about a second of its return. Settles that could not reach Redis are kept (bounded)
 * and sent once it is back, so a reservation does not hold tokens for its whole lease.
 *
 * What is shared, and what is not:
 * - shared: per-IP buckets (`rateLimit`), client limits (`clients`: request bucket,
 *   sliding 60 s token window, UTC-day budget, reservations and their lease, usage);
 *   breaker openings, the single half-open probe, closings and Retry-After pauses
 *   (`shared_breakers.ts`: a script per transition, PUBLISH plus a 500 ms refresh);
 *   admin changes (`publishConfig`, `loadConfig`, `onConfigVersion`; the daemon's
 *   rules are in src/daemon/state_store.ts `shareAdminChanges`).
 * - per instance, by design (docs/behaviour.md#shared-state): balancer positions, in-flight counts,
 *   latency and success figures, `/metrics`, and each breaker's failure window (what
 *   opens a breaker is this instance's own outcomes; the opening is the fleet's).
 *
 * Round trips on the common path (a closed breaker): none for the breaker, one script
 * for a rate limit or a client admission. A transition costs one fire-and-forget
 * script; a half-open probe one awaited script; the refresh one script and one HGET
 * per 500 ms for the whole instance.
 *
 * @module
 */

import { type Clock, systemClock } from "../core/clock.ts";
import type {
  ClientLimitsConfig,
  GroupConfig,
  RateLimitConfig,
  UpstreamConfig,
} from "../core/config/types.ts";
import { redactRedisSecrets, redisUrlForLogs } from "../core/config/redis_url.ts";
import { type Logger, silentLogger } from "../core/log/logger.ts";
import type { ProxyMetrics } from "../core/metrics/proxy_metrics.ts";
import { MemoryStateStore } from "../core/state/memory_store.ts";
import type {
  ClientAdmission,
  ClientLimiter,
  ClientReservation,
  ClientUsage,
  GroupState,
  RateDecision,
  StateEvents,
  StateStore,
} from "../core/state/types.ts";
import { RedisLink, type Reply } from "./link.ts";
import { SharedBreakers } from "./shared_breakers.ts";
import {
  CLIENT_ADMIT,
  CLIENT_SETTLE,
  CLIENT_USAGE,
  clientKeys,
  CONFIG_PUT,
  configKey,
  RATE_LIMIT,
  rateLimitKey,
  REFUSAL_REASONS,
  type Script,
  SCRIPTS,
} from "./scripts.ts";

/** The `op` label values of `llmproxy_state_store_errors_total`. */
export type StateOp =
  | "ratelimit"
  | "client_admit"
  | "client_settle"
  | "client_usage"
  | "breaker"
  | "config";

/** The live configuration stored by admin changes. */
export interface StoredConfig {
  readonly version: number;
  /** The life of the stored record the version counts in (see `CONFIG_PUT`). */
  readonly epoch: string;
  /** The configuration as a plain JSON draft, without its `state` block. */
  readonly json: string;
}

/** Settings of a {@linkcode RedisStateStore}. */
export interface RedisStateStoreOptions {
  /** `redis://` or `rediss://` (a secret: logs show it without credentials). */
  readonly url: string;
  /** Put before every key. */
  readonly prefix: string;
  /** Milliseconds one store call may take before the instance decides locally. */
  readonly timeoutMs: number;
  readonly logger?: Logger;
  /** Where `llmproxy_state_store_errors_total` is counted. */
  readonly metrics?: ProxyMetrics;
  /** Breaker events of the (still local) group state. */
  readonly events?: StateEvents;
  readonly random?: () => number;
  /**
   * Time source of the local memory; when given, its time is also what the scripts
   * use (tests). Without it the scripts use the Redis server's clock, so instances
   * with skewed clocks still agree.
   */
  readonly clock?: Clock;
  /** How often Redis is checked while it is away (default 1000 ms). */
  readonly healthIntervalMs?: number;
  /** Warnings about Redis being away come at most this often (default 10 s). */
  readonly warnIntervalMs?: number;
  /** A reservation not settled within this long is settled at its estimate (1 h). */
  readonly reservationLeaseMs?: number;
  /** Settles kept while Redis is away, at most (default 10,000; the oldest go first). */
  readonly maxPendingSettles?: number;
  /** How often shared breakers and the configuration version are read (default 500 ms). */
  readonly refreshIntervalMs?: number;
}

/** The stored configuration lives 30 days past its last change. */
const CONFIG_TTL_MS = 30 * 86_400_000;

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });

interface PendingSettle {
  readonly reservation: ClientReservation;
  readonly used: number | undefined;
}

/**
 * Shared state in Redis for a fleet of daemons; balancers and in-flight counts stay in
 * local memory, breaker decisions go through the fleet's records (see the module doc).
 *
 * @example
 * ```ts ignore
 * const store = new RedisStateStore({ url, prefix: "llmproxy:", timeoutMs: 250, logger, metrics });
 * await store.start(); // waits at most timeoutMs for the first connection
 * const gateway = new Gateway({ config, transports, logger, metrics, store });
 * // …
 * await store.close();
 * ```
 */
export class RedisStateStore implements StateStore {
  /** Local memory: group state always, and every decision while Redis is away. */
  readonly local: MemoryStateStore;
  readonly clients: ClientLimiter;
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #metrics: ProxyMetrics | undefined;
  readonly #clock: Clock | undefined;
  readonly #url: string;
  readonly #healthMs: number;
  readonly #warnMs: number;
  readonly #leaseMs: number;
  readonly #maxPending: number;
  readonly #idPrefix = `r${crypto.randomUUID().slice(0, 8)}.`;
  #seq = 0;
  /** Redis answered the last call (or health check) in time. */
  #up = false;
  #everUp = false;
  #closed = false;
  #health: ReturnType<typeof setTimeout> | undefined;
  #checking = false;
  #lastWarnAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;
  #pending: PendingSettle[] = [];
  #connected: Promise<void> | undefined;
  readonly #shared: SharedBreakers;
  readonly #refreshMs: number;
  #refresh: ReturnType<typeof setInterval> | undefined;
  #refreshing = false;
  #onConfigVersion: ((version: number, epoch: string) => void) | undefined;

  constructor(options: RedisStateStoreOptions) {
    this.#url = options.url;
    this.#prefix = options.prefix;
    this.#timeoutMs = options.timeoutMs;
    this.#logger = options.logger ?? silentLogger;
    this.#metrics = options.metrics;
    this.#clock = options.clock;
    this.#healthMs = options.healthIntervalMs ?? 1_000;
    this.#warnMs = options.warnIntervalMs ?? 10_000;
    this.#leaseMs = options.reservationLeaseMs ?? 3_600_000;
    this.#maxPending = options.maxPendingSettles ?? 10_000;
    this.#refreshMs = options.refreshIntervalMs ?? 500;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#shared = new SharedBreakers({
      host: {
        get available() {
          return self.available;
        },
        call: (script, keys, args) => this.#call("breaker", script, keys, args),
      },
      prefix: options.prefix,
      clock: options.clock ?? systemClock,
      ...(options.events ? { events: options.events } : {}),
    });
    this.local = new MemoryStateStore({
      clock: options.clock ?? systemClock,
      events: this.#shared.events,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#shared.attach(this.local);
    this.#link = new RedisLink({
      url: options.url,
      onError: (e) => this.#unavailable(undefined, e),
      // (Re)connected: check at once rather than at the next health tick.
      onReady: () => this.#checkSoon(),
    });
    this.clients = new RedisClientLimiter(this);
  }

  /** Whether decisions go to Redis now (false: local memory decides). */
  get available(): boolean {
    return this.#up && this.#link.ready;
  }

  /** Reservation ids this store issues from Redis start with this. */
  get idPrefix(): string {
    return this.#idPrefix;
  }

  /** Settles waiting for Redis to come back. */
  get pendingSettles(): number {
    return this.#pending.length;
  }

  /**
   * Connects, loads the scripts and starts the health checks. Resolves once Redis is
   * in use, or after `waitMs` (default: the store's timeout) with local decisions until
   * it comes: a daemon starts whether Redis is there or not. Resolves with whether
   * Redis is in use.
   */
  async start(waitMs = this.#timeoutMs): Promise<boolean> {
    this.#connected ??= this.#link.start();
    this.#scheduleHealth(0);
    if (this.#refresh === undefined && !this.#closed) {
      this.#refresh = setInterval(() => void this.#tick(), this.#refreshMs);
      unref(this.#refresh);
    }
    const end = performance.now() + waitMs;
    while (!this.#up && !this.#closed && performance.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, end - performance.now()))));
    }
    return this.#up;
  }

  /** Stops the health checks and closes the connection; local memory goes on. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    if (this.#health !== undefined) clearTimeout(this.#health);
    this.#health = undefined;
    if (this.#refresh !== undefined) clearInterval(this.#refresh);
    this.#refresh = undefined;
    await this.#link.close();
    this.local.dispose();
  }

  async rateLimit(key: string, limit: RateLimitConfig): Promise<RateDecision> {
    if (!this.available) return this.#local("ratelimit", () => this.local.rateLimit(key, limit));
    try {
      const wait = await this.#link.run(
        RATE_LIMIT,
        [rateLimitKey(this.#prefix, key)],
        [this.#now(), limit.per_second, limit.burst],
        this.#timeoutMs,
      );
      const ms = Number(wait);
      return ms === 0 ? ALLOWED : { allowed: false, retryAfterMs: ms };
    } catch (e) {
      this.#unavailable("ratelimit", e);
      return this.#local("ratelimit", () => this.local.rateLimit(key, limit), false);
    }
  }

  group(group: GroupConfig, upstreams: ReadonlyMap<string, UpstreamConfig>): GroupState {
    // Balancing, in-flight and figures local; breaker openings, probes, pauses shared.
    return this.#shared.wrap(group, this.local.group(group, upstreams));
  }

  retain(groupNames: ReadonlySet<string>): void {
    this.local.retain(groupNames);
    this.#shared.retain(groupNames);
  }

  /**
   * Stores an admin change (a configuration draft without its `state` block) under a
   * new version and publishes the version; resolves with it. Rejects when Redis is away
   * (the change then stays on this instance).
   */
  async publishConfig(json: string): Promise<{ version: number; epoch: string }> {
    const r = await this.#call("config", CONFIG_PUT, [configKey(this.#prefix)], [
      json,
      CONFIG_TTL_MS,
      this.#shared.channel,
      newEpoch(),
    ]);
    if (!Array.isArray(r)) throw new Error(`config_put: expected [version, epoch], got ${r}`);
    return { version: Number(r[0]), epoch: String(r[1] ?? "") };
  }

  /** The stored live configuration, if any (undefined too when Redis is away). */
  async loadConfig(): Promise<StoredConfig | undefined> {
    if (!this.available) return undefined;
    try {
      const r = await this.#link.send(
        ["HMGET", configKey(this.#prefix), "v", "json", "e"],
        this.#timeoutMs,
      );
      if (!Array.isArray(r) || r[0] === null || typeof r[1] !== "string") return undefined;
      return { version: Number(r[0]), json: r[1], epoch: typeof r[2] === "string" ? r[2] : "" };
    } catch (e) {
      this.#unavailable("config", e);
      return undefined;
    }
  }

  /**
   * Called with the stored configuration's version and epoch whenever they are
   * announced (pub/sub) or read by the periodic check; the listener compares them with
   * what it applied.
   */
  onConfigVersion(listener: (version: number, epoch: string) => void): void {
    this.#onConfigVersion = listener;
  }

  /** Runs a script in Redis; rejects (counted under `op`) when Redis is away or fails. */
  async #call(
    op: StateOp,
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<Reply> {
    if (!this.available) {
      this.#count(op);
      throw new Error("the state store is unavailable");
    }
    try {
      return await this.#link.run(script, keys, args, this.#timeoutMs);
    } catch (e) {
      this.#unavailable(op, e);
      throw e;
    }
  }

  #onMessage(message: string): void {
    if (message.startsWith("config|")) {
      const [, v, epoch] = message.split("|");
      if (Number(v) > 0) this.#onConfigVersion?.(Number(v), epoch ?? "");
      return;
    }
    this.#shared.onMessage(message);
  }

  /** The periodic refresh: shared breakers, and the configuration's version. */
  async #tick(): Promise<void> {
    if (this.#closed || this.#refreshing || !this.available) return;
    this.#refreshing = true;
    try {
      await this.#shared.refresh();
      if (this.#onConfigVersion !== undefined && this.available) {
        const r = await this.#link.send(
          ["HMGET", configKey(this.#prefix), "v", "e"],
          this.#timeoutMs,
        );
        const [v, epoch] = Array.isArray(r) ? r : [];
        if (typeof v === "string" && Number(v) > 0) {
          this.#onConfigVersion(Number(v), typeof epoch === "string" ? epoch : "");
        }
      }
    } catch (e) {
      this.#unavailable("config", e);
    } finally {
      this.#refreshing = false;
    }
  }

  /** @internal Client admission in Redis, or locally. */
  async admit(
    client: string,
    limits: ClientLimitsConfig,
    estimate: number,
  ): Promise<ClientAdmission> {
    const tokens = tokenCount(estimate) ?? 0;
    if (!this.available) {
      return this.#local("client_admit", () => this.local.clients.admit(client, limits, tokens));
    }
    const id = `${this.#idPrefix}${++this.#seq}`;
    const reservation: ClientReservation = { client, id, tokens };
    try {
      const reply = await this.#link.run(
        CLIENT_ADMIT,
        clientKeys(this.#prefix, client),
        [
          this.#now(),
          limitArg(limits.requests_per_minute),
          limitArg(limits.tokens_per_minute),
          limitArg(limits.tokens_per_day),
          tokens,
          member(reservation),
          this.#leaseMs,
        ],
        this.#timeoutMs,
        // Admitted in Redis after the instance had decided locally: give it back.
        (late) => {
          if (Array.isArray(late) && Number(late[0]) === 0) this.#queueSettle(reservation, 0);
        },
      );
      if (!Array.isArray(reply)) throw new Error("unexpected reply to the admission script");
      const reason = REFUSAL_REASONS[Number(reply[0])];
      if (reason === undefined) return { allowed: true, reservation };
      return { allowed: false, reason, retryAfterMs: Math.max(1, Number(reply[1])) };
    } catch (e) {
      this.#unavailable("client_admit", e);
      return this.#local(
        "client_admit",
        () => this.local.clients.admit(client, limits, tokens),
        false,
      );
    }
  }

  /** @internal Ends a reservation where it was made. */
  async settle(reservation: ClientReservation, usedTokens: number | undefined): Promise<void> {
    if (!reservation.id.startsWith(this.#idPrefix)) {
      return this.local.clients.settle(reservation, usedTokens);
    }
    const used = tokenCount(usedTokens);
    if (!this.available) {
      this.#count("client_settle");
      this.#queueSettle(reservation, used);
      return;
    }
    try {
      await this.#sendSettle(reservation, used);
    } catch (e) {
      this.#unavailable("client_settle", e);
      // Settling twice is harmless (the second finds nothing held): a settle that timed
      // out but did land is simply repeated.
      this.#queueSettle(reservation, used);
    }
  }

  /** @internal A client's figures from Redis, or local ones. */
  async usage(client: string): Promise<ClientUsage> {
    if (!this.available) return this.#local("client_usage", () => this.local.clients.usage(client));
    try {
      const reply = await this.#link.run(
        CLIENT_USAGE,
        clientKeys(this.#prefix, client),
        [this.#now(), this.#leaseMs],
        this.#timeoutMs,
      );
      if (!Array.isArray(reply)) throw new Error("unexpected reply to the usage script");
      return {
        requests_last_minute: Number(reply[0]),
        tokens_last_minute: Number(reply[1]),
        tokens_today: Number(reply[2]),
      };
    } catch (e) {
      this.#unavailable("client_usage", e);
      return this.#local("client_usage", () => this.local.clients.usage(client), false);
    }
  }

  #sendSettle(reservation: ClientReservation, used: number | undefined): Promise<Reply> {
    return this.#link.run(
      CLIENT_SETTLE,
      clientKeys(this.#prefix, reservation.client),
      [this.#now(), member(reservation), used ?? -1, this.#leaseMs],
      this.#timeoutMs,
    );
  }

  #queueSettle(reservation: ClientReservation, used: number | undefined): void {
    if (this.#closed) return;
    this.#pending.push({ reservation, used });
    if (this.#pending.length > this.#maxPending) {
      // The oldest go: their reservations end by the lease instead.
      this.#pending.splice(0, this.#pending.length - this.#maxPending);
    }
    if (this.available) this.#scheduleHealth(0);
  }

  /** The time the scripts use: the test clock's, or 0 for the Redis server's. */
  #now(): number {
    return this.#clock === undefined ? 0 : Math.floor(this.#clock.now());
  }

  async #local<T>(op: StateOp, decide: () => Promise<T>, count = true): Promise<T> {
    if (count) this.#count(op);
    return await decide();
  }

  #count(op: StateOp): void {
    this.#metrics?.stateStoreErrors.labels(op).inc();
  }

  /** Marks Redis as away (decisions go local), warns at most every warnIntervalMs. */
  #unavailable(op: StateOp | undefined, e: unknown): void {
    if (this.#closed) return;
    this.#up = false;
    if (op !== undefined) this.#count(op);
    this.#scheduleHealth(this.#healthMs);
    const now = performance.now();
    if (now - this.#lastWarnAt < this.#warnMs) {
      this.#suppressed++;
      return;
    }
    this.#lastWarnAt = now;
    const message = e instanceof Error ? e.message : String(e);
    this.#logger.log("warn", "state store unavailable: deciding from local memory", {
      redis: redisUrlForLogs(this.#url),
      ...(op !== undefined ? { op } : {}),
      error: redactRedisSecrets(message || (e instanceof Error ? e.name : "error"), this.#url),
      ...(this.#suppressed > 0 ? { suppressed: this.#suppressed } : {}),
    });
    this.#suppressed = 0;
  }

  #checkSoon(): void {
    if (this.#closed) return;
    if (this.#health !== undefined) clearTimeout(this.#health);
    this.#health = undefined;
    this.#scheduleHealth(0);
  }

  #scheduleHealth(ms: number): void {
    if (this.#closed || this.#health !== undefined) return;
    this.#health = setTimeout(() => {
      this.#health = undefined;
      void this.#check();
    }, ms);
    unref(this.#health);
  }

  /** PINGs (and loads the scripts) while Redis is away; sends pending settles when back. */
  async #check(): Promise<void> {
    if (this.#closed || this.#checking) return;
    this.#checking = true;
    try {
      if (!this.#up) {
        if (!this.#link.ready) return;
        await this.#link.send(["PING"], this.#timeoutMs);
        // After a Redis restart the script cache is empty: load before the traffic does.
        await this.#link.load(SCRIPTS, Math.max(this.#timeoutMs, 1_000));
        this.#up = true;
        void this.#link.subscribe(this.#shared.channel, (m) => this.#onMessage(m));
        this.#logger.log(
          "info",
          this.#everUp ? "state store available again" : "state store connected",
          {
            redis: redisUrlForLogs(this.#url),
          },
        );
        this.#everUp = true;
        this.#suppressed = 0;
      }
      await this.#flushSettles();
    } catch (e) {
      if (this.#up) this.#unavailable(undefined, e);
    } finally {
      this.#checking = false;
      if (!this.#up || this.#pending.length > 0) this.#scheduleHealth(this.#healthMs);
    }
  }

  async #flushSettles(): Promise<void> {
    while (this.#pending.length > 0 && this.#up && !this.#closed) {
      const batch = this.#pending.splice(0, 64);
      const results = await Promise.allSettled(
        batch.map((p) => this.#sendSettle(p.reservation, p.used)),
      );
      const failed = batch.filter((_, i) => results[i]!.status === "rejected");
      if (failed.length > 0) {
        this.#pending.unshift(...failed);
        const why = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
        throw why.reason;
      }
    }
  }
}

/** The {@linkcode ClientLimiter} face of a {@linkcode RedisStateStore}. */
class RedisClientLimiter implements ClientLimiter {
  readonly #store: RedisStateStore;

  constructor(store: RedisStateStore) {
    this.#store = store;
  }

  admit(client: string, limits: ClientLimitsConfig, estimate: number): Promise<ClientAdmission> {
    return this.#store.admit(client, limits, estimate);
  }

  settle(reservation: ClientReservation, usedTokens: number | undefined): Promise<void> {
    return this.#store.settle(reservation, usedTokens);
  }

  usage(client: string): Promise<ClientUsage> {
    return this.#store.usage(client);
  }
}

/** A limit for a script: the number, or 0 when unset (anything but a positive number). */
function limitArg(limit: number | undefined): number {
  return typeof limit === "number" && Number.isFinite(limit) && limit > 0 ? limit : 0;
}

/** The held-set member of a reservation: the estimate, then the id. */
function member(r: ClientReservation): string {
  return `${r.tokens}|${r.id}`;
}

/** A token count as given (non-negative, whole); undefined for anything else. */
function tokenCount(v: number | undefined): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return undefined;
  return Math.ceil(v);
}

function unref(timer: unknown): void {
  const t = timer as { unref?: () => void };
  if (typeof t === "object" && t !== null && typeof t.unref === "function") t.unref();
  else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno?.unrefTimer?.(timer);
  }
}

/** A random epoch for a new stored configuration record (see `CONFIG_PUT`). */
function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
