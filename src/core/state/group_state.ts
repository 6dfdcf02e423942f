/**
 * The in-memory {@linkcode GroupState}: availability, balancing, breaker slots and
 * in-flight accounting of one group under one configuration snapshot.
 *
 * @module
 */

import type { Balancer, BalancerState, Member, MemberStats } from "../balance/mod.ts";
import type { Clock } from "../clock.ts";
import type { Strategy } from "../config/types.ts";
import type { MemberState } from "./member_state.ts";
import type {
  AttemptOutcome,
  GroupState,
  MemberStatus,
  Selection,
  SelectOptions,
  SelectResult,
  StateEvents,
} from "./types.ts";

/**
 * The {@linkcode SelectOptions} of a `select` argument: a bare set (the original
 * `select(exclude)` form) is the `exclude` option.
 */
export function selectOptions(arg: ReadonlySet<string> | SelectOptions | undefined): SelectOptions {
  if (arg === undefined) return NO_OPTIONS;
  return isExcludeSet(arg) ? { exclude: arg } : arg;
}

const NO_OPTIONS: SelectOptions = Object.freeze({});

/** Whether a `select` argument is the bare `exclude` set of the original signature. */
function isExcludeSet(arg: ReadonlySet<string> | SelectOptions): arg is ReadonlySet<string> {
  return typeof (arg as ReadonlySet<string>).has === "function";
}

/** A configured member under one snapshot: its weight now, its carried-over state. */
export class Slot implements Member {
  constructor(
    readonly name: string,
    readonly weight: number,
    readonly state: MemberState,
  ) {}
}

/**
 * One selection: the object handed to the caller (only `id`, `upstream` and `probe`
 * are public) doubles as the store's record of it, so selecting allocates once.
 */
export class SelectionTicket implements Selection {
  readonly id: number;
  readonly upstream: string;
  readonly probe: boolean;
  readonly #member: MemberState;
  readonly #generation: number;
  #settled = false;

  constructor(id: number, upstream: string, probe: boolean, member: MemberState, gen: number) {
    this.id = id;
    this.upstream = upstream;
    this.probe = probe;
    this.#member = member;
    this.#generation = gen;
  }

  /** Applies `outcome` once; later calls are ignored. */
  settle(outcome: AttemptOutcome, now: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#member.record(outcome, this.probe, this.#generation, now);
  }

  /** Settles as cancelled if still open, then gives back the in-flight slot. */
  release(now: number): void {
    this.settle(CANCELLED, now);
    const m = this.#member;
    if (m.inFlight > 0) m.inFlight--;
  }
}

const CANCELLED: AttemptOutcome = Object.freeze({ kind: "cancelled" });

/**
 * Everything of one group that outlives a configuration snapshot. Handles built for
 * successive snapshots share it, so a selection made on an old handle settles and
 * releases correctly whichever handle is asked.
 */
export class GroupRecord {
  readonly name: string;
  /** Member states by upstream name, as of the latest snapshot. */
  members: Map<string, MemberState> = new Map();
  /** Selections not yet released, by id. */
  readonly open: Map<number, SelectionTicket> = new Map();
  /** The handle of the latest snapshot (its balancer position carries over). */
  current: MemoryGroupState | undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Stops every member's breaker timer. */
  dispose(): void {
    for (const m of this.members.values()) m.dispose();
  }
}

/** What a {@linkcode MemoryGroupState} needs from its store. */
export interface GroupStateDeps {
  readonly record: GroupRecord;
  readonly strategy: Strategy;
  readonly slots: readonly Slot[];
  /** Builds the balancer; given the handle's stats source. */
  readonly balancer: (stats: { stats(member: Member): MemberStats }) => Balancer;
  readonly clock: Clock;
  readonly events?: StateEvents;
  /** Store-wide selection id source. */
  readonly nextId: () => number;
}

/** {@linkcode GroupState} over in-process state. All work is synchronous. */
export class MemoryGroupState implements GroupState {
  readonly strategy: Strategy;
  readonly #record: GroupRecord;
  readonly #slots: readonly Slot[];
  readonly #balancer: Balancer;
  readonly #clock: Clock;
  readonly #events: StateEvents | undefined;
  readonly #nextId: () => number;
  // Scratch lists reused by every select (safe: nothing awaits while they are filled).
  readonly #preferred: Slot[] = [];
  readonly #available: Slot[] = [];

