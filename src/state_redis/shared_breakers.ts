/**
 * Breakers and Retry-After pauses shared by a fleet (docs/behaviour.md#redis, issue 13 step 2).
 *
 * Each instance keeps its local {@linkcode MemoryGroupState} (balancing, in-flight
 * counts, latency figures and the breaker's failure window stay per instance). What
 * the fleet shares is a small record per member (group, upstream, fingerprint of its
 * `url` and `breaker` settings) in Redis:
 * - an opening: when a local breaker opens (its own failures, or a failed probe), one
 *   script stores the end of its cooldown and PUBLISHes it; every other instance puts
 *   its local breaker into the same open state at once (pub/sub), or at the latest at
 *   the next refresh (every 500 ms) if the message was missed;
 * - the half-open probe: a locally admitted probe must also win the fleet's single
 *   probe slot (`SET NX PX`, one script); an instance that loses gives its local probe
 *   back and holds the member off until the other probe has had its say (≤ 1 s, then
 *   it asks again);
 * - a closing: the probe's success deletes the opening and publishes it;
 * - a Retry-After pause (429/503): stored (the later end wins) and published.
 *
 * Round trips: a closed breaker costs none per request (selection and outcomes are
 * local); a transition costs one script, fire-and-forget; a half-open probe costs one
 * awaited script; the refresh is one script per 500 ms for all members together.
 * With Redis away, local breakers decide alone (as with `store: memory`).
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { GroupConfig } from "../core/config/types.ts";
import type { MemoryGroupState } from "../core/state/group_state.ts";
import type { MemberState } from "../core/state/member_state.ts";
import { MAX_PAUSE_MS } from "../core/state/member_state.ts";
import type { MemoryStateStore } from "../core/state/memory_store.ts";
import type {
  AttemptOutcome,
  BreakerState,
  GroupState,
  MemberStatus,
  Selection,
  SelectOptions,
  SelectResult,
  StateEvents,
} from "../core/state/types.ts";
import type { Reply } from "./link.ts";
import {
  BREAKER_CLOSE,
  BREAKER_OPEN,
  BREAKER_PROBE,
  BREAKER_PROBE_FREE,
  BREAKER_READ,
  eventsChannel,
  MEMBER_PAUSE,
  memberKey,
  type Script,
} from "./scripts.ts";

/** What the shared breakers need from the store. */
export interface SharedHost {
  /** Redis is in use (false: local decisions only). */
  readonly available: boolean;
  /** Runs a script; rejects (already counted as a store error) when Redis fails. */
  call(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply>;
}

/** Settings of {@linkcode SharedBreakers}. */
export interface SharedBreakersOptions {
  readonly host: SharedHost;
  readonly prefix: string;
  readonly clock: Clock;
  /** Observer of breaker events (metrics, logs): remote transitions are reported too. */
  readonly events?: StateEvents;
  /** How long a probe slot is held at most (default 30 s). */
  readonly probeLeaseMs?: number;
  /** Extra lifetime of a record past the end of its cooldown (default 120 s). */
  readonly keepMs?: number;
}

interface Tracked {
  readonly key: string;
  readonly state: MemberState;
}

/** Shared breaker records of the members of every group in use. */
export class SharedBreakers {
  readonly #host: SharedHost;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #downstream: StateEvents | undefined;
  readonly #leaseMs: number;
  readonly #keepMs: number;
  readonly #holder = `p${crypto.randomUUID().slice(0, 12)}`;
  /** Members by key, and keys by group. */
  readonly #byKey = new Map<string, Tracked>();
  readonly #byGroup = new Map<string, Map<string, Tracked>>();
  /** Members whose open state came from another instance. */
  readonly #remoteOpened = new Set<string>();
  /** When each member last changed here (refresh answers older than that are stale). */
  readonly #changedAt = new Map<string, number>();
  #local: MemoryStateStore | undefined;

  /** Events for the local store: reported downstream, and shared when they open or close. */
  readonly events: StateEvents;

  constructor(options: SharedBreakersOptions) {
    this.#host = options.host;
    this.#prefix = options.prefix;
    this.#clock = options.clock;
    this.#downstream = options.events;
    this.#leaseMs = options.probeLeaseMs ?? 30_000;
    this.#keepMs = options.keepMs ?? 120_000;
    this.events = {
      breakerChange: (group, upstream, from, to) => {
        this.#downstream?.breakerChange?.(group, upstream, from, to);
        this.#localChange(group, upstream, from, to);
      },
      breakerCall: (group, upstream, result) =>
        this.#downstream?.breakerCall?.(group, upstream, result),
    };
  }

  /** The local store whose members are shared (set once, right after it is built). */
  attach(local: MemoryStateStore): void {
    this.#local = local;
  }

