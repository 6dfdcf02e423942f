/**
 * A sliding window of amounts (tokens or requests) over the last 60 s, in bounded
 * memory.
 *
 * @module
 */

/** Length of the client limits' sliding window (docs/behaviour.md#client-behaviour). */
export const WINDOW_MS = 60_000;

/** Records closer together than this share one entry (see {@linkcode SlidingWindow}). */
export const WINDOW_RESOLUTION_MS = 1_000;

/**
 * Amounts recorded in the last {@linkcode WINDOW_MS}, oldest first.
 *
 * An amount recorded at `t` counts until `t + 60 s` (exclusive): it expires exactly
 * 60 s later. To keep memory bounded whatever the request rate, a record made less than
 * {@linkcode WINDOW_RESOLUTION_MS} after the first record of the newest entry joins
 * that entry, and the entry then expires 60 s after its *latest* record: a grouped
 * amount is held at most 1 s too long, never released early, so the window never lets
 * more through than the limit. At most 61 entries are ever live.
 *
 * @example
 * ```ts
 * const w = new SlidingWindow();
 * w.add(100, 0);
 * w.total(59_999); // 100
 * w.total(60_000); // 0
 * ```
 */
export class SlidingWindow {
  // Parallel arrays, oldest first; `#head` is the first live index (compacted lazily).
  #first: number[] = [];
  #last: number[] = [];
  #amount: number[] = [];
  #head = 0;
  #total = 0;

  /** Records `amount` at `now`. */
  add(amount: number, now: number): void {
    if (!(amount > 0)) return;
    this.expire(now);
    const n = this.#amount.length;
    if (n > this.#head && now - this.#first[n - 1]! < WINDOW_RESOLUTION_MS) {
      this.#amount[n - 1]! += amount;
      // A clock stepping back must not make an entry expire earlier than it already would.
      if (now > this.#last[n - 1]!) this.#last[n - 1] = now;
    } else {
      this.#first.push(now);
      this.#last.push(now);
      this.#amount.push(amount);
    }
    this.#total += amount;
  }

  /** The sum of what was recorded in the 60 s before `now`. */
  total(now: number): number {
    this.expire(now);
    return this.#total;
  }

  /** True when nothing is left in the window as of `now`. */
  isEmpty(now: number): boolean {
    this.expire(now);
    return this.#head === this.#amount.length;
  }

  /**
   * Milliseconds from `now` until at least `needed` of the recorded amount has
   * expired; undefined when even everything in the window is less than that.
   */
  msUntilFreed(needed: number, now: number): number | undefined {
    this.expire(now);
    if (!(needed > 0)) return 0;
    let freed = 0;
    for (let i = this.#head; i < this.#amount.length; i++) {
      freed += this.#amount[i]!;
      if (freed >= needed) return Math.max(1, this.#last[i]! + WINDOW_MS - now);
    }
    return undefined;
  }

  /** When the newest entry expires (the window is empty from then on); 0 when empty. */
  emptyAt(now: number): number {
    this.expire(now);
    const n = this.#amount.length;
    return n > this.#head ? this.#last[n - 1]! + WINDOW_MS : 0;
  }

  /** Drops entries that have expired as of `now`. */
  expire(now: number): void {
    const n = this.#amount.length;
    let head = this.#head;
    while (head < n && this.#last[head]! + WINDOW_MS <= now) {
      this.#total -= this.#amount[head]!;
      head++;
    }
    if (head === this.#head) return;
    if (head === n) {
      this.#first.length = 0;
      this.#last.length = 0;
      this.#amount.length = 0;
      this.#head = 0;
      this.#total = 0; // no drift from float sums once empty
      return;
    }
    this.#head = head;
    if (head >= 32) {
      this.#first.splice(0, head);
      this.#last.splice(0, head);
      this.#amount.splice(0, head);
      this.#head = 0;
    }
  }

  /** The live entries as `[first, last, amount]` triples (for storage). */
  toJSON(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let i = this.#head; i < this.#amount.length; i++) {
      out.push([this.#first[i]!, this.#last[i]!, this.#amount[i]!]);
    }
    return out;
  }

  /** A window holding stored entries (invalid ones are skipped). */
  static from(entries: readonly (readonly number[])[]): SlidingWindow {
    const w = new SlidingWindow();
    for (const e of entries) {
      const [first, last, amount] = e;
      if (!isFiniteNumber(first) || !isFiniteNumber(last) || !isFiniteNumber(amount)) continue;
      if (!(amount > 0) || last < first) continue;
      w.#first.push(first);
      w.#last.push(last);
      w.#amount.push(amount);
      w.#total += amount;
    }
    return w;
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}
