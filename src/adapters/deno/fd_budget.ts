/**
 * How many client connections a listener may hold: three quarters of the process's
 * open-file limit, so that upstream sockets, log files and the runtime itself always
 * find a descriptor (a client flood must never look like an unreachable upstream and
 * trip its breaker). Linux tells the limit in `/proc/self/limits`; elsewhere, or
 * without read permission, a fixed bound is used.
 */
export function connectionBudget(limitsText?: string): number {
  const soft = openFileLimit(limitsText);
  if (soft === undefined) return FALLBACK;
  return Math.max(8, Math.floor(soft * 0.75) - 16);
}

/** Connections per listener when the descriptor limit cannot be read. */
const FALLBACK = 16_384;

/** The soft `Max open files` limit, or undefined when it cannot be read or is unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/limits");
    } catch {
      return undefined;
    }
  }
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
