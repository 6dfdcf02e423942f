/**
 * The circuit breaker state machine of one upstream (docs/behaviour.md#circuit-breaker).
 *
 * Pure and synchronous: it never performs I/O, it only learns outcomes from its
 * caller (the pipeline decides what a failure is) and reads time from an injected
 * {@linkcode Clock}. Its whole state is plain data ({@linkcode BreakerSnapshot}), so a
 * Durable Object can host the same logic.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { BreakerState } from "./types.ts";
import { SlidingWindow, type SlidingWindowSnapshot } from "./sliding_window.ts";

/** Whether a call may go to the upstream, and whether it is the half-open probe. */
export interface BreakerPermit {
  readonly admitted: boolean;
  /** True when this call holds the half-open probe slot; report it back as such. */
  readonly probe: boolean;
}

/** Observer of state transitions. Must not throw: it may run from a timer. */
export type BreakerStateListener = (from: BreakerState, to: BreakerState) => void;

/** Settings of a {@linkcode CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Failure ratio (0–1] over the window that opens the breaker. */
  readonly threshold: number;
  /** How long the breaker stays open before it becomes half-open, in ms. */
  readonly cooldownMs: number;
  /** Time source and timers. */
  readonly clock: Clock;
  /** Called after every transition, including the timed open → half-open. */
  readonly onStateChange?: BreakerStateListener;
  /** Width of the failure-ratio window (default 60 s). */
  readonly windowMs?: number;
  /** Buckets the window is divided into (default 60, i.e. one per second). */
  readonly buckets?: number;
  /** Calls the window needs before the ratio may open the breaker (default 10). */
  readonly minCalls?: number;
  /** Consecutive failures that open the breaker regardless of the ratio (default 5). */
  readonly maxConsecutiveFailures?: number;
}

/** The breaker as plain data, for Durable Object storage. */
export interface BreakerSnapshot {
  readonly state: BreakerState;
  /** When an open breaker becomes half-open (ms since epoch); 0 otherwise. */
  readonly openUntil: number;
  readonly probeInFlight: boolean;
  readonly consecutiveFailures: number;
  readonly generation: number;
  readonly window: SlidingWindowSnapshot;
}

// Permits are shared constants so the hot path allocates nothing.
const ADMITTED: BreakerPermit = Object.freeze({ admitted: true, probe: false });
const PROBE: BreakerPermit = Object.freeze({ admitted: true, probe: true });
const REJECTED: BreakerPermit = Object.freeze({ admitted: false, probe: false });

