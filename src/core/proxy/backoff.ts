import type { Clock } from "../clock.ts";

/** Longest wait between tries, whatever the policy or Retry-After says. */
export const MAX_BACKOFF_MS = 30_000;

/**
 * Wait before retry `n` (1-based): `initial × 2^(n−1)` with full jitter, capped at
 * 30 s (docs/behaviour.md#retries-and-failover).
 */
export function backoffMs(n: number, initialMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, initialMs * 2 ** (n - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Parses Retry-After (delta seconds or HTTP date) into milliseconds; undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Sleeps on the injected clock; resolves false at once when `signal` aborts (the
 * client left), true when the time passed.
 */
export function sleep(ms: number, clock: Clock, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
