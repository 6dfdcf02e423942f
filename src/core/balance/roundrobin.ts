/**
 * `roundrobin`: rotate over available members in list order.
 *
 * @module
 */

import { lastPosition, positionsOf } from "./positions.ts";
import type { Balancer, BalancerDeps, BalancerState, Member } from "./types.ts";

/**
 * Picks the first available member after the one picked last, wrapping around.
 *
 * Rotation follows list positions rather than a counter over the available subset, so
 * a member that is skipped while unavailable does not shift everyone else's turn:
 * with A, B, C and B down the order is A, C, A, C, and B rejoins in its own place.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * const rr = new RoundRobinBalancer({ members });
 * rr.pick(members)?.name; // "a"
 * rr.pick(members)?.name; // "b"
 * ```
 */
export class RoundRobinBalancer implements Balancer {
  readonly strategy = "roundrobin" as const;
  readonly #members: readonly Member[];
  readonly #positions: Map<string, number>;
  #last: number;

  constructor(deps: BalancerDeps) {
    this.#members = deps.members;
    this.#positions = positionsOf(deps.members);
    this.#last = lastPosition(this.#positions, deps.state?.last);
  }

  pick(available: readonly Member[]): Member | undefined {
    let first: Member | undefined;
    let firstPos = Infinity;
    let next: Member | undefined;
    let nextPos = Infinity;
    for (const m of available) {
      const p = this.#positions.get(m.name);
      if (p === undefined) continue;
      if (p < firstPos) {
        first = m;
        firstPos = p;
      }
      if (p > this.#last && p < nextPos) {
        next = m;
        nextPos = p;
      }
    }
    if (next !== undefined) {
      this.#last = nextPos;
      return next;
    }
    if (first !== undefined) this.#last = firstPos;
    return first ?? available[0];
  }

  toJSON(): BalancerState {
    const last = this.#members[this.#last];
    return last === undefined ? {} : { last: last.name };
  }
}
