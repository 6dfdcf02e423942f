/**
 * The Durable Objects that hold the state every isolate must share:
 *
 * - {@linkcode RateLimiterObject}: one object per rate-limit key (forward + client IP),
 *   a token bucket (docs/behaviour.md#rate-limits-per-ip).
 * - {@linkcode GroupStateObject}: one object per upstream group, running the same
 *   state machine as the in-memory store (breakers, balancer position, in-flight
 *   counts, latency and success figures, Retry-After pauses).
 * - {@linkcode ConfigObject}: one object for the whole worker, the configuration as
 *   changed through the admin API, with a version number isolates compare against.
 *
 * Every method is synchronous once the object has loaded its storage, so each call is
 * one round trip and calls are applied in the order they arrive.
 *
 * @module
 */

import { DurableObject } from "cloudflare:workers";
import { systemClock } from "../../core/clock.ts";
import type { GroupConfig, RateLimitConfig, UpstreamConfig } from "../../core/config/types.ts";
import { TokenBucket } from "../../core/ratelimit/token_bucket.ts";
import type { MemoryGroupState } from "../../core/state/group_state.ts";
import { MemoryStateStore } from "../../core/state/memory_store.ts";
import type { MemberSnapshot } from "../../core/state/member_state.ts";
import type { RateDecision } from "../../core/state/types.ts";
import type { DurableObjectState } from "./types.ts";
import type {
  ConfigRead,
  ConfigWrite,
  GroupSpec,
  WireOutcome,
  WireSelect,
  WireStatus,
} from "./wire.ts";

/** Bucket state as stored. */
interface StoredBucket {
  readonly tokens: number;
  readonly updatedAt: number;
}

/** How long after a change the bucket is written to storage (coalesces writes). */
const BUCKET_PERSIST_DELAY_MS = 30_000;

/**
 * A token bucket for one key. Decisions are made in memory; the bucket is written to
 * storage by an alarm at most every 30 s while it is in use, and deleted once it has
 * refilled (a full bucket equals a missing one), so an object that the runtime evicts
 * after idling starts again where it was, and storage does not grow with the number
 * of clients ever seen.
 */
export class RateLimiterObject extends DurableObject {
  readonly #ctx: DurableObjectState;
  #bucket: TokenBucket | undefined;
  #limit: RateLimitConfig | undefined;
  #alarmPending = false;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#ctx = ctx;
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<StoredBucket & { limit: RateLimitConfig }>("bucket");
      if (saved !== undefined) {
        this.#limit = saved.limit;
        this.#bucket = new TokenBucket(saved.limit, saved.updatedAt);
        this.#bucket.tokens = saved.tokens;
      }
      this.#alarmPending = (await ctx.storage.getAlarm()) !== null;
    });
  }

  /** Takes one token (docs/behaviour.md#rate-limits-per-ip). */
  take(limit: RateLimitConfig): RateDecision {
    const now = systemClock.now();
    const bucket = this.#bucket ??= new TokenBucket(limit, now);
    this.#limit = limit;
    const wait = bucket.take(limit, now);
    if (!this.#alarmPending) {
      this.#alarmPending = true;
      // Not awaited (the answer does not wait for storage); a failure is retried on the
      // next take rather than left as an unhandled rejection.
      this.#ctx.storage.setAlarm(now + BUCKET_PERSIST_DELAY_MS, { allowUnconfirmed: true })
        .catch(() => this.#alarmPending = false);
    }
    return { allowed: wait === 0, retryAfterMs: wait };
  }

  /** Writes the bucket, or deletes it once full; re-arms while it is not full. */
  async alarm(): Promise<void> {
    this.#alarmPending = false;
    const bucket = this.#bucket;
    const limit = this.#limit;
    if (bucket === undefined || limit === undefined) return;
    const now = systemClock.now();
    if (bucket.isFull(limit, now)) {
      await this.#ctx.storage.deleteAll();
      return;
    }
    await this.#ctx.storage.put("bucket", {
      tokens: bucket.tokens,
      updatedAt: bucket.updatedAt,
      limit,
    });
    // Come back when it will be full, to drop it then.
    const toFull = ((limit.burst - bucket.tokens) * 1000) / limit.per_second;
    this.#alarmPending = true;
    await this.#ctx.storage.setAlarm(now + Math.max(BUCKET_PERSIST_DELAY_MS, Math.ceil(toFull)));
  }
}

