import type { Config, ForwardConfig, GroupConfig, UpstreamConfig } from "../config/types.ts";
import { type Cidr, parseCidr } from "../net/cidr.ts";
import { Router } from "../routing/mod.ts";
import { type HashKeySpec, parseHashKey } from "../balance/hash/mod.ts";
import {
  type CompiledModelMap,
  compileModelMap,
  modelGlob,
  type ModelMatcher,
} from "../llm/mod.ts";
import type { GroupState, StateStore } from "../state/types.ts";
import { ClientIndex } from "./clients.ts";
import { authorizationFor } from "./headers.ts";
import type { Transport, TransportFactory } from "./transport.ts";

/** A compiled model routing rule. */
export interface ModelRule {
  readonly model: string;
  readonly matches: ModelMatcher;
  readonly group: string;
}

/** A forward with its compiled router. */
export interface ForwardRuntime {
  readonly config: ForwardConfig;
  readonly router: Router<string>;
  readonly trusted: readonly Cidr[];
  /** `model_routing`, tried before the router (docs/behaviour.md#model-routing). */
  readonly modelRules: readonly ModelRule[];
}

/** An upstream with what every request needs precomputed. */
export interface UpstreamRuntime {
  readonly config: UpstreamConfig;
  readonly url: URL;
  readonly authorization: string | null;
  /** `model_map`, compiled; undefined when the upstream has none. */
  readonly modelMap: CompiledModelMap | undefined;
}

/** A group with its shared state and outbound transport. */
export interface GroupRuntime {
  readonly config: GroupConfig;
  readonly state: GroupState;
  readonly transport: Transport;
  /** Fingerprint of `http_client`, to reuse the transport across snapshots. */
  readonly transportKey: string;
  /** Where the `hash` strategy's key comes from; undefined for other strategies. */
  readonly hashKey: HashKeySpec | undefined;
  /** Some member has a `model_map`: the request's model is needed per attempt. */
  readonly mapsModels: boolean;
}

/**
 * The runtime objects built from one configuration value. A request holds the snapshot
 * it started with (refcount) so a swap never changes what a running request sees, and
 * transports that a newer snapshot no longer uses are closed when the last request of
 * the old one is done.
 */
export class Snapshot {
  readonly config: Config;
  readonly forwards: ReadonlyMap<string, ForwardRuntime>;
  readonly groups: ReadonlyMap<string, GroupRuntime>;
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>;
  /** Clients by key digest (docs/behaviour.md#client-keys-and-limits). */
  readonly clients: ClientIndex;
  #refs = 0;
  #retired = false;
  #onDrained: (() => void) | undefined;

  constructor(
    config: Config,
    store: StateStore,
    transports: TransportFactory,
    previous?: Snapshot,
  ) {
    this.config = config;
    const upstreams = new Map<string, UpstreamRuntime>();
    const upstreamConfigs = new Map<string, UpstreamConfig>();
    for (const u of config.upstreams) {
      upstreamConfigs.set(u.name, u);
      upstreams.set(u.name, {
        config: u,
        url: new URL(u.url),
        authorization: authorizationFor(u.auth),
        modelMap: u.model_map ? compileModelMap(Object.entries(u.model_map)) : undefined,
      });
    }
    this.upstreams = upstreams;
    const groups = new Map<string, GroupRuntime>();
    for (const g of config.upstream_groups) {
      const transportKey = JSON.stringify(g.http_client);
      const old = previous?.groups.get(g.name);
      const transport = old && old.transportKey === transportKey ? old.transport : transports(g);
      const key = g.balance.strategy === "hash" && g.balance.hash_key !== undefined
        ? parseHashKey(g.balance.hash_key)
        : undefined;
      groups.set(g.name, {
        config: g,
        state: store.group(g, upstreamConfigs),
        transport,
        transportKey,
        hashKey: key?.ok ? key.spec : undefined,
        mapsModels: g.upstreams.some((m) => upstreams.get(m.name)?.modelMap !== undefined),
      });
    }
    this.groups = groups;
    store.retain(new Set(groups.keys()));
    const forwards = new Map<string, ForwardRuntime>();
    for (const f of config.http_server.forwards) {
      forwards.set(f.name, {
        config: f,
        router: new Router(f.routing.map((r) => ({ path: r.path, value: r.target_group }))),
        trusted: f.trusted_proxies.map((c) => parseCidr(c)).filter((c): c is Cidr => !!c),
        modelRules: f.model_routing.map((r) => ({
          model: r.model,
          matches: modelGlob(r.model),
          group: r.target_group,
        })),
      });
    }
    this.forwards = forwards;
    this.clients = new ClientIndex(config);
  }

  /** Marks a request as using this snapshot. */
  acquire(): void {
    this.#refs++;
  }

  /** Ends a request's use of this snapshot. */
  release(): void {
    this.#refs--;
    if (this.#refs === 0 && this.#retired) this.#drained();
  }

  /**
   * Called when a newer snapshot replaced this one; `onDrained` runs once no request
   * uses it any more.
   */
  retire(onDrained: () => void): void {
    this.#retired = true;
    this.#onDrained = onDrained;
    if (this.#refs === 0) this.#drained();
  }

  #drained(): void {
    const f = this.#onDrained;
    this.#onDrained = undefined;
    f?.();
  }

  /** Requests now using this snapshot. */
  get inUse(): number {
    return this.#refs;
  }
}
