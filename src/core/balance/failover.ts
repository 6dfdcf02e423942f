/**
 * `failover`: the first available member in list order.
 *
 * @module
 */

import { positionsOf } from "./positions.ts";
import type { Balancer, BalancerDeps, BalancerState, Member } from "./types.ts";

/**
 * Always the earliest available member of the configured list: the primary while it
 * is available, then the next one, and back to the primary as soon as it recovers.
 *
 * @example
 * ```ts
 * const members = [{ name: "primary", weight: 1 }, { name: "backup", weight: 1 }];
 * new FailoverBalancer({ members }).pick([members[1]!])?.name; // "backup"
 * ```
 */
export class FailoverBalancer implements Balancer {
  readonly strategy = "failover" as const;
  readonly #positions: Map<string, number>;

  constructor(deps: BalancerDeps) {
    this.#positions = positionsOf(deps.members);
  }

  pick(available: readonly Member[]): Member | undefined {
    let best: Member | undefined;
    let bestPos = Infinity;
    for (const m of available) {
      const p = this.#positions.get(m.name);
      if (p !== undefined && p < bestPos) {
        best = m;
        bestPos = p;
      }
    }
    return best ?? available[0];
  }

  toJSON(): BalancerState {
    return {};
  }
}
