/**
 * The one interface every balancing strategy implements (docs/behaviour.md#strategies).
 *
 * A balancer only ever sees members that are available (docs/behaviour.md#availability): the group
 * state filters out open breakers and Retry-After pauses first, so no strategy can forget
 * to respect them.
 *
 * @module
 */

import type { Strategy } from "../config/types.ts";

/**
 * The strategies of docs/behaviour.md#least_requests and docs/behaviour.md#hash. Kept apart from
 * the config's {@linkcode Strategy} until the config admits them; once it does,
 * {@linkcode BalanceStrategy} equals `Strategy`.
 */
export type LlmStrategy = "least_requests" | "hash";

/** Every strategy a balancer can implement. */
export type BalanceStrategy = Strategy | LlmStrategy;

/** A group member as balancers see it. */
export interface Member {
  /** Upstream name, unique within the group. */
  readonly name: string;
  /** The group member's weight (≥ 1). */
  readonly weight: number;
}

/** Live figures of one member, for `response_aware`, `least_requests` and `hash`. */
export interface MemberStats {
  /** EWMA of the time to response headers, ms. */
  readonly latencyMs: number;
  /** EWMA of outcomes, 1 = all succeed. */
  readonly successRate: number;
  /** Requests now open to the member. */
  readonly inFlight: number;
  /**
   * Latency samples seen so far. A member with none and nothing in flight is tried
   * before scoring: with the pessimistic 2000 ms start, a member that never answered
   * would otherwise only be explored under load.
   */
  readonly samples?: number;
}

/** Where balancers read member figures; the group state provides it. */
export interface MemberStatsSource {
  /** Figures of `member` (one of the members the balancer was built with). */
  stats(member: Member): MemberStats;
}

/**
 * A balancer's position as plain data, so it can be carried across configuration
 * reloads and kept in a Durable Object. Members are named, not indexed, because the
 * member list may change between the save and the restore.
 */
export interface BalancerState {
  /** The member picked last (rotation continues after it). */
  readonly last?: string;
  /** Smooth weighted round robin's current weights. */
  readonly current?: Readonly<Record<string, number>>;
}

/** What a balancer is built from. */
export interface BalancerDeps {
  /** Every configured member of the group, in list order (available or not). */
  readonly members: readonly Member[];
  /**
   * Source of uniform numbers in [0, 1) for `random`, `least_requests` and `hash`
   * without a key (default `Math.random`).
   */
  readonly random?: () => number;
  /** Member figures; required by `response_aware`, `least_requests` and `hash`. */
  readonly stats?: MemberStatsSource;
  /** State to continue from (see {@linkcode BalancerState}). */
  readonly state?: BalancerState;
}

/** Chooses one member among those available. */
export interface Balancer {
  /** The strategy this balancer implements. */
  readonly strategy: BalanceStrategy;
  /**
   * Picks one of `available` (a subset of the members the balancer was built with,
   * matched by name), or `undefined` when it is empty. The array is borrowed for the
   * duration of the call only.
   *
   * `key` is the request's affinity key (docs/behaviour.md#hash, `balance.hash_key`), extracted by
   * the caller; only `hash` reads it, and `undefined` or `""` means the request has
   * none. Other strategies ignore it.
   */
  pick(available: readonly Member[], key?: string): Member | undefined;
  /** The balancer's position as plain data. */
  toJSON(): BalancerState;
}
