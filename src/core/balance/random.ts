/**
 * `random`: uniform among available members.
 *
 * @module
 */

import type { Balancer, BalancerDeps, BalancerState, Member } from "./types.ts";

/**
 * Picks uniformly among the available members. The random source is injectable so
 * tests are deterministic.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * new RandomBalancer({ members, random: () => 0.7 }).pick(members)?.name; // "b"
 * ```
 */
export class RandomBalancer implements Balancer {
  readonly strategy = "random" as const;
  readonly #random: () => number;

  constructor(deps: BalancerDeps) {
    this.#random = deps.random ?? Math.random;
  }

  pick(available: readonly Member[]): Member | undefined {
    const n = available.length;
    if (n <= 1) return available[0];
    // Clamp: a custom source returning exactly 1 must not index past the end.
    const i = Math.min(n - 1, Math.floor(this.#random() * n));
    return available[i < 0 ? 0 : i];
  }

  toJSON(): BalancerState {
    return {};
  }
}
