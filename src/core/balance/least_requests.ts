/**
 * `least_requests`: power of two choices on requests in flight (docs/behaviour.md#least_requests).
 *
 * @module
 */

import type { Balancer, BalancerDeps, BalancerState, Member, MemberStatsSource } from "./types.ts";
import { weightOf } from "./weight.ts";

/**
 * Draws two distinct available members at random, each draw weighted by member
 * weight (the second among those left), and keeps the one with fewer requests in
 * flight; equal counts go to the lower latency EWMA, and a full tie to the first
 * draw. One member available: that one.
 *
 * Two random candidates rather than the global minimum: every instance of a fleet
 * sees only its own in-flight counts, and a global minimum would send a burst from
 * all of them to the same idle member; two choices keep the herd spread while still
 * steering clear of a member with a queue. A full tie keeps the first draw, whose
 * odds are exactly weight / Σ weights, so an idle group is shared by weight.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * const open = new Map([["a", 5], ["b", 0]]);
 * const lr = new LeastRequestsBalancer({
 *   members,
 *   stats: { stats: (m) => ({ latencyMs: 100, successRate: 1, inFlight: open.get(m.name)! }) },
 * });
 * lr.pick(members)?.name; // "b"
 * ```
 */
export class LeastRequestsBalancer implements Balancer {
  readonly strategy = "least_requests" as const;
  readonly #random: () => number;
  readonly #stats: MemberStatsSource;

  constructor(deps: BalancerDeps) {
    if (deps.stats === undefined) {
      throw new TypeError("least_requests balancer needs a stats source (deps.stats)");
    }
    this.#random = deps.random ?? Math.random;
    this.#stats = deps.stats;
  }

  pick(available: readonly Member[]): Member | undefined {
    const n = available.length;
    if (n <= 1) return available[0];
    let total = 0;
    for (const m of available) total += weightOf(m);
    const i = draw(available, total, this.#random(), -1);
    const j = draw(available, total - weightOf(available[i]!), this.#random(), i);
    const a = available[i]!;
    const b = available[j]!;
    const sa = this.#stats.stats(a);
    const sb = this.#stats.stats(b);
    if (sb.inFlight !== sa.inFlight) return sb.inFlight < sa.inFlight ? b : a;
    return sb.latencyMs < sa.latencyMs ? b : a;
  }

  toJSON(): BalancerState {
    return {};
  }
}

/**
 * Index of a member drawn with probability weight / `total`, skipping index `skip`
 * (whose weight `total` must not include). `r` is uniform in [0, 1); a source that
 * returns 1 or more, or rounding at the end of the walk, lands on the last eligible
 * member instead of running off the end.
 */
function draw(members: readonly Member[], total: number, r: number, skip: number): number {
  let target = r * total;
  let last = -1;
  for (let k = 0; k < members.length; k++) {
    if (k === skip) continue;
    const w = weightOf(members[k]!);
    if (target < w) return k;
    target -= w;
    last = k;
  }
  return last;
}
