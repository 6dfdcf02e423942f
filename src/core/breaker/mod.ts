/**
 * Circuit breaker state machine (SPEC §4.3): pure, synchronous, clock-driven and
 * serialisable.
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
