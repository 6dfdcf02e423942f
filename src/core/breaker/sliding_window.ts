/**
 * Call and failure counts over a sliding time window, in fixed-size time buckets.
 *
 * Memory is O(buckets) whatever the traffic, and every operation is amortised O(1):
 * running totals are kept and a bucket's counts are subtracted when time moves past
 * it, so reading the totals never sums the buckets.
 *
 * @module
 */

/** Serialisable form of a {@linkcode SlidingWindow}. */
export interface SlidingWindowSnapshot {
  /** Index (time / bucket width) of the newest bucket. */
  readonly head: number;
  /** Calls per bucket, slot `i` holds bucket indices ≡ i (mod buckets). */
  readonly calls: readonly number[];
  /** Failures per bucket, same layout as `calls`. */
  readonly failures: readonly number[];
}

/**
 * Counts calls and failures over the last `windowMs`, at `windowMs / buckets`
 * resolution.
 *
 * @example
 * ```ts
 * const w = new SlidingWindow(60_000, 60);
 * w.record(Date.now(), true);
 * console.log(w.calls, w.failures); // 1 1
 * ```
 */
export class SlidingWindow {
  readonly #bucketMs: number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  #head = Number.NEGATIVE_INFINITY;
  #totalCalls = 0;
  #totalFailures = 0;

  /**
   * @param windowMs Width of the whole window in milliseconds.
   * @param buckets Number of buckets the window is divided into.
   */
  constructor(windowMs = 60_000, buckets = 60) {
    if (!(windowMs > 0) || !Number.isInteger(buckets) || buckets < 1) {
      throw new RangeError(
        `SlidingWindow needs windowMs > 0 and an integer buckets >= 1, got ${windowMs} and ${buckets}`,
      );
    }
    this.#bucketMs = windowMs / buckets;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
  }

  /** Calls in the window as of the last {@linkcode record} or {@linkcode advance}. */
  get calls(): number {
    return this.#totalCalls;
  }

  /** Failures in the window as of the last {@linkcode record} or {@linkcode advance}. */
  get failures(): number {
    return this.#totalFailures;
  }

  /** Records one call at time `now`. */
  record(now: number, failed: boolean): void {
    this.advance(now);
    const slot = this.#slot(this.#head);
    this.#calls[slot]!++;
    this.#totalCalls++;
    if (failed) {
      this.#failures[slot]!++;
      this.#totalFailures++;
    }
  }

  /** Expires buckets that fell out of the window by time `now`. */
  advance(now: number): void {
    const index = Math.floor(now / this.#bucketMs);
    // A clock that steps backwards keeps counting into the newest bucket rather
    // than corrupting older ones.
    if (index <= this.#head) return;
    const n = this.#calls.length;
    if (index - this.#head >= n) {
      this.reset();
    } else {
      for (let b = this.#head + 1; b <= index; b++) {
        const slot = this.#slot(b);
        this.#totalCalls -= this.#calls[slot]!;
        this.#totalFailures -= this.#failures[slot]!;
        this.#calls[slot] = 0;
        this.#failures[slot] = 0;
      }
    }
    this.#head = index;
  }

  /** Forgets every count. */
  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#totalCalls = 0;
    this.#totalFailures = 0;
  }

  /** The window as plain data. */
  toJSON(): SlidingWindowSnapshot {
    return {
      head: Number.isFinite(this.#head) ? this.#head : -1,
      calls: Array.from(this.#calls),
      failures: Array.from(this.#failures),
    };
  }

  /** Replaces this window's counts with `snapshot` (same bucket count expected). */
  restore(snapshot: SlidingWindowSnapshot): void {
    const n = this.#calls.length;
    if (snapshot.calls.length !== n || snapshot.failures.length !== n) {
      throw new RangeError(
        `SlidingWindow snapshot has ${snapshot.calls.length} buckets, expected ${n}`,
      );
    }
    this.#head = snapshot.head;
    this.#totalCalls = 0;
    this.#totalFailures = 0;
    for (let i = 0; i < n; i++) {
      this.#calls[i] = snapshot.calls[i]!;
      this.#failures[i] = snapshot.failures[i]!;
      this.#totalCalls += this.#calls[i]!;
      this.#totalFailures += this.#failures[i]!;
    }
  }

  #slot(index: number): number {
    const n = this.#calls.length;
    return ((index % n) + n) % n;
  }
}
