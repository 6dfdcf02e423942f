/**
 * Circuit breaker state machine (docs/behaviour.md#circuit-breaker): pure, synchronous,
 * clock-driven and serialisable.
 *
 * @module
 */

export {
  type BreakerPermit,
  type BreakerSnapshot,
  type BreakerStateListener,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from "./circuit_breaker.ts";
export { SlidingWindow, type SlidingWindowSnapshot } from "./sliding_window.ts";
export type { BreakerState } from "./types.ts";
