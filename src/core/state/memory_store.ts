/**
 * The in-memory {@linkcode StateStore} used on Deno and Node.
 *
 * @module
 */

import { type BalancerState, createBalancer } from "../balance/mod.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { GroupConfig, RateLimitConfig, UpstreamConfig } from "../config/types.ts";
import { RateLimiter } from "../ratelimit/mod.ts";
import { MemoryClientLimiter } from "./client_limiter.ts";
import { GroupRecord, MemoryGroupState, Slot } from "./group_state.ts";
import { MemberState, upstreamFingerprint } from "./member_state.ts";
import type { RateDecision, StateEvents, StateStore } from "./types.ts";

/** Settings of a {@linkcode MemoryStateStore}. */
export interface MemoryStateStoreOptions {
  /** Time source and timers (default: the system clock). */
  readonly clock?: Clock;
  /** Observer of breaker transitions and calls. */
  readonly events?: StateEvents;
  /** Uniform random numbers in [0, 1) for the `random` strategy (default `Math.random`). */
  readonly random?: () => number;
  /** Hard cap on rate-limit buckets (default 100,000). */
  readonly maxRateLimitKeys?: number;
  /** Hard cap on clients with limits state (default 200,000). */
  readonly maxClients?: number;
}

/**
 * Keeps breakers, balancer positions, member figures, token buckets and client limits
 * in process memory. Group state is keyed by group name, then upstream name plus a
 * fingerprint of the upstream's `url` and `breaker` settings: a new configuration
 * snapshot that leaves those unchanged continues with the same state, one that changes
 * them starts afresh.
 *
 * @example
 * ```ts
 * import type { GroupConfig, UpstreamConfig } from "../config/types.ts";
 *
 * const store = new MemoryStateStore();
 * async function attempt(cfg: GroupConfig, upstreams: ReadonlyMap<string, UpstreamConfig>) {
 *   const group = store.group(cfg, upstreams);
 *   const r = await group.select();
 *   if (!r.ok) return r.retryAfterMs;
 *   await group.settle(r.selection, { kind: "success", latencyMs: 120 });
 *   await group.release(r.selection);
 *   return 0;
 * }
 * ```
 */
export class MemoryStateStore implements StateStore {
  readonly #clock: Clock;
  readonly #events: StateEvents | undefined;
  readonly #random: (() => number) | undefined;
  readonly #limiter: RateLimiter;
  readonly #groups = new Map<string, GroupRecord>();
  /** Client limits (docs/behaviour.md#client-behaviour), on the store's clock. */
  readonly clients: MemoryClientLimiter;
  #lastId = 0;
  readonly #nextId = (): number => ++this.#lastId;

  constructor(options: MemoryStateStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#events = options.events;
    this.#random = options.random;
    this.#limiter = new RateLimiter({ clock: this.#clock, maxKeys: options.maxRateLimitKeys });
    this.clients = new MemoryClientLimiter({
      clock: this.#clock,
      ...(options.maxClients !== undefined ? { maxClients: options.maxClients } : {}),
    });
  }

  rateLimit(key: string, limit: RateLimitConfig): Promise<RateDecision> {
    return Promise.resolve(this.#limiter.take(key, limit));
  }

  group(group: GroupConfig, upstreams: ReadonlyMap<string, UpstreamConfig>): MemoryGroupState {
    // Check every reference before touching state, so a bad call changes nothing.
    const configs = group.upstreams.map((m) => {
      const up = upstreams.get(m.name);
      if (up === undefined) {
        throw new Error(
          `group "${group.name}": member "${m.name}" is not among the configured upstreams`,
        );
      }
      return up;
    });

    let record = this.#groups.get(group.name);
    if (record === undefined) {
      record = new GroupRecord(group.name);
      this.#groups.set(group.name, record);
    }
    const previous = record.members;
    const members = new Map<string, MemberState>();
    const carried = new Set<string>();
    const slots = group.upstreams.map((m, i) => {
      const up = configs[i]!;
      let state = members.get(m.name);
      if (state === undefined) {
        const old = previous.get(m.name);
        if (old !== undefined && old.fingerprint === upstreamFingerprint(up)) {
          state = old;
          carried.add(m.name);
        } else {
          state = new MemberState(group.name, up, this.#clock, this.#events);
        }
        members.set(m.name, state);
      }
      return new Slot(m.name, m.weight, state);
    });
    // Members dropped or reset: their breaker timers must not keep firing events.
    for (const [name, old] of previous) if (members.get(name) !== old) old.dispose();
    record.members = members;

    const strategy = group.balance.strategy;
    const prior = record.current?.strategy === strategy
      ? carryOver(record.current.balancerState(), carried)
      : undefined;
    const handle: MemoryGroupState = new MemoryGroupState({
      record,
      strategy,
      slots,
      balancer: (stats) =>
        createBalancer(strategy, { members: slots, random: this.#random, stats, state: prior }),
      clock: this.#clock,
      events: this.#events,
      nextId: this.#nextId,
    });
    record.current = handle;
    return handle;
  }

  /**
   * The member states of a group as of its latest `group()` call, by upstream name
   * (for snapshots and restores by a Durable Object); undefined for an unknown group.
   */
  members(groupName: string): ReadonlyMap<string, MemberState> | undefined {
    return this.#groups.get(groupName)?.members;
  }

  retain(groupNames: ReadonlySet<string>): void {
    for (const [name, record] of this.#groups) {
      if (groupNames.has(name)) continue;
      record.dispose();
      this.#groups.delete(name);
    }
  }

  /** Stops every breaker timer (shutdown, tests). Handles keep answering lazily. */
  dispose(): void {
    for (const record of this.#groups.values()) record.dispose();
  }
}

/** Keeps the rotation cursor, and per-member positions only of carried-over members. */
function carryOver(state: BalancerState, carried: ReadonlySet<string>): BalancerState {
  if (state.current === undefined) return state;
  const current: Record<string, number> = {};
  for (const [name, value] of Object.entries(state.current)) {
    if (carried.has(name)) current[name] = value;
  }
  return state.last === undefined ? { current } : { last: state.last, current };
}
