/**
 * `weighted_roundrobin`: smooth weighted round robin, the nginx algorithm.
 *
 * @module
 */

import { positionsOf } from "./positions.ts";
import type { Balancer, BalancerDeps, BalancerState, Member } from "./types.ts";

/**
 * On each pick every available member's current weight grows by its weight; the
 * largest wins and gives back the sum of the weights. Over each cycle of Σweights
 * picks every member gets exactly its weight, spread out (weights 8 and 2 give
 * `a a a a b a a a a b`-like sequences, never the heavy member 8 times in a row).
 *
 * Only available members take part, so an unavailable member's share is spread over
 * the others and its current weight waits unchanged for its return.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 8 }, { name: "b", weight: 2 }];
 * const wrr = new WeightedRoundRobinBalancer({ members });
 * const picks = Array.from({ length: 10 }, () => wrr.pick(members)?.name);
 * ```
 */
export class WeightedRoundRobinBalancer implements Balancer {
  readonly strategy = "weighted_roundrobin" as const;
  readonly #members: readonly Member[];
  readonly #positions: Map<string, number>;
  readonly #current: Float64Array;

  constructor(deps: BalancerDeps) {
    this.#members = deps.members;
    this.#positions = positionsOf(deps.members);
    this.#current = new Float64Array(deps.members.length);
    const saved = deps.state?.current;
    if (saved !== undefined) {
      deps.members.forEach((m, i) => {
        const v = saved[m.name];
        if (typeof v === "number" && Number.isFinite(v)) this.#current[i] = v;
      });
    }
  }

  pick(available: readonly Member[]): Member | undefined {
    let total = 0;
    let best: Member | undefined;
    let bestPos = -1;
    let bestCurrent = -Infinity;
    for (const m of available) {
      const p = this.#positions.get(m.name);
      if (p === undefined) continue;
      const w = m.weight > 0 ? m.weight : 0;
      const c = (this.#current[p] = this.#current[p]! + w);
      total += w;
      // Strictly greater: ties go to the earlier member, as in nginx.
      if (c > bestCurrent) {
        best = m;
        bestPos = p;
        bestCurrent = c;
      }
    }
    if (best === undefined) return available[0];
    this.#current[bestPos] = this.#current[bestPos]! - total;
    return best;
  }

  toJSON(): BalancerState {
    const current: Record<string, number> = {};
    this.#members.forEach((m, i) => (current[m.name] = this.#current[i]!));
    return { current };
  }
}
