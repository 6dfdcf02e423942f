/**
 * Client limits in memory (docs/behaviour.md#client-behaviour): the {@linkcode ClientLimiter} of
 * the Deno and Node daemons, and the decision core that each client's Durable Object runs on
 * Workers.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import type { ClientLimitsConfig } from "../config/types.ts";
import { type ClientSnapshot, ClientState } from "./client_state.ts";
import type { ClientAdmission, ClientLimiter, ClientReservation, ClientUsage } from "./types.ts";

/** Settings of a {@linkcode MemoryClientLimiter}. */
export interface MemoryClientLimiterOptions {
  /** Time source (default: the system clock). */
  readonly clock?: Clock;
  /** Hard cap on clients with state (default 200,000); see {@linkcode MemoryClientLimiter}. */
  readonly maxClients?: number;
  /**
   * A reservation not settled within this long is settled at its estimate (its request
   * was lost, e.g. with a Workers isolate). Default: 1 hour.
   */
  readonly reservationLeaseMs?: number;
  /** An `admit` at least this long after the last sweep sweeps first (default 10 s). */
  readonly sweepIntervalMs?: number;
  /** The map may grow to this size before growth alone triggers a sweep (default 1024). */
  readonly minSweepSize?: number;
  /**
   * Prefix of reservation ids (default: random per instance). A settle whose id has
   * another prefix and is not held belongs to a previous instance (see `settle`).
   */
  readonly idPrefix?: string;
}

const ZERO: ClientUsage = Object.freeze({
  requests_last_minute: 0,
  tokens_last_minute: 0,
  tokens_today: 0,
});

/** Settles of a previous instance remembered, so that repeating one changes nothing. */
const MAX_FOREIGN_SETTLED = 4_096;

/**
 * Client limits by client name: a request bucket (`requests_per_minute`: capacity N,
 * N/60 per second, starting full), a sliding 60 s window of tokens
 * (`tokens_per_minute`) and a UTC-day budget (`tokens_per_day`).
 *
 * `admit` is one decision: the request bucket is checked first (`rate_limited`), then
 * window used + reserved + estimate against `tokens_per_minute`
 * (`tokens_rate_limited`), then today's used + reserved + estimate against
 * `tokens_per_day` (`budget_exceeded`). Only when all pass is the request token taken
 * and the estimate reserved (counted in the window and in the day until it is
 * settled). `settle` ends the reservation and records what was used, at settle time.
 *
 * Memory: a client whose bucket is full again, whose window is empty and who has no
 * running request costs a few numbers (today's tokens) until its UTC day ends, and
 * nothing after. Sweeps run on `admit` calls (amortised, like the per-IP rate
 * limiter's), never on timers. Past `maxClients` clients with state,
 * the oldest-created are dropped in batches: lenient to them (they start afresh), the
 * price of a hard bound; with clients coming from the configuration it binds only
 * when more clients than that are configured and active.
 *
 * @example
 * ```ts
 * const limiter = new MemoryClientLimiter();
 * const limits = { requests_per_minute: 600, tokens_per_minute: 100_000 };
 * const a = await limiter.admit("team-a", limits, 250);
 * if (a.allowed) {
 *   // … forward the request, read the usage from the answer …
 *   await limiter.settle(a.reservation, 180);
 * } else {
 *   console.log(a.reason, Math.ceil(a.retryAfterMs / 1000));
 * }
 * ```
 */
export class MemoryClientLimiter implements ClientLimiter {
  readonly #clock: Clock;
  readonly #maxClients: number;
  readonly #leaseMs: number;
  readonly #sweepIntervalMs: number;
  readonly #minSweepSize: number;
  readonly #prefix: string;
  // Map keeps insertion order: "oldest created first" for eviction.
  readonly #clients = new Map<string, ClientState>();
  readonly #foreignSettled = new Set<string>();
  #seq = 0;
  #sizeAfterSweep = 0;
  #lastSweepAt: number;

  constructor(options: MemoryClientLimiterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#maxClients = Math.max(1, Math.floor(options.maxClients ?? 200_000));
    this.#leaseMs = Math.max(1, options.reservationLeaseMs ?? 3_600_000);
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.#minSweepSize = Math.max(1, options.minSweepSize ?? 1024);
    this.#prefix = options.idPrefix ?? `${crypto.randomUUID().slice(0, 8)}.`;
    this.#lastSweepAt = this.#clock.now();
  }

  /** Number of clients with state. */
  get size(): number {
    return this.#clients.size;
  }

  admit(client: string, limits: ClientLimitsConfig, estimate: number): Promise<ClientAdmission> {
    return Promise.resolve(this.admitNow(client, limits, estimate));
  }

  settle(reservation: ClientReservation, usedTokens: number | undefined): Promise<void> {
    this.settleNow(reservation, usedTokens);
    return Promise.resolve();
  }

  usage(client: string): Promise<ClientUsage> {
    return Promise.resolve(this.usageNow(client));
  }

