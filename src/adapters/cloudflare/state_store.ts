/**
 * The worker side of the Durable Object state: a {@linkcode StateStore} whose calls are
 * RPCs to {@linkcode RateLimiterObject}, {@linkcode GroupStateObject} and
 * {@linkcode ClientLimiterObject}.
 *
 * Round trips per request: one for the rate limit (when the forward has one) and one
 * per attempt to choose a member; both are awaited because the answer decides what
 * happens. Settling an attempt (at response headers) and releasing it (at the end of
 * the body) are sent at once but not awaited, so they add nothing to the time to first
 * byte; the release waits for its settle, so the object sees them in order, and the
 * pipeline hands the release to `ctx.waitUntil` so it survives the response.
 *
 * Client limits (docs/behaviour.md#client-behaviour) cost one awaited round trip per request of a
 * limited client (the admission) and one when its answer ends (the settle).
 *
 * @module
 */

import type {
  ClientLimitsConfig,
  GroupConfig,
  RateLimitConfig,
  UpstreamConfig,
} from "../../core/config/types.ts";
import type { Logger } from "../../core/log/logger.ts";
import { MemoryClientLimiter } from "../../core/state/client_limiter.ts";
import type {
  AttemptOutcome,
  ClientAdmission,
  ClientLimiter,
  ClientReservation,
  ClientUsage,
  GroupState,
  MemberStatus,
  RateDecision,
  Selection,
  SelectOptions,
  SelectResult,
  StateStore,
} from "../../core/state/types.ts";
import { selectOptions } from "../../core/state/mod.ts";
import type { ClientLimiterObject } from "./client_object.ts";
import type { GroupStateObject, RateLimiterObject } from "./durable_objects.ts";
import type { DurableObjectId, DurableObjectNamespace } from "./types.ts";
import { fnv1a, type GroupSpec, rpc, type WireOutcome } from "./wire.ts";

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });

/** The bindings the store uses. */
export interface DurableStateBindings {
  readonly rateLimiter: DurableObjectNamespace<RateLimiterObject>;
  readonly groups: DurableObjectNamespace<GroupStateObject>;
  /**
   * One object per client name (`CLIENT_LIMITS`). Without it client limits are kept
   * per isolate (a warning says so).
   */
  readonly clients?: DurableObjectNamespace<ClientLimiterObject>;
}

/**
 * Ids are plain values and may be kept; stubs are I/O objects of the request that made
 * them, so a fresh one is taken for every call (cheap: no network until the call).
 */
class IdCache {
  readonly #ids = new Map<string, DurableObjectId>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(ns: { idFromName(name: string): DurableObjectId }, name: string): DurableObjectId {
    let id = this.#ids.get(name);
    if (id === undefined) {
      if (this.#ids.size >= this.#max) this.#ids.clear();
      id = ns.idFromName(name);
      this.#ids.set(name, id);
    }
    return id;
  }
}

/** A {@linkcode StateStore} over Durable Objects (see the module comment). */
export class DurableStateStore implements StateStore {
  readonly #bindings: DurableStateBindings;
  readonly #logger: Logger;
  readonly #rateIds = new IdCache(10_000);
  readonly #groupIds = new IdCache(1_000);
  /** Client limits (docs/behaviour.md#client-behaviour): one Durable Object per client. */
  readonly clients: ClientLimiter;

  constructor(bindings: DurableStateBindings, logger: Logger) {
    this.#bindings = bindings;
    this.#logger = logger;
    const ns = bindings.clients;
    if (ns !== undefined) {
      this.clients = new DurableClientLimiter(ns, logger);
    } else {
      logger.log(
        "warn",
        "Durable Object binding CLIENT_LIMITS missing: client limits are per isolate",
        {},
      );
      this.clients = new MemoryClientLimiter();
    }
  }

