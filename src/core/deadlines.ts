import type { Clock } from "./clock.ts";

/** A deadline to cancel with {@linkcode Deadlines.cancel}. */
export interface Deadline {
  readonly slot: number;
  readonly fire: () => void;
}

/**
 * Many deadlines on one clock timer: the per-attempt request deadline of every request
 * in flight without a `setTimeout`/`clearTimeout` pair each (about 4 µs per request on
 * Deno, bench/PROFILE.md "Round two"; also the Redis store's call timeouts).
 *
 * Deadlines are kept in slots of {@linkcode Deadlines.SLOT_MS}; one timer is armed for the
 * earliest slot. A deadline fires when its slot's time has come: never early, at most
 * one slot late. Since requests of one forward share a timeout, a new deadline almost
 * always falls after the armed slot and arms nothing: in steady traffic the timer is
 * re-armed once per timeout period, not per request. A cancelled deadline leaves its
 * slot (an empty slot is dropped), so the slots held are at most the deadlines pending.
 */
export class Deadlines {
  /** Slot width in ms: how late a deadline may fire. */
  static readonly SLOT_MS = 10;
  readonly #clock: Clock;
  readonly #slots = new Map<number, Set<Deadline>>();
  #armedSlot = Infinity;
  #timer: unknown;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `fire` once `ms` have passed, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline {
    const slot = Math.ceil((this.#clock.now() + Math.max(0, ms)) / Deadlines.SLOT_MS);
    const d: Deadline = { slot, fire };
    const set = this.#slots.get(slot);
    if (set === undefined) this.#slots.set(slot, new Set([d]));
    else set.add(d);
    if (slot < this.#armedSlot) this.#arm(slot);
    return d;
  }

  /** Cancels `d` (idempotent; a fired deadline stays fired). */
  cancel(d: Deadline): void {
    const set = this.#slots.get(d.slot);
    if (set === undefined || !set.delete(d)) return;
    if (set.size === 0) this.#slots.delete(d.slot);
  }

  /** Deadlines pending (tests, leak checks). */
  get size(): number {
    let n = 0;
    for (const set of this.#slots.values()) n += set.size;
    return n;
  }

  #arm(slot: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedSlot = slot;
    const ms = Math.max(0, slot * Deadlines.SLOT_MS - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => this.#due(), ms);
  }

  #due(): void {
    this.#timer = undefined;
    this.#armedSlot = Infinity;
    const now = this.#clock.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const [slot, set] of this.#slots) {
      if (slot * Deadlines.SLOT_MS <= now) {
        for (const d of set) due.push(d);
        this.#slots.delete(slot);
      } else if (slot < next) {
        next = slot;
      }
    }
    if (next !== Infinity) this.#arm(next);
    // A deadline's work (aborting a fetch) must not keep the others from firing.
    for (const d of due) {
      try {
        d.fire();
      } catch {
        // The callers' fire functions only abort; nothing to report.
      }
    }
  }
}