  constructor(deps: GroupStateDeps) {
    this.strategy = deps.strategy;
    this.#record = deps.record;
    this.#slots = deps.slots;
    this.#clock = deps.clock;
    this.#events = deps.events;
    this.#nextId = deps.nextId;
    // Balancers only ever receive this handle's slots, whose state is the figures.
    this.#balancer = deps.balancer({ stats: (m) => (m as Slot).state });
  }

  /** The group's name. */
  get name(): string {
    return this.#record.name;
  }

  /** The balancer's position, for carry-over to the next snapshot. */
  balancerState(): BalancerState {
    return this.#balancer.toJSON();
  }

  select(options?: ReadonlySet<string> | SelectOptions): Promise<SelectResult> {
    return Promise.resolve(this.selectNow(options));
  }

  /** Synchronous {@linkcode select}. */
  selectNow(options?: ReadonlySet<string> | SelectOptions): SelectResult {
    // Unpacked without selectOptions(): the hot path takes a bare set and allocates once.
    let exclude: ReadonlySet<string> | undefined;
    let key: string | undefined;
    if (options !== undefined) {
      if (isExcludeSet(options)) exclude = options;
      else ({ exclude, key } = options);
    }
    const now = this.#clock.now();
    const preferred = this.#preferred;
    const available = this.#available;
    for (const slot of this.#slots) {
      if (!slot.state.isAvailable(now)) continue;
      available.push(slot);
      if (exclude === undefined || !exclude.has(slot.name)) preferred.push(slot);
    }
    // All available members already tried: retry on them rather than fail
    // (docs/behaviour.md#retries-and-failover).
    const pool = preferred.length > 0 ? preferred : available;
    const chosen = pool.length === 0
      ? undefined
      : this.#balancer.pick(pool, key) as Slot | undefined;
    preferred.length = 0;
    available.length = 0;
    if (chosen === undefined) return this.#refuse(now);

    const state = chosen.state;
    let probe = false;
    let generation = 0;
    if (state.breaker !== undefined) {
      // Cannot be refused: availability was checked in this same synchronous turn,
      // and time only ever makes a breaker more available (open → half-open).
      const permit = state.breaker.tryAcquire();
      if (!permit.admitted) return this.#refuse(now);
      probe = permit.probe;
      generation = state.breaker.generation;
    }
    state.inFlight++;
    const ticket = new SelectionTicket(this.#nextId(), chosen.name, probe, state, generation);
    this.#record.open.set(ticket.id, ticket);
    return { ok: true, selection: ticket };
  }

  settle(selection: Selection, outcome: AttemptOutcome): Promise<void> {
    this.settleNow(selection, outcome);
    return Promise.resolve();
  }

  /** Synchronous {@linkcode settle}. */
  settleNow(selection: Selection, outcome: AttemptOutcome): void {
    this.#record.open.get(selection.id)?.settle(outcome, this.#clock.now());
  }

  release(selection: Selection): Promise<void> {
    this.releaseNow(selection);
    return Promise.resolve();
  }

  /** Synchronous {@linkcode release}. */
  releaseNow(selection: Selection): void {
    const open = this.#record.open;
    const ticket = open.get(selection.id);
    if (ticket === undefined) return;
    open.delete(selection.id);
    ticket.release(this.#clock.now());
  }

  status(): Promise<readonly MemberStatus[]> {
    return Promise.resolve(this.#slots.map((slot): MemberStatus => {
      const s = slot.state;
      return {
        upstream: slot.name,
        breaker: s.breaker?.state() ?? "none",
        inFlight: s.inFlight,
        latencyMs: s.latencyMs,
        successRate: s.successRate,
      };
    }));
  }

  /**
   * No member available: say when the earliest one will be (docs/behaviour.md#availability, 503
   * Retry-After).
   */
  #refuse(now: number): SelectResult {
    let earliest = Number.POSITIVE_INFINITY;
    for (const slot of this.#slots) {
      const s = slot.state;
      if (s.breaker !== undefined && !s.breaker.isAvailable()) {
        this.#events?.breakerCall?.(this.#record.name, slot.name, "rejected");
      }
      const at = s.readyAt(now);
      if (at < earliest) earliest = at;
    }
    const wait = Number.isFinite(earliest) ? earliest - now : 0;
    return { ok: false, retryAfterMs: Math.max(1000, Math.ceil(wait / 1000) * 1000) };
  }
}
