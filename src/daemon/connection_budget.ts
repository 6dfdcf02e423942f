/**
 * How many client connections a listener may hold: three quarters of the process's
 * open-file limit, so that upstream sockets, log files and the runtime itself always
 * find a descriptor (a client flood must never look like an unreachable upstream and
 * trip its breaker). `limitsText` is Linux's `/proc/self/limits` (the adapters read
 * it); without it a fixed bound is used.
 */
export function connectionBudget(limitsText: string | undefined): number {
  const soft = openFileLimit(limitsText);
  if (soft === undefined) return FALLBACK;
  return Math.max(8, Math.floor(soft * 0.75) - 16);
}

/** Connections per listener when the descriptor limit cannot be read. */
const FALLBACK = 16_384;

/** The soft `Max open files` limit, or undefined when it cannot be read or is unlimited. */
export function openFileLimit(limitsText: string | undefined): number | undefined {
  if (limitsText === undefined) return undefined;
  const line = limitsText.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
