import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config/types.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { BREAKER_STATE_VALUE, ModelLabels, ProxyMetrics } from "../metrics/mod.ts";
import { MemoryStateStore } from "../state/mod.ts";
import type { BreakerState, ClientUsage, MemberStatus, StateStore } from "../state/types.ts";
import { errorResponse } from "./errors.ts";
import { proxyRequest } from "./pipeline.ts";
import { Snapshot } from "./snapshot.ts";
import type { TransportFactory } from "./transport.ts";
import type { ConnInfo, ProxyDeps } from "./deps.ts";
import { Deadlines } from "../deadlines.ts";

export type { ConnInfo, ProxyDeps };

/** Everything a gateway is built from; the adapters supply the runtime parts. */
export interface GatewayOptions {
  readonly config: Config;
  readonly transports: TransportFactory;
  /** Shared state; in memory unless given (Durable Objects on Workers). */
  readonly store?: StateStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly metrics?: ProxyMetrics;
  readonly random?: () => number;
  /**
   * Read token usage from answers (docs/behaviour.md#token-usage); on by default. Off only to
   * measure what it costs (the benchmark), since budgets and metrics depend on it.
   */
  readonly usageAccounting?: boolean;
}

/**
 * The runtime-agnostic proxy: holds the current configuration snapshot and turns a
 * client request on a forward into a response.
 */
export class Gateway implements ProxyDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  readonly store: StateStore;
  readonly random: () => number;
  /** The bounded `model` label values of the token metrics. */
  readonly modelLabels: ModelLabels = new ModelLabels();
  /** Whether answers are read for token usage. */
  readonly usageAccounting: boolean;
  readonly deadlines: Deadlines;
  readonly #transports: TransportFactory;
  #snapshot: Snapshot;

  constructor(options: GatewayOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new ProxyMetrics();
    this.random = options.random ?? Math.random;
    this.usageAccounting = options.usageAccounting ?? true;
    this.deadlines = new Deadlines(this.clock);
    this.#transports = options.transports;
    this.store = options.store ?? new MemoryStateStore({
      clock: this.clock,
      random: this.random,
      events: {
        breakerChange: (group, upstream, from, to) =>
          this.#onBreakerChange(group, upstream, from, to),
        breakerCall: (group, upstream, result) => {
          const url = this.#snapshot?.upstreams.get(upstream)?.config.url ?? "";
          this.metrics.breakerCalls.labels(group, upstream, url, result).inc();
        },
      },
    });
    this.#snapshot = new Snapshot(options.config, this.store, this.#transports);
    this.#initGauges(this.#snapshot);
  }

  /** The configuration now in force. */
  get config(): Config {
    return this.#snapshot.config;
  }

  /** The snapshot now in force (admin and status views). */
  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  /**
   * Swaps in a new, already validated configuration. Requests already running finish
   * on the snapshot they started with; state of unchanged upstreams carries over.
   */
  apply(config: Config): void {
    const old = this.#snapshot;
    const next = new Snapshot(config, this.store, this.#transports, old);
    this.#snapshot = next;
    this.#forgetGauges(old, next);
    this.#initGauges(next);
    const kept = new Set([...next.groups.values()].map((g) => g.transport));
    old.retire(() => {
      for (const g of old.groups.values()) {
        if (!kept.has(g.transport) && !this.#snapshotUses(g.transport)) g.transport.close();
      }
    });
  }

  #snapshotUses(t: unknown): boolean {
    for (const g of this.#snapshot.groups.values()) if (g.transport === t) return true;
    return false;
  }

  /** The live member states of every group now configured (the admin API's status). */
  async status(): Promise<ReadonlyMap<string, readonly MemberStatus[]>> {
    const groups = [...this.#snapshot.groups.values()];
    const statuses = await Promise.all(groups.map((g) => g.state.status()));
    return new Map(groups.map((g, i) => [g.config.name, statuses[i]!]));
  }

  /** What a client has used (the admin API's usage view). */
  clientUsage(client: string): Promise<ClientUsage> {
    return this.store.clients.usage(client);
  }

  /** Handles one client request arriving on the forward `forward`. */
  async handle(forward: string, request: Request, conn: ConnInfo): Promise<Response> {
    const snap = this.#snapshot;
    const fwd = snap.forwards.get(forward);
    if (!fwd) return errorResponse("not_found", `no forward named "${forward}"`);
    snap.acquire();
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      snap.release();
    };
    try {
      return await proxyRequest(this, snap, fwd, request, conn, done);
    } catch (e) {
      done();
      throw e;
    }
  }

  /**
   * Aborts every upstream exchange still running (the end of a shutdown drain): their
   * clients see the response end.
   */
  abortAll(reason: unknown): void {
    for (const ac of this.running) ac.abort(reason);
  }

  /** Abort controllers of the attempts now running (see {@linkcode abortAll}). */
  readonly running: Set<AbortController> = new Set();

  /** Closes every transport (process exit). */
  close(): void {
    for (const g of this.#snapshot.groups.values()) g.transport.close();
  }

  #onBreakerChange(group: string, upstream: string, from: BreakerState, to: BreakerState): void {
    const url = this.#snapshot?.upstreams.get(upstream)?.config.url ?? "";
    this.metrics.breakerStateChanges.labels(group, upstream, url, from, to).inc();
    this.metrics.breakerState.labels(group, upstream).set(BREAKER_STATE_VALUE[to]);
    this.logger.log(to === "open" ? "warn" : "info", "circuit breaker state change", {
      group,
      upstream,
      from,
      to,
    });
  }

  /**
   * Drops the gauge series of members that left their group (and the breaker gauge of
   * members whose upstream no longer has a breaker), so a stale value is not exported
   * forever after an admin change or a reload.
   */
  #forgetGauges(old: Snapshot, next: Snapshot): void {
    for (const g of old.groups.values()) {
      const group = g.config.name;
      const members = next.groups.get(group)?.config.upstreams;
      for (const m of g.config.upstreams) {
        if (!members?.some((x) => x.name === m.name)) this.metrics.forgetUpstream(group, m.name);
        else if (!next.upstreams.get(m.name)?.config.breaker) {
          this.metrics.breakerState.remove(group, m.name);
        }
      }
    }
  }

  #initGauges(snap: Snapshot): void {
    for (const g of snap.groups.values()) {
      for (const m of g.config.upstreams) {
        this.metrics.upstreamInFlight.labels(g.config.name, m.name).inc(0);
        if (snap.upstreams.get(m.name)?.config.breaker) {
          this.metrics.breakerState.labels(g.config.name, m.name).inc(0);
        }
      }
    }
  }
}