  /** The channel the store subscribes to. */
  get channel(): string {
    return eventsChannel(this.#prefix);
  }

  /** Wraps a local group handle so its breakers and pauses are the fleet's. */
  wrap(group: GroupConfig, inner: MemoryGroupState): GroupState {
    const members = this.#local?.members(group.name);
    const tracked = new Map<string, Tracked>();
    for (const t of this.#byGroup.get(group.name)?.values() ?? []) this.#byKey.delete(t.key);
    for (const [upstream, state] of members ?? []) {
      const t = { key: memberKey(this.#prefix, group.name, upstream, state.fingerprint), state };
      tracked.set(upstream, t);
      this.#byKey.set(t.key, t);
    }
    this.#byGroup.set(group.name, tracked);
    return new SharedGroupState(this, inner, tracked);
  }

  /** Forgets groups no longer configured. */
  retain(groupNames: ReadonlySet<string>): void {
    for (const [name, tracked] of this.#byGroup) {
      if (groupNames.has(name)) continue;
      for (const t of tracked.values()) {
        this.#byKey.delete(t.key);
        this.#remoteOpened.delete(t.key);
        this.#changedAt.delete(t.key);
      }
      this.#byGroup.delete(name);
    }
  }

  /** A message of the events channel: `kind|key|value`. */
  onMessage(message: string): void {
    const first = message.indexOf("|");
    const last = message.lastIndexOf("|");
    if (first < 0 || last <= first) return;
    const kind = message.slice(0, first);
    const t = this.#byKey.get(message.slice(first + 1, last));
    if (t === undefined) return;
    const value = Number(message.slice(last + 1));
    // Refresh answers sent before this news are older than it.
    this.#changedAt.set(t.key, this.#clock.now());
    if (kind === "open") this.#applyOpen(t, value);
    else if (kind === "close") this.#applyClose(t);
    else if (kind === "pause") this.#applyPause(t, value);
  }

  /** Reads every tracked record (missed messages); one script. */
  async refresh(): Promise<void> {
    if (!this.#host.available || this.#byKey.size === 0) return;
    const list = [...this.#byKey.values()];
    const sentAt = this.#clock.now();
    let reply: Reply;
    try {
      reply = await this.#host.call(BREAKER_READ, list.map((t) => t.key), []);
    } catch {
      return;
    }
    if (!Array.isArray(reply)) return;
    list.forEach((t, i) => {
      if (this.#byKey.get(t.key) !== t) return;
      if ((this.#changedAt.get(t.key) ?? 0) >= sentAt) return;
      const u = Number(reply[2 * i]);
      const p = Number(reply[2 * i + 1]);
      if (u > 0) this.#applyOpen(t, u);
      else if (this.#remoteOpened.has(t.key)) this.#applyClose(t);
      if (p > 0) this.#applyPause(t, p);
    });
  }

  /** Asks for the fleet's probe slot: 0 when granted (or Redis away), else ms to wait. */
  async acquireProbe(t: Tracked): Promise<number> {
    if (!this.#host.available) return 0;
    try {
      const wait = await this.#host.call(
        BREAKER_PROBE,
        [t.key, `${t.key}:probe`],
        [Math.floor(this.#clock.now()), this.#holder, this.#leaseMs],
      );
      return Math.max(0, Number(wait));
    } catch {
      return 0;
    }
  }

  /** Gives back a probe slot that was not used (a cancelled probe). */
  freeProbe(t: Tracked): void {
    if (!this.#host.available) return;
    this.#host.call(BREAKER_PROBE_FREE, [`${t.key}:probe`], [this.#holder]).catch(() => {});
  }

  /** Another instance probes: keep the member open here for `ms` (then ask again). */
  holdOff(t: Tracked, ms: number): void {
    const b = t.state.breaker;
    if (b === undefined) return;
    const snap = b.toJSON();
    const until = this.#clock.now() + ms;
    if (snap.state === "closed" || (snap.state === "open" && snap.openUntil >= until)) return;
    b.restore({ ...snap, state: "open", openUntil: until, probeInFlight: false });
  }

  /** Shares a Retry-After pause. */
  pause(t: Tracked, pauseMs: number): void {
    if (!this.#host.available) return;
    const until = Math.floor(this.#clock.now() + Math.min(pauseMs, MAX_PAUSE_MS));
    this.#changedAt.set(t.key, this.#clock.now());
    this.#host.call(MEMBER_PAUSE, [t.key], [
      until,
      MAX_PAUSE_MS + this.#keepMs,
      this.channel,
      t.key,
    ])
      .catch(() => {});
  }

  #localChange(group: string, upstream: string, from: BreakerState, to: BreakerState): void {
    const t = this.#byGroup.get(group)?.get(upstream);
    const b = t?.state.breaker;
    if (t === undefined || b === undefined) return;
    if (to === "open") {
      this.#remoteOpened.delete(t.key);
      this.#changedAt.set(t.key, this.#clock.now());
      if (!this.#host.available) return;
      const until = Math.floor(b.toJSON().openUntil);
      const ttl = Math.max(1, until - this.#clock.now()) + this.#leaseMs + this.#keepMs;
      this.#host.call(BREAKER_OPEN, [t.key, `${t.key}:probe`], [
        until,
        Math.ceil(ttl),
        this.channel,
        t.key,
      ]).catch(() => {});
    } else if (to === "closed" && from === "half_open") {
      this.#remoteOpened.delete(t.key);
      this.#changedAt.set(t.key, this.#clock.now());
      if (!this.#host.available) return;
      this.#host.call(BREAKER_CLOSE, [t.key, `${t.key}:probe`], [this.channel, t.key])
        .catch(() => {});
    }
  }

  #applyOpen(t: Tracked, until: number): void {
    const b = t.state.breaker;
    if (b === undefined || !(until > 0)) return;
    const snap = b.toJSON();
    if (snap.state === "open" && snap.openUntil >= until) return;
    // Half-open here: past that end already (or our own probe is out and decides).
    if (snap.state === "half_open" && (snap.probeInFlight || until <= this.#clock.now())) return;
    b.restore({ ...snap, state: "open", openUntil: until, probeInFlight: false });
    this.#remoteOpened.add(t.key);
    const to = b.state();
    if (to !== snap.state) {
      this.#downstream?.breakerChange?.(t.state.group, t.state.upstream, snap.state, to);
    }
  }

  #applyClose(t: Tracked): void {
    this.#remoteOpened.delete(t.key);
    const b = t.state.breaker;
    if (b === undefined) return;
    const snap = b.toJSON();
    if (snap.state === "closed" || (snap.state === "half_open" && snap.probeInFlight)) return;
    b.restore({
      state: "closed",
      openUntil: 0,
      probeInFlight: false,
      consecutiveFailures: 0,
      // Outcomes of calls admitted before this closing are stale.
      generation: snap.generation + 1,
      window: {
        head: snap.window.head,
        calls: snap.window.calls.map(() => 0),
        failures: snap.window.failures.map(() => 0),
      },
    });
    this.#downstream?.breakerChange?.(t.state.group, t.state.upstream, snap.state, "closed");
  }

  #applyPause(t: Tracked, until: number): void {
    if (until > t.state.pausedUntil) t.state.pausedUntil = until;
  }
}

/** A local group handle whose probes and pauses go through the fleet. */
class SharedGroupState implements GroupState {
  readonly #shared: SharedBreakers;
  readonly #inner: MemoryGroupState;
  readonly #members: ReadonlyMap<string, Tracked>;
  /** Probe selections that hold the fleet's slot, by selection id. */
  readonly #probes = new Map<number, Tracked>();

  constructor(
    shared: SharedBreakers,
    inner: MemoryGroupState,
    members: ReadonlyMap<string, Tracked>,
  ) {
    this.#shared = shared;
    this.#inner = inner;
    this.#members = members;
  }

  async select(options?: ReadonlySet<string> | SelectOptions): Promise<SelectResult> {
    for (let i = 0; i < 4; i++) {
      const r = this.#inner.selectNow(options);
      if (!r.ok || !r.selection.probe) return r;
      const t = this.#members.get(r.selection.upstream);
      if (t === undefined) return r;
      const wait = await this.#shared.acquireProbe(t);
      if (wait === 0) {
        this.#probes.set(r.selection.id, t);
        return r;
      }
      // Another instance probes (or the breaker is still open elsewhere).
      this.#inner.releaseNow(r.selection);
      this.#shared.holdOff(t, Math.min(wait, 1_000));
    }
    const r = this.#inner.selectNow(options);
    if (r.ok && r.selection.probe) {
      this.#inner.releaseNow(r.selection);
      return { ok: false, retryAfterMs: 1_000 };
    }
    return r;
  }

  settle(selection: Selection, outcome: AttemptOutcome): Promise<void> {
    this.#inner.settleNow(selection, outcome);
    const probe = this.#probes.get(selection.id);
    if (probe !== undefined) {
      this.#probes.delete(selection.id);
      // Success and failure share themselves through the breaker's transition.
      if (outcome.kind === "cancelled") this.#shared.freeProbe(probe);
    }
    const pause = outcome.unavailableForMs;
    if (pause !== undefined && pause > 0) {
      const t = this.#members.get(selection.upstream);
      if (t !== undefined) this.#shared.pause(t, pause);
    }
    return Promise.resolve();
  }

  release(selection: Selection): Promise<void> {
    const probe = this.#probes.get(selection.id);
    if (probe !== undefined) {
      this.#probes.delete(selection.id);
      this.#shared.freeProbe(probe);
    }
    this.#inner.releaseNow(selection);
    return Promise.resolve();
  }

  status(): Promise<readonly MemberStatus[]> {
    return this.#inner.status();
  }
}
