/**
 * Balancing strategies (docs/behaviour.md#strategies), one file each behind the
 * {@linkcode Balancer} interface, and the {@linkcode createBalancer} factory.
 *
 * @module
 */

export { createBalancer } from "./create_balancer.ts";
export { FailoverBalancer } from "./failover.ts";
export {
  affinityHash,
  formatHashKey,
  HashBalancer,
  type HashKeyParse,
  type HashKeySpec,
  parseHashKey,
  rendezvousPick,
} from "./hash/mod.ts";
export { LeastRequestsBalancer } from "./least_requests.ts";
export { RandomBalancer } from "./random.ts";
export {
  ewma,
  EWMA_ALPHA,
  INITIAL_LATENCY_MS,
  INITIAL_SUCCESS_RATE,
  MIN_SUCCESS_RATE,
  ResponseAwareBalancer,
  responseScore,
} from "./response_aware.ts";
export { RoundRobinBalancer } from "./roundrobin.ts";
export type {
  Balancer,
  BalancerDeps,
  BalancerState,
  BalanceStrategy,
  LlmStrategy,
  Member,
  MemberStats,
  MemberStatsSource,
} from "./types.ts";
export { WeightedRoundRobinBalancer } from "./weighted_roundrobin.ts";
