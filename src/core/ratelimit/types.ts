/** Outcome of a rate-limit check. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Milliseconds until a token is available (0 when allowed). */
  readonly retryAfterMs: number;
}
