/**
 * UTC days for the daily token budget (docs/behaviour.md#client-behaviour).
 *
 * @module
 */

/** Milliseconds in a UTC day (UTC has no daylight saving; leap seconds do not exist in epoch ms). */
export const DAY_MS = 86_400_000;

/**
 * The number of the UTC day `now` (epoch ms) falls in: days since 1970-01-01.
 *
 * @example
 * ```ts
 * utcDay(Date.UTC(2026, 0, 2, 23, 59, 59, 999)) - utcDay(Date.UTC(2026, 0, 2)); // 0
 * ```
 */
export function utcDay(now: number): number {
  return Math.floor(now / DAY_MS);
}

/**
 * Milliseconds from `now` to the next UTC midnight (a full day at midnight itself).
 *
 * @example
 * ```ts
 * msUntilUtcMidnight(Date.UTC(2026, 0, 2, 23, 59, 59, 900)); // 100
 * ```
 */
export function msUntilUtcMidnight(now: number): number {
  return (utcDay(now) + 1) * DAY_MS - now;
}
