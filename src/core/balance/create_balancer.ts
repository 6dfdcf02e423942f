/**
 * The strategy factory.
 *
 * @module
 */

import { FailoverBalancer } from "./failover.ts";
import { HashBalancer } from "./hash/hash_balancer.ts";
import { LeastRequestsBalancer } from "./least_requests.ts";
import { RandomBalancer } from "./random.ts";
import { ResponseAwareBalancer } from "./response_aware.ts";
import { RoundRobinBalancer } from "./roundrobin.ts";
import type { Balancer, BalancerDeps, BalanceStrategy } from "./types.ts";
import { WeightedRoundRobinBalancer } from "./weighted_roundrobin.ts";

/**
 * Builds the balancer for `strategy`. `response_aware`, `least_requests` and `hash`
 * need `deps.stats`.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 8 }, { name: "b", weight: 2 }];
 * const balancer = createBalancer("weighted_roundrobin", { members });
 * balancer.pick(members);
 * ```
 */
export function createBalancer(strategy: BalanceStrategy, deps: BalancerDeps): Balancer {
  switch (strategy) {
    case "roundrobin":
      return new RoundRobinBalancer(deps);
    case "weighted_roundrobin":
      return new WeightedRoundRobinBalancer(deps);
    case "random":
      return new RandomBalancer(deps);
    case "failover":
      return new FailoverBalancer(deps);
    case "response_aware":
      return new ResponseAwareBalancer(deps);
    case "least_requests":
      return new LeastRequestsBalancer(deps);
    case "hash":
      return new HashBalancer(deps);
    default: {
      const unknown: never = strategy;
      throw new TypeError(
        `unknown balance strategy "${String(unknown)}"; expected roundrobin, ` +
          "weighted_roundrobin, random, response_aware, failover, least_requests or hash",
      );
    }
  }
}