  /** One object per key (forward + client IP): no global hot spot. */
  async rateLimit(key: string, limit: RateLimitConfig): Promise<RateDecision> {
    const ns = this.#bindings.rateLimiter;
    try {
      return await rpc(ns.get(this.#rateIds.get(ns, `ratelimit\u0000${key}`)).take(limit));
    } catch (e) {
      // Fail open: an unreachable bucket must not take the proxy down with it.
      this.#logger.log("warn", "rate limit check failed; request allowed", {
        error: e instanceof Error ? e.message : String(e),
      });
      return ALLOWED;
    }
  }

  group(group: GroupConfig, upstreams: ReadonlyMap<string, UpstreamConfig>): GroupState {
    const spec: GroupSpec = {
      name: group.name,
      strategy: group.balance.strategy,
      members: group.upstreams.map((m) => ({ name: m.name, weight: m.weight })),
      upstreams: group.upstreams.map((m) => {
        const up = upstreams.get(m.name);
        if (up === undefined) {
          throw new Error(
            `group "${group.name}": member "${m.name}" is not among the configured upstreams`,
          );
        }
        return {
          name: m.name,
          url: fnv1a(up.url),
          ...(up.breaker ? { breaker: up.breaker } : {}),
        };
      }),
    };
    return new DurableGroupState(
      () => {
        const ns = this.#bindings.groups;
        return ns.get(this.#groupIds.get(ns, `group\u0000${group.name}`));
      },
      spec,
      this.#logger,
    );
  }

  retain(): void {
    // Group objects keep their state; one no longer used is simply never called again.
  }
}

/** A selection made by a group object, with the settle that the release waits for. */
class DurableSelection implements Selection {
  settling: Promise<void> | undefined;
  constructor(
    readonly id: number,
    readonly upstream: string,
    readonly probe: boolean,
    readonly epoch: string,
  ) {}
}

type GroupStub = ReturnType<DurableObjectNamespace<GroupStateObject>["get"]>;

/** {@linkcode GroupState} of one group under one configuration snapshot. */
class DurableGroupState implements GroupState {
  readonly #stub: () => GroupStub;
  readonly #spec: GroupSpec;
  readonly #key: string;
  readonly #logger: Logger;

  constructor(stub: () => GroupStub, spec: GroupSpec, logger: Logger) {
    this.#stub = stub;
    this.#spec = spec;
    this.#key = fnv1a(JSON.stringify(spec));
    this.#logger = logger;
  }

  async select(arg?: ReadonlySet<string> | SelectOptions): Promise<SelectResult> {
    const { exclude, key } = selectOptions(arg);
    const r = await rpc(
      this.#stub().select(this.#key, this.#spec, exclude ? [...exclude] : [], key),
    );
    if (!r.ok) return { ok: false, retryAfterMs: r.retryAfterMs };
    return { ok: true, selection: new DurableSelection(r.id, r.upstream, r.probe, r.epoch) };
  }

  settle(selection: Selection, outcome: AttemptOutcome): Promise<void> {
    const sel = selection as DurableSelection;
    if (sel.settling !== undefined) return Promise.resolve();
    const wire: WireOutcome = {
      kind: outcome.kind,
      ...(outcome.latencyMs !== undefined ? { latencyMs: outcome.latencyMs } : {}),
      ...(outcome.unavailableForMs !== undefined
        ? { unavailableForMs: outcome.unavailableForMs }
        : {}),
    };
    sel.settling = rpc(this.#stub().settle(sel.epoch, sel.id, wire)).catch((e) =>
      this.#lost("settle", e)
    );
    return Promise.resolve();
  }

