/**
 * Time as the core sees it. Injected so breakers, buckets and backoff are tested on
 * a manual clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch (may be fractional). */
  now(): number;
  /** Schedules `fn` after `ms`; the handle is opaque. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a handle returned by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** The real clock. Timers it creates never keep a process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // Deno and Node expose unref on timers in different ways; a breaker timer must
    // never hold a process open during shutdown.
    const h = handle as unknown as { unref?: () => void };
    if (typeof h === "object" && h !== null && typeof h.unref === "function") h.unref();
    else if (typeof handle === "number") unrefTimerIfPossible(handle);
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as number),
};

function unrefTimerIfPossible(id: number): void {
  const g = globalThis as unknown as { Deno?: { unrefTimer?: (id: number) => void } };
  g.Deno?.unrefTimer?.(id);
}

/** A clock that moves only when told to; timers fire in order during `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const t = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
    }
    this.#now = target;
  }

  /** Number of pending timers (for leak checks in tests). */
  get pendingTimers(): number {
    return this.#timers.size;
  }
}
