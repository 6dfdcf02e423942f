/** Breaker states; the spelling is the one metrics and logs use. */
export type BreakerState = "closed" | "open" | "half_open";