/**
 * Closed → open when, over the last minute, at least `minCalls` calls were made and
 * the failure ratio is ≥ `threshold`, or after `maxConsecutiveFailures` failures in a
 * row. Open → half-open once `cooldownMs` has passed: the state is computed from the
 * clock whenever it is read, and a timer announces the transition at that moment so
 * metrics and logs see it without traffic. Half-open admits one probe at a time:
 * success closes the breaker (counts reset), failure opens it for another cooldown,
 * cancellation frees the slot.
 *
 * Outcomes of calls admitted before the breaker last opened are stale: they are
 * ignored (pass the {@linkcode CircuitBreaker.generation} taken at admission), so a
 * burst of old timeouts cannot re-open a breaker that a probe has just closed.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../clock.ts";
 * const clock = new ManualClock();
 * const breaker = new CircuitBreaker({ threshold: 0.5, cooldownMs: 30_000, clock });
 * const permit = breaker.tryAcquire();
 * if (permit.admitted) breaker.onFailure(permit.probe);
 * breaker.dispose();
 * ```
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #clock: Clock;
  readonly #onStateChange: BreakerStateListener | undefined;
  readonly #minCalls: number;
  readonly #maxConsecutive: number;
  readonly #window: SlidingWindow;

  #state: BreakerState = "closed";
  #openUntil = 0;
  #probeInFlight = false;
  #consecutiveFailures = 0;
  #generation = 0;
  #timer: unknown = undefined;
  #disposed = false;

  constructor(options: CircuitBreakerOptions) {
    const { threshold, cooldownMs } = options;
    if (!(threshold > 0 && threshold <= 1)) {
      throw new RangeError(`breaker threshold must be in (0, 1], got ${threshold}`);
    }
    if (!(cooldownMs >= 0) || !Number.isFinite(cooldownMs)) {
      throw new RangeError(`breaker cooldownMs must be a finite number >= 0, got ${cooldownMs}`);
    }
    this.#threshold = threshold;
    this.#cooldownMs = cooldownMs;
    this.#clock = options.clock;
    this.#onStateChange = options.onStateChange;
    this.#minCalls = options.minCalls ?? 10;
    this.#maxConsecutive = options.maxConsecutiveFailures ?? 5;
    this.#window = new SlidingWindow(options.windowMs ?? 60_000, options.buckets ?? 60);
  }

  /**
   * Rebuilds a breaker from {@linkcode CircuitBreaker.toJSON} output. No transition
   * event is emitted for the restored state; an open breaker gets its timer back.
   */
  static fromJSON(snapshot: BreakerSnapshot, options: CircuitBreakerOptions): CircuitBreaker {
    const breaker = new CircuitBreaker(options);
    breaker.#restore(snapshot);
    return breaker;
  }

  /**
   * Increases each time the breaker closes after being open. Pass the value read at
   * admission to `onSuccess`/`onFailure` so late outcomes from before are ignored.
   */
  get generation(): number {
    return this.#generation;
  }

  /** The current state, moving open → half-open first if the cooldown is over. */
  state(): BreakerState {
    this.#refresh();
    return this.#state;
  }

  /** True when a call would be admitted: closed, or half-open with the probe slot free. */
  isAvailable(): boolean {
    this.#refresh();
    return this.#state === "closed" || (this.#state === "half_open" && !this.#probeInFlight);
  }

  /** Asks to make a call; when half-open, an admitted call holds the probe slot. */
  tryAcquire(): BreakerPermit {
    this.#refresh();
    if (this.#state === "closed") return ADMITTED;
    if (this.#state === "half_open" && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return PROBE;
    }
    return REJECTED;
  }

  /** Reports a successful call. */
  onSuccess(probe: boolean, generation?: number): void {
    this.#refresh();
    if (probe) {
      if (this.#state !== "half_open" || !this.#probeInFlight) return;
      this.#probeInFlight = false;
      this.#close();
      return;
    }
    if (!this.#counts(generation)) return;
    this.#consecutiveFailures = 0;
    this.#window.record(this.#clock.now(), false);
    // A success can complete the minimum call count while the ratio is at the
    // threshold (e.g. 5 failures out of 10 at threshold 0.5).
    if (this.#ratioExceeded()) this.#open();
  }

  /** Reports a failed call (transport error, timeout or 5xx, as the caller decides). */
  onFailure(probe: boolean, generation?: number): void {
    this.#refresh();
    if (probe) {
      if (this.#state !== "half_open" || !this.#probeInFlight) return;
      this.#probeInFlight = false;
      this.#open();
      return;
    }
    if (!this.#counts(generation)) return;
    this.#consecutiveFailures++;
    this.#window.record(this.#clock.now(), true);
    if (this.#consecutiveFailures >= this.#maxConsecutive || this.#ratioExceeded()) this.#open();
  }

  /** Reports a call that ended without an outcome; a cancelled probe frees the slot. */
  onCancel(probe: boolean): void {
    if (probe && this.#state === "half_open") this.#probeInFlight = false;
  }

  /** Milliseconds until an open breaker turns half-open; 0 when it is not open. */
  msUntilHalfOpen(): number {
    this.#refresh();
    return this.#state === "open" ? Math.max(0, this.#openUntil - this.#clock.now()) : 0;
  }

  /** The breaker as plain data (see {@linkcode CircuitBreaker.fromJSON}). */
  toJSON(): BreakerSnapshot {
    this.#refresh();
    return {
      state: this.#state,
      openUntil: this.#state === "open" ? this.#openUntil : 0,
      probeInFlight: this.#probeInFlight,
      consecutiveFailures: this.#consecutiveFailures,
      generation: this.#generation,
      window: this.#window.toJSON(),
    };
  }

  /**
   * Replaces the whole state with a snapshot (a Durable Object restarting). No
   * transition event is emitted; an open breaker gets its timer back.
   */
  restore(snapshot: BreakerSnapshot): void {
    this.#restore(snapshot);
  }

  /**
   * Cancels the half-open timer and silences the listener. The breaker still answers
   * (lazily) so selections made before disposal settle normally.
   */
  dispose(): void {
    this.#disposed = true;
    this.#cancelTimer();
  }

  /** Whether a non-probe outcome still describes the current closed period. */
  #counts(generation: number | undefined): boolean {
    return this.#state === "closed" &&
      (generation === undefined || generation === this.#generation);
  }

  #ratioExceeded(): boolean {
    const calls = this.#window.calls;
    return calls >= this.#minCalls && this.#window.failures / calls >= this.#threshold;
  }

  #refresh(): void {
    if (this.#state === "open" && this.#clock.now() >= this.#openUntil) {
      this.#cancelTimer();
      this.#transition("half_open");
    }
  }

  #open(): void {
    this.#openUntil = this.#clock.now() + this.#cooldownMs;
    this.#probeInFlight = false;
    this.#transition("open");
    this.#schedule();
  }

  #close(): void {
    // Counts reset: the new closed period judges the upstream afresh.
    this.#consecutiveFailures = 0;
    this.#window.reset();
    this.#generation++;
    this.#transition("closed");
  }

  #transition(to: BreakerState): void {
    const from = this.#state;
    this.#state = to;
    if (from !== to && !this.#disposed) this.#onStateChange?.(from, to);
  }

  #schedule(): void {
    this.#cancelTimer();
    if (this.#disposed) return;
    const delay = Math.max(0, this.#openUntil - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#state !== "open") return;
    // Real timers may fire a little early; wait out the remainder instead of
    // announcing a transition the state itself would not report yet.
    if (this.#clock.now() < this.#openUntil) this.#schedule();
    else this.#refresh();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #restore(s: BreakerSnapshot): void {
    this.#cancelTimer();
    this.#state = s.state;
    this.#openUntil = s.openUntil;
    this.#probeInFlight = s.state === "half_open" && s.probeInFlight;
    this.#consecutiveFailures = s.consecutiveFailures;
    this.#generation = s.generation;
    this.#window.restore(s.window);
    if (this.#state === "open") this.#schedule();
  }
}
