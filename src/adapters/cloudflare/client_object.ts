/**
 * {@linkcode ClientLimiterObject}: the Durable Object holding one client's limits
 * (docs/behaviour.md#client-behaviour) for every isolate.
 *
 * @module
 */

import { DurableObject } from "cloudflare:workers";
import { systemClock } from "../../core/clock.ts";
import type { ClientLimitsConfig } from "../../core/config/types.ts";
import { MemoryClientLimiter } from "../../core/state/client_limiter.ts";
import type { ClientSnapshot } from "../../core/state/client_state.ts";
import type { ClientAdmission, ClientReservation, ClientUsage } from "../../core/state/types.ts";
import type { DurableObjectState } from "./types.ts";

/** The client's state as stored. */
interface StoredClient {
  readonly client: string;
  readonly state: ClientSnapshot;
}

/**
 * How long after a change the state is written (coalesces the writes of a busy client;
 * what a restart can lose at most).
 */
export const CLIENT_PERSIST_DELAY_MS = 2_000;

/**
 * The limits of one client (one object per client name, so one client's traffic never
 * waits on another's). The core's {@linkcode MemoryClientLimiter} runs inside, so the
 * decisions are exactly those of the Deno and Node daemons; each call is one round
 * trip, applied in arrival order.
 *
 * The state (today's tokens, the minute window, the request bucket and the running
 * reservations) is written to storage by an alarm {@linkcode CLIENT_PERSIST_DELAY_MS}
 * after a change, and restored when the object starts again, so an eviction or a
 * restart keeps the budget (losing at most that much). Once it holds nothing (bucket
 * full, window empty, nothing running, and its UTC day over) the stored state is
 * deleted, so storage does not grow with the clients ever seen.
 */
export class ClientLimiterObject extends DurableObject {
  readonly #ctx: DurableObjectState;
  readonly #limiter = new MemoryClientLimiter({ maxClients: 16 });
  #client: string | undefined;
  #dirty = false;
  /** When the alarm is set for (undefined: none, or it is running). */
  #alarmAt: number | undefined;
  #inAlarm = false;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#ctx = ctx;
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<StoredClient>("client");
      if (saved !== undefined && typeof saved.client === "string") {
        this.#client = saved.client;
        this.#limiter.restore(saved.client, saved.state);
      }
      this.#alarmAt = (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  /** One admission decision (see {@linkcode MemoryClientLimiter}). */
  admit(client: string, limits: ClientLimitsConfig, estimate: number): ClientAdmission {
    this.#client = client;
    const a = this.#limiter.admitNow(client, limits, estimate);
    if (a.allowed) this.#changed();
    return a;
  }

  /** Ends a reservation (idempotent). */
  settle(reservation: ClientReservation, usedTokens: number | undefined): void {
    this.#client ??= reservation.client;
    this.#limiter.settleNow(reservation, usedTokens);
    this.#changed();
  }

  /** The client's figures. */
  usage(client: string): ClientUsage {
    return this.#limiter.usageNow(client);
  }

  /** Writes the state (or deletes it once it holds nothing); comes back to clean up. */
  async alarm(): Promise<void> {
    this.#alarmAt = undefined;
    this.#inAlarm = true;
    try {
      const client = this.#client;
      const snap = client === undefined ? undefined : this.#limiter.snapshot(client);
      if (client === undefined || snap === undefined) {
        this.#dirty = false;
        await this.#ctx.storage.deleteAll();
        return;
      }
      if (this.#dirty) {
        this.#dirty = false;
        await this.#ctx.storage.put<StoredClient>("client", { client, state: snap });
      }
      const now = systemClock.now();
      // Changed meanwhile: write again soon; else come back when it will hold nothing.
      const next = this.#dirty
        ? now + CLIENT_PERSIST_DELAY_MS
        : Math.max(this.#limiter.idleAt(client) ?? now, now + CLIENT_PERSIST_DELAY_MS);
      this.#alarmAt = next;
      await this.#ctx.storage.setAlarm(next);
    } finally {
      this.#inAlarm = false;
      // A change that came in while storage was busy, with no alarm set after it.
      if (this.#dirty && this.#alarmAt === undefined) this.#changed();
    }
  }

  /** Makes sure the state is written within the persist delay. */
  #changed(): void {
    this.#dirty = true;
    if (this.#inAlarm) return; // the running alarm sets the next one
    const due = systemClock.now() + CLIENT_PERSIST_DELAY_MS;
    if (this.#alarmAt !== undefined && this.#alarmAt <= due) return;
    this.#alarmAt = due;
    // Not awaited (the answer does not wait for storage); on failure the next change
    // tries again rather than leaving an unhandled rejection.
    this.#ctx.storage.setAlarm(due, { allowUnconfirmed: true })
      .catch(() => this.#alarmAt = undefined);
  }
}
