/**
 * `hash`: affinity by rendezvous hashing of a request key (docs/behaviour.md#hash).
 *
 * @module
 */

import { LeastRequestsBalancer } from "../least_requests.ts";
import type { Balancer, BalancerDeps, BalancerState, Member } from "../types.ts";
import { rendezvousPick } from "./rendezvous.ts";

/**
 * Sends every request with the same key to the same member, so a provider's prompt
 * or KV cache built for one conversation is hit again: the member is the available
 * one with the highest weighted rendezvous score for the key (see `rendezvous.ts` for
 * the hash every instance of a fleet shares). When that member is unavailable its keys
 * go to their runner-up and come back when it returns; other keys never move.
 *
 * A request without a key (`undefined` or empty: a missing header or body field, an
 * empty `user`) is balanced as `least_requests` rather than all piling onto the one
 * member that the empty key hashes to.
 *
 * A retry (docs/behaviour.md#retries-and-failover) is offered only the members not yet tried, so it
 * goes to the key's next member in rendezvous order: the same fallback every instance would use.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * const stats = { stats: () => ({ latencyMs: 100, successRate: 1, inFlight: 0 }) };
 * const hb = new HashBalancer({ members, stats });
 * hb.pick(members, "user-42")?.name === hb.pick(members, "user-42")?.name; // true
 * ```
 */
export class HashBalancer implements Balancer {
  readonly strategy = "hash" as const;
  readonly #fallback: LeastRequestsBalancer;

  constructor(deps: BalancerDeps) {
    if (deps.stats === undefined) {
      throw new TypeError("hash balancer needs a stats source (deps.stats)");
    }
    this.#fallback = new LeastRequestsBalancer(deps);
  }

  pick(available: readonly Member[], key?: string): Member | undefined {
    if (key === undefined || key === "") return this.#fallback.pick(available);
    return rendezvousPick(available, key);
  }

  toJSON(): BalancerState {
    return {};
  }
}