  /** {@linkcode admit}, synchronously (for a Durable Object: one call, one turn). */
  admitNow(client: string, limits: ClientLimitsConfig, estimate: number): ClientAdmission {
    const now = this.#clock.now();
    if (now - this.#lastSweepAt >= this.#sweepIntervalMs) this.sweep();
    const tokens = tokenCount(estimate) ?? 0;

    let state = this.#clients.get(client);
    if (state !== undefined) state.expireHeld(this.#leaseMs, now);
    const refusal = (state ?? new ClientState(now)).check(limits, tokens, now);
    if (refusal !== undefined) {
      return { allowed: false, reason: refusal.reason, retryAfterMs: refusal.retryAfterMs };
    }
    if (state === undefined) {
      this.#makeRoom();
      state = new ClientState(now);
      this.#clients.set(client, state);
    }
    const id = `${this.#prefix}${++this.#seq}`;
    state.admit(limits, tokens, now, id);
    return { allowed: true, reservation: { client, id, tokens } };
  }

  /**
   * {@linkcode settle}, synchronously. Idempotent: a reservation that is not held is
   * ignored, unless its id comes from another instance (a Durable Object that restarted
   * before the reservation was stored): then the usage is recorded once, as the
   * request did use those tokens.
   */
  settleNow(reservation: ClientReservation, usedTokens: number | undefined): void {
    const now = this.#clock.now();
    const used = tokenCount(usedTokens);
    const { client, id } = reservation;
    const state = this.#clients.get(client);
    const own = id.startsWith(this.#prefix);
    if (state !== undefined && state.settle(id, used, now)) {
      // A reservation restored from storage: its id must not count again as lost.
      if (!own) this.#rememberForeign(id);
      return;
    }
    if (own || this.#foreignSettled.has(id)) return;
    this.#rememberForeign(id);
    const tokens = used ?? tokenCount(reservation.tokens) ?? 0;
    if (tokens <= 0) return;
    let s = state;
    if (s === undefined) {
      this.#makeRoom();
      s = new ClientState(now);
      this.#clients.set(client, s);
    }
    s.record(tokens, now);
  }

  /** {@linkcode usage}, synchronously. */
  usageNow(client: string): ClientUsage {
    const state = this.#clients.get(client);
    if (state === undefined) return ZERO;
    const now = this.#clock.now();
    state.expireHeld(this.#leaseMs, now);
    return state.usage(now);
  }

  /** Drops every client whose state holds nothing any more; returns how many. */
  sweep(): number {
    const now = this.#clock.now();
    let dropped = 0;
    for (const [name, state] of this.#clients) {
      state.expireHeld(this.#leaseMs, now);
      if (state.compact(now)) {
        this.#clients.delete(name);
        dropped++;
      }
    }
    this.#lastSweepAt = now;
    this.#sizeAfterSweep = this.#clients.size;
    return dropped;
  }

  /** Forgets every client. */
  clear(): void {
    this.#clients.clear();
    this.#foreignSettled.clear();
    this.#sizeAfterSweep = 0;
  }

  /** The state of `client` as stored, or undefined when it holds nothing. */
  snapshot(client: string): ClientSnapshot | undefined {
    const state = this.#clients.get(client);
    if (state === undefined) return undefined;
    const now = this.#clock.now();
    state.expireHeld(this.#leaseMs, now);
    if (state.compact(now)) {
      this.#clients.delete(client);
      return undefined;
    }
    return state.toJSON();
  }

  /** Replaces the state of `client` by a stored one (a Durable Object's restart). */
  restore(client: string, snapshot: ClientSnapshot): void {
    const now = this.#clock.now();
    const state = ClientState.from(snapshot, now);
    state.expireHeld(this.#leaseMs, now);
    if (state.compact(now)) {
      this.#clients.delete(client);
      return;
    }
    if (!this.#clients.has(client)) this.#makeRoom();
    this.#clients.set(client, state);
  }

  /**
   * When the state of `client` will hold nothing if no request comes (epoch ms), or
   * undefined when it holds nothing now.
   */
  idleAt(client: string): number | undefined {
    const state = this.#clients.get(client);
    if (state === undefined) return undefined;
    const now = this.#clock.now();
    if (state.compact(now)) {
      this.#clients.delete(client);
      return undefined;
    }
    return state.idleAt(this.#leaseMs, now);
  }

  #rememberForeign(id: string): void {
    if (this.#foreignSettled.size >= MAX_FOREIGN_SETTLED) this.#foreignSettled.clear();
    this.#foreignSettled.add(id);
  }

  /** Keeps the map bounded before one more client is inserted. */
  #makeRoom(): void {
    let swept = false;
    if (this.#clients.size >= Math.max(this.#minSweepSize, 2 * this.#sizeAfterSweep)) {
      this.sweep();
      swept = true;
    }
    if (this.#clients.size < this.#maxClients) return;
    if (!swept) this.sweep();
    if (this.#clients.size < this.#maxClients) return;
    // A batch, so the O(n) sweep is paid once per batch of inserts at the cap.
    let evict = this.#clients.size - this.#maxClients + 1 + Math.floor(this.#maxClients / 16);
    for (const name of this.#clients.keys()) {
      if (evict-- <= 0) break;
      this.#clients.delete(name);
    }
    this.#sizeAfterSweep = this.#clients.size;
  }
}

/** A token count as given (non-negative, whole); undefined for anything else. */
function tokenCount(v: number | undefined): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) return undefined;
  return Math.ceil(v);
}
