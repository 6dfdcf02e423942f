/**
 * `response_aware`: the member with the lowest expected wait.
 *
 * @module
 */

import { lastPosition, positionsOf } from "./positions.ts";
import type {
  Balancer,
  BalancerDeps,
  BalancerState,
  Member,
  MemberStats,
  MemberStatsSource,
} from "./types.ts";

/** Smoothing factor of the latency and success-rate EWMAs (docs/behaviour.md#strategies). */
export const EWMA_ALPHA = 0.15;
/** Latency a member is assumed to have before its first response, ms. */
export const INITIAL_LATENCY_MS = 2000;
/** Success rate a member is assumed to have before its first outcome. */
export const INITIAL_SUCCESS_RATE = 1;
/**
 * Floor of the success rate in the score: a member whose every call failed still gets
 * a finite (very large) score instead of a division by zero.
 */
export const MIN_SUCCESS_RATE = 1e-3;

/**
 * One step of an exponentially weighted moving average.
 *
 * @example
 * ```ts
 * ewma(2000, 100); // 1715
 * ```
 */
export function ewma(previous: number, sample: number, alpha: number = EWMA_ALPHA): number {
  return previous + alpha * (sample - previous);
}

/**
 * `latency × (in_flight + 1) / success_rate`: lower is better.
 *
 * @example
 * ```ts
 * responseScore({ latencyMs: 100, inFlight: 1, successRate: 0.5 }); // 400
 * ```
 */
export function responseScore(s: MemberStats): number {
  const rate = s.successRate > MIN_SUCCESS_RATE ? s.successRate : MIN_SUCCESS_RATE;
  return (s.latencyMs * (s.inFlight + 1)) / rate;
}

/**
 * Picks the available member with the lowest {@linkcode responseScore} (a member not
 * yet measured and idle scores 0, so each is tried once before the EWMA decides); among equal
 * scores (typically at start, when nothing is known yet) it rotates like
 * `roundrobin` so the tie is not always broken in favour of the first member.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * const figures = new Map([
 *   ["a", { latencyMs: 300, successRate: 1, inFlight: 0 }],
 *   ["b", { latencyMs: 100, successRate: 1, inFlight: 0 }],
 * ]);
 * const ra = new ResponseAwareBalancer({ members, stats: { stats: (m) => figures.get(m.name)! } });
 * ra.pick(members)?.name; // "b"
 * ```
 */
export class ResponseAwareBalancer implements Balancer {
  readonly strategy = "response_aware" as const;
  readonly #members: readonly Member[];
  readonly #positions: Map<string, number>;
  readonly #stats: MemberStatsSource;
  #last: number;

  constructor(deps: BalancerDeps) {
    if (deps.stats === undefined) {
      throw new TypeError("response_aware balancer needs a stats source (deps.stats)");
    }
    this.#members = deps.members;
    this.#positions = positionsOf(deps.members);
    this.#stats = deps.stats;
    this.#last = lastPosition(this.#positions, deps.state?.last);
  }

  pick(available: readonly Member[]): Member | undefined {
    let best = Infinity;
    let first: Member | undefined; // lowest position among the best
    let firstPos = Infinity;
    let next: Member | undefined; // lowest position after the last pick among the best
    let nextPos = Infinity;
    for (const m of available) {
      const p = this.#positions.get(m.name);
      if (p === undefined) continue;
      const s = this.#stats.stats(m);
      const score = s.samples === 0 && s.inFlight === 0 ? 0 : responseScore(s);
      if (score < best) {
        best = score;
        first = next = undefined;
        firstPos = nextPos = Infinity;
      }
      if (score === best) {
        if (p < firstPos) {
          first = m;
          firstPos = p;
        }
        if (p > this.#last && p < nextPos) {
          next = m;
          nextPos = p;
        }
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