  release(selection: Selection): Promise<void> {
    const sel = selection as DurableSelection;
    const stub = this.#stub();
    const send = () => rpc(stub.release(sel.epoch, sel.id)).catch((e) => this.#lost("release", e));
    return sel.settling === undefined ? send() : sel.settling.then(send);
  }

  status(): Promise<readonly MemberStatus[]> {
    return rpc(this.#stub().status(this.#key, this.#spec));
  }

  #lost(what: string, e: unknown): void {
    // The group object answers for itself (leases); the request carries on.
    this.#logger.log("warn", `group state ${what} failed`, {
      group: this.#spec.name,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Failed calls are logged at most this often (with how many were not). */
const CLIENT_WARN_EVERY_MS = 10_000;

/** A reservation made by a client object; settled at most once from this isolate. */
class DurableReservation implements ClientReservation {
  settled = false;
  constructor(readonly client: string, readonly id: string, readonly tokens: number) {}
}

/**
 * {@linkcode ClientLimiter} over {@linkcode ClientLimiterObject}s, one per client name.
 *
 * When a client object cannot be reached the request is admitted (fail open: the
 * limits' store must not take the proxy down with it) and a warning is logged, at most
 * every 10 s. Such a request's usage is still sent when it ends: the object records it
 * once (its id is not one of the object's), so the budget sees it if the object is back.
 */
export class DurableClientLimiter implements ClientLimiter {
  readonly #ns: DurableObjectNamespace<ClientLimiterObject>;
  readonly #logger: Logger;
  readonly #ids = new IdCache(10_000);
  /** Ids of fail-open reservations: unique to this isolate, foreign to every object. */
  readonly #localPrefix = `open-${crypto.randomUUID()}.`;
  #localSeq = 0;
  #lastWarnAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(ns: DurableObjectNamespace<ClientLimiterObject>, logger: Logger) {
    this.#ns = ns;
    this.#logger = logger;
  }

  async admit(
    client: string,
    limits: ClientLimitsConfig,
    estimate: number,
  ): Promise<ClientAdmission> {
    // Plain data only crosses the wire; the snapshot's object may carry more.
    const wire: ClientLimitsConfig = {
      ...(limits.requests_per_minute !== undefined
        ? { requests_per_minute: limits.requests_per_minute }
        : {}),
      ...(limits.tokens_per_minute !== undefined
        ? { tokens_per_minute: limits.tokens_per_minute }
        : {}),
      ...(limits.tokens_per_day !== undefined ? { tokens_per_day: limits.tokens_per_day } : {}),
    };
    try {
      const a = await rpc(this.#stub(client).admit(client, wire, estimate));
      if (!a.allowed) return { allowed: false, reason: a.reason, retryAfterMs: a.retryAfterMs };
      const r = a.reservation;
      return { allowed: true, reservation: new DurableReservation(r.client, r.id, r.tokens) };
    } catch (e) {
      this.#warn("client limits check failed; request allowed", client, e);
      const id = `${this.#localPrefix}${++this.#localSeq}`;
      const tokens = Number.isFinite(estimate) && estimate > 0 ? Math.ceil(estimate) : 0;
      return { allowed: true, reservation: new DurableReservation(client, id, tokens) };
    }
  }

  async settle(reservation: ClientReservation, usedTokens: number | undefined): Promise<void> {
    if (reservation instanceof DurableReservation) {
      if (reservation.settled) return;
      reservation.settled = true;
    }
    const { client, id, tokens } = reservation;
    try {
      await rpc(this.#stub(client).settle({ client, id, tokens }, usedTokens));
    } catch (e) {
      // The object's lease settles a reservation that never comes back.
      this.#warn("client limits settle failed", client, e);
    }
  }

  /** Rejects when the client's object cannot be reached (no figures rather than wrong ones). */
  async usage(client: string): Promise<ClientUsage> {
    const u = await rpc(this.#stub(client).usage(client));
    return {
      requests_last_minute: u.requests_last_minute,
      tokens_last_minute: u.tokens_last_minute,
      tokens_today: u.tokens_today,
    };
  }

  #stub(client: string) {
    return this.#ns.get(this.#ids.get(this.#ns, `client\u0000${client}`));
  }

  #warn(msg: string, client: string, e: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarnAt < CLIENT_WARN_EVERY_MS) {
      this.#suppressed++;
      return;
    }
    this.#lastWarnAt = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.log("warn", msg, {
      client_name: client,
      error: e instanceof Error ? e.message : String(e),
      ...(suppressed > 0 ? { suppressed } : {}),
    });
  }
}
