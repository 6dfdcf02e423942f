/**
 * What the store knows about one member of one group: its breaker, its figures for
 * `response_aware`, its in-flight count and its Retry-After pause.
 *
 * @module
 */

import {
  ewma,
  INITIAL_LATENCY_MS,
  INITIAL_SUCCESS_RATE,
  type MemberStats,
} from "../balance/mod.ts";
import { type BreakerSnapshot, CircuitBreaker } from "../breaker/mod.ts";
import type { Clock } from "../clock.ts";
import type { UpstreamConfig } from "../config/types.ts";
import type { AttemptOutcome, StateEvents } from "./types.ts";

/** Longest Retry-After pause the store honours (docs/behaviour.md#availability). */
export const MAX_PAUSE_MS = 60_000;

/**
 * The upstream settings whose change makes a member start afresh: its `url` and its
 * `breaker` block. Weight, auth and headers may change without losing state.
 */
export function upstreamFingerprint(upstream: UpstreamConfig): string {
  const b = upstream.breaker;
  return JSON.stringify([upstream.url, b?.threshold ?? null, b?.cooldown ?? null]);
}

/** A member's state as plain data. */
export interface MemberSnapshot {
  readonly fingerprint: string;
  readonly inFlight: number;
  readonly latencyMs: number;
  readonly successRate: number;
  readonly pausedUntil: number;
  readonly breaker?: BreakerSnapshot;
}

/** The mutable state of one (group, upstream) pair; shared by every handle of the group. */
export class MemberState implements MemberStats {
  /** See {@linkcode upstreamFingerprint}. */
  readonly fingerprint: string;
  readonly group: string;
  readonly upstream: string;
  /** Present when the upstream configures `breaker`. */
  readonly breaker: CircuitBreaker | undefined;
  inFlight = 0;
  latencyMs: number = INITIAL_LATENCY_MS;
  successRate: number = INITIAL_SUCCESS_RATE;
  /** Latency samples taken (see `MemberStats.samples`). */
  samples = 0;
  /** Until when a Retry-After answer keeps the member unavailable (ms since epoch). */
  pausedUntil = 0;
  readonly #events: StateEvents | undefined;

  constructor(group: string, upstream: UpstreamConfig, clock: Clock, events?: StateEvents) {
    this.fingerprint = upstreamFingerprint(upstream);
    this.group = group;
    this.upstream = upstream.name;
    this.#events = events;
    const cfg = upstream.breaker;
    this.breaker = cfg === undefined ? undefined : new CircuitBreaker({
      threshold: cfg.threshold,
      cooldownMs: cfg.cooldown * 1000,
      clock,
      onStateChange: (from, to) => events?.breakerChange?.(group, upstream.name, from, to),
    });
  }

  /** Whether a balancer may choose this member at `now` (docs/behaviour.md#availability). */
  isAvailable(now: number): boolean {
    if (this.pausedUntil > now) return false;
    return this.breaker === undefined || this.breaker.isAvailable();
  }

  /**
   * Earliest time the member may be available again. A half-open breaker whose probe
   * is out gives no time: the probe may end at any moment, so it counts as now.
   */
  readyAt(now: number): number {
    let at = now;
    if (this.breaker !== undefined && !this.breaker.isAvailable()) {
      at = now + this.breaker.msUntilHalfOpen();
    }
    return this.pausedUntil > at ? this.pausedUntil : at;
  }

  /** Applies one attempt's outcome to breaker, figures and pause. */
  record(outcome: AttemptOutcome, probe: boolean, generation: number, now: number): void {
    const breaker = this.breaker;
    switch (outcome.kind) {
      case "success":
        if (breaker !== undefined) {
          this.#events?.breakerCall?.(this.group, this.upstream, "success");
          breaker.onSuccess(probe, generation);
        }
        this.successRate = ewma(this.successRate, 1);
        break;
      case "failure":
        if (breaker !== undefined) {
          this.#events?.breakerCall?.(this.group, this.upstream, "failure");
          breaker.onFailure(probe, generation);
        }
        this.successRate = ewma(this.successRate, 0);
        break;
      default:
        // Cancelled: nothing was learnt about the upstream, only the probe slot frees.
        breaker?.onCancel(probe);
    }
    const latency = outcome.latencyMs;
    if (latency !== undefined && latency >= 0 && Number.isFinite(latency)) {
      this.latencyMs = ewma(this.latencyMs, latency);
      this.samples++;
    }
    const pause = outcome.unavailableForMs;
    if (pause !== undefined && pause > 0) {
      const until = now + Math.min(pause, MAX_PAUSE_MS);
      if (until > this.pausedUntil) this.pausedUntil = until;
    }
  }

  /** The member as plain data. */
  toJSON(): MemberSnapshot {
    const base = {
      fingerprint: this.fingerprint,
      inFlight: this.inFlight,
      latencyMs: this.latencyMs,
      successRate: this.successRate,
      pausedUntil: this.pausedUntil,
    };
    return this.breaker === undefined ? base : { ...base, breaker: this.breaker.toJSON() };
  }

  /**
   * Takes over a snapshot of the same upstream settings (a Durable Object restarting):
   * breaker, figures and pause. In-flight counts are not restored: the selections they
   * counted belonged to the previous instance. A snapshot of other settings is ignored.
   */
  restore(snapshot: MemberSnapshot): void {
    if (snapshot.fingerprint !== this.fingerprint) return;
    this.latencyMs = snapshot.latencyMs;
    this.successRate = snapshot.successRate;
    if (snapshot.latencyMs !== INITIAL_LATENCY_MS) this.samples = Math.max(this.samples, 1);
    this.pausedUntil = snapshot.pausedUntil;
    if (snapshot.breaker !== undefined) this.breaker?.restore(snapshot.breaker);
  }

  /** Stops the breaker's timer; the member keeps answering for late settlements. */
  dispose(): void {
    this.breaker?.dispose();
  }
}