/** An open selection, for leases. */
interface OpenSelection {
  readonly at: number;
  settled: boolean;
}

/** A selection not settled within this long is given back (its isolate died). */
const UNSETTLED_LEASE_MS = 5 * 60_000;
/** A settled selection (a stream) not released within this long is given back. */
const UNRELEASED_LEASE_MS = 15 * 60_000;
/** Handles of this many recent group specs are kept (isolates on older configs). */
const MAX_HANDLES = 8;

/**
 * The state of one upstream group, shared by every isolate: the core's
 * {@linkcode MemoryStateStore} runs inside the object, so breakers, balancing and
 * figures behave exactly as on Deno and Node.
 *
 * Breaker states and pauses are written to storage (unconfirmed, off the response
 * path) whenever a breaker changes state, and restored when the object restarts, so an
 * open breaker stays open across an eviction. Balancer positions and figures live in
 * memory only.
 *
 * Isolates that die between select and release would leave in-flight slots (and a
 * half-open probe) taken for good; leases give them back.
 */
export class GroupStateObject extends DurableObject {
  readonly #ctx: DurableObjectState;
  readonly #epoch = crypto.randomUUID();
  readonly #store: MemoryStateStore;
  readonly #handles = new Map<string, MemoryGroupState>();
  readonly #open = new Map<number, OpenSelection>();
  #name = "";
  #current: MemoryGroupState | undefined;
  #saved: Record<string, MemberSnapshot> | undefined;
  #savePending = false;
  #lastSweep = 0;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#ctx = ctx;
    this.#store = new MemoryStateStore({
      events: { breakerChange: () => this.#scheduleSave() },
    });
    void ctx.blockConcurrencyWhile(async () => {
      this.#saved = await ctx.storage.get<Record<string, MemberSnapshot>>("members");
    });
  }

  /**
   * Chooses a member (docs/behaviour.md#strategies) under the caller's configuration of the group.
   */
  select(
    key: string,
    spec: GroupSpec,
    exclude: readonly string[],
    hashKey?: string,
  ): WireSelect {
    const now = systemClock.now();
    this.#sweep(now);
    const handle = this.#handle(key, spec);
    const r = handle.selectNow({
      ...(exclude.length > 0 ? { exclude: new Set(exclude) } : {}),
      ...(hashKey !== undefined ? { key: hashKey } : {}),
    });
    if (!r.ok) return { ok: false, retryAfterMs: r.retryAfterMs };
    const s = r.selection;
    this.#open.set(s.id, { at: now, settled: false });
    return { ok: true, id: s.id, upstream: s.upstream, probe: s.probe, epoch: this.#epoch };
  }

  /** Records an attempt's outcome; ignored for selections of a previous instance. */
  settle(epoch: string, id: number, outcome: WireOutcome): void {
    if (epoch !== this.#epoch) return;
    const open = this.#open.get(id);
    if (open === undefined || this.#current === undefined) return;
    open.settled = true;
    this.#current.settleNow({ id, upstream: "", probe: false }, outcome);
    if (outcome.unavailableForMs !== undefined) this.#scheduleSave();
  }

  /** Gives back the in-flight slot (settling as cancelled first if need be). */
  release(epoch: string, id: number): void {
    if (epoch !== this.#epoch) return;
    if (!this.#open.delete(id) || this.#current === undefined) return;
    this.#current.releaseNow({ id, upstream: "", probe: false });
  }

  /** Member states for the admin view. */
  status(key: string, spec: GroupSpec): Promise<WireStatus> {
    return this.#handle(key, spec).status();
  }

  #handle(key: string, spec: GroupSpec): MemoryGroupState {
    let handle = this.#handles.get(key);
    if (handle !== undefined) {
      this.#current ??= handle;
      return handle;
    }
    const upstreams = new Map<string, UpstreamConfig>();
    for (const u of spec.upstreams) {
      upstreams.set(u.name, {
        name: u.name,
        url: u.url,
        auth: { type: "none" },
        headers: [],
        weight: 1,
        ...(u.breaker ? { breaker: u.breaker } : {}),
      });
    }
    // Only name, members and strategy matter to the state; http_client stays behind.
    const group = {
      name: spec.name,
      upstreams: spec.members,
      balance: { strategy: spec.strategy },
    } as unknown as GroupConfig;
    handle = this.#store.group(group, upstreams);
    this.#name = spec.name;
    const saved = this.#saved;
    if (saved !== undefined) {
      // First build after a restart: take over what the previous instance stored.
      this.#saved = undefined;
      for (const [name, member] of this.#store.members(spec.name) ?? []) {
        const snap = saved[name];
        if (snap !== undefined) member.restore(snap);
      }
    }
    if (this.#handles.size >= MAX_HANDLES) {
      const oldest = this.#handles.keys().next().value;
      if (oldest !== undefined) this.#handles.delete(oldest);
    }
    this.#handles.set(key, handle);
    this.#current = handle;
    return handle;
  }

  /** Gives back selections whose isolate never came back (amortised: every 10 s). */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 10_000) return;
    this.#lastSweep = now;
    const current = this.#current;
    if (current === undefined) return;
    for (const [id, open] of this.#open) {
      const lease = open.settled ? UNRELEASED_LEASE_MS : UNSETTLED_LEASE_MS;
      if (now - open.at < lease) continue;
      this.#open.delete(id);
      current.releaseNow({ id, upstream: "", probe: false });
    }
  }

  /** Writes member snapshots once the current turn is over (coalesces transitions). */
  #scheduleSave(): void {
    if (this.#savePending) return;
    this.#savePending = true;
    queueMicrotask(() => {
      this.#savePending = false;
      const members = this.#store.members(this.#name);
      if (members === undefined) return;
      const out: Record<string, MemberSnapshot> = {};
      for (const [name, m] of members) out[name] = m.toJSON();
      // Best effort: the next transition writes again.
      this.#ctx.storage.put("members", out, { allowUnconfirmed: true }).catch(() => {});
    });
  }
}

/** The live configuration as stored. */
interface StoredConfig {
  /** Hash of the `LLMPROXY_CONFIG` text the change was made on. */
  readonly base: string;
  readonly version: number;
  readonly config: unknown;
}

/**
 * The configuration as changed through the admin API. It is tied to the
 * `LLMPROXY_CONFIG` text it was made on: after a deploy that changes that text, the
 * stored change no longer applies and the deployed configuration wins.
 */
export class ConfigObject extends DurableObject {
  readonly #ctx: DurableObjectState;
  #stored: StoredConfig | undefined;
  /** Versions only ever grow, even across bases, so (base, version) never repeats. */
  #counter = 0;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#ctx = ctx;
    void ctx.blockConcurrencyWhile(async () => {
      this.#stored = await ctx.storage.get<StoredConfig>("config");
      this.#counter = (await ctx.storage.get<number>("counter")) ?? this.#stored?.version ?? 0;
    });
  }

  /** The version on top of `base`, with the configuration when it is not `known`. */
  read(base: string, known: number): ConfigRead {
    const s = this.#stored;
    if (s === undefined || s.base !== base) return { version: 0 };
    return s.version === known ? { version: s.version } : { version: s.version, config: s.config };
  }

  /** Stores `config` if the version on top of `base` is still `expected`. */
  async write(base: string, expected: number, config: unknown): Promise<ConfigWrite> {
    const s = this.#stored;
    const current = s !== undefined && s.base === base ? s.version : 0;
    if (current !== expected) return { ok: false, version: current };
    const version = ++this.#counter;
    const next: StoredConfig = { base, version, config };
    this.#stored = next;
    // Confirmed writes: the admin answers only once the change is durable.
    await this.#ctx.storage.put("config", next);
    await this.#ctx.storage.put("counter", version);
    return { ok: true, version };
  }
}
