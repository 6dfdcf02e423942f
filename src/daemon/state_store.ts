/**
 * The daemon's state store (docs/behaviour.md#shared-state): local memory by default (the Gateway
 * builds it), or Redis with `state.store: redis`, shared by every daemon pointed at it.
 *
 * @module
 */

import { toDraft } from "../core/admin/config_editor.ts";
import { validateConfig } from "../core/config/mod.ts";
import { redisUrlForLogs } from "../core/config/redis_url.ts";
import type { Config, StateConfig } from "../core/config/types.ts";
import type { Logger } from "../core/log/logger.ts";
import { BREAKER_STATE_VALUE, type ProxyMetrics } from "../core/metrics/proxy_metrics.ts";
import type { Gateway } from "../core/proxy/gateway.ts";
import type { StateEvents } from "../core/state/types.ts";
import type { RedisStateStore } from "../state_redis/mod.ts";

/** How a `state` block reads in logs: never the URL's credentials. */
export function describeState(state: StateConfig): Record<string, unknown> {
  const r = state.redis;
  return state.store === "redis" && r !== undefined
    ? { store: "redis", redis: redisUrlForLogs(r.url), prefix: r.prefix, timeout_ms: r.timeout }
    : { store: "memory" };
}

/** Whether two `state` blocks configure the same store (a change needs a restart). */
export function sameState(a: StateConfig, b: StateConfig): boolean {
  const key = (s: StateConfig) =>
    s.store === "redis"
      ? JSON.stringify([s.redis?.url, s.redis?.prefix, s.redis?.timeout])
      : "memory";
  return key(a) === key(b);
}

/**
 * The Redis store for `state`, started (it waits at most `state.redis.timeout` for the
 * first connection, then carries on deciding locally until Redis answers); undefined
 * for `store: memory`. `gateway` is read lazily: breaker events arrive once it exists.
 */
export async function openStateStore(
  state: StateConfig,
  logger: Logger,
  metrics: ProxyMetrics,
  gateway: () => Gateway | undefined,
): Promise<RedisStateStore | undefined> {
  const r = state.redis;
  if (state.store !== "redis" || r === undefined) return undefined;
  // Loaded only when used: the Redis client costs ~200 ms of start-up on Deno.
  const { RedisStateStore } = await import("../state_redis/mod.ts");
  const store = new RedisStateStore({
    url: r.url,
    prefix: r.prefix,
    timeoutMs: r.timeout,
    logger,
    metrics,
    events: breakerEvents(gateway),
  });
  const inUse = await store.start();
  logger.log("info", "state store", { ...describeState(state), connected: inUse });
  return store;
}

/**
 * The breaker metrics and logs the Gateway records for its own memory store, for a
 * store built outside it (the Gateway's handlers are private).
 */
function breakerEvents(gateway: () => Gateway | undefined): StateEvents {
  return {
    breakerChange(group, upstream, from, to) {
      const g = gateway();
      if (g === undefined) return;
      const url = g.snapshot.upstreams.get(upstream)?.config.url ?? "";
      g.metrics.breakerStateChanges.labels(group, upstream, url, from, to).inc();
      g.metrics.breakerState.labels(group, upstream).set(BREAKER_STATE_VALUE[to]);
      g.logger.log(to === "open" ? "warn" : "info", "circuit breaker state change", {
        group,
        upstream,
        from,
        to,
      });
    },
    breakerCall(group, upstream, result) {
      const g = gateway();
      if (g === undefined) return;
      const url = g.snapshot.upstreams.get(upstream)?.config.url ?? "";
      g.metrics.breakerCalls.labels(group, upstream, url, result).inc();
    },
  };
}

/** How the daemon applies configurations once admin changes are shared. */
export interface ConfigSharing {
  /** Applies a configuration read from the file (start, SIGHUP): this instance only. */
  applyFromFile(config: Config): void;
  /** The version of the stored configuration in force here (0: the file's). */
  readonly version: number;
}

/**
 * Shares admin API changes over the fleet (docs/behaviour.md#redis): every `gateway.apply` that does
 * not come from the file (that is, from the admin API's editor) is stored in Redis
 * under a new version and published; every instance applies a newer stored version
 * within a second (pub/sub, plus the store's periodic version check), and an instance
 * that starts while a stored configuration exists applies it at once.
 *
 * Rules: the stored configuration is the fleet's live one and wins over the file at
 * start; SIGHUP applies the file to that instance only (until the next admin change
 * anywhere); the `state` block is never stored (each instance keeps its own, and the
 * Redis URL with its password never leaves it); listeners (forward ports, admin
 * address) stay as bound from the file, and a stored configuration is applied with
 * this instance's forward addresses and ports (by forward name) and admin block. The
 * stored draft holds upstream credentials and client keys as the running configuration
 * does: Redis must be as private as the configuration file. Logs carry versions, never
 * the configuration.
 */
export async function shareAdminChanges(
  store: RedisStateStore,
  gateway: Gateway,
  logger: Logger,
): Promise<ConfigSharing> {
  const apply = gateway.apply.bind(gateway);
  let version = 0;
  // The stored record's life that `version` counts in (undefined: the file's config).
  let epoch: string | undefined;
  const isNew = (v: number, e: string) => e !== epoch || v > version;
  const adopted = (v: number, e: string) => {
    version = v;
    epoch = e;
  };
  let local = false;
  let fetching = false;
  let again = false;
  let lastPublished: string | undefined;
  const applyLocal = (config: Config) => {
    local = true;
    try {
      apply(config);
    } finally {
      local = false;
    }
  };

  const adopt = async (announced: number, announcedEpoch: string): Promise<void> => {
    if (!isNew(announced, announcedEpoch)) return;
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const stored = await store.loadConfig();
      if (stored === undefined || !isNew(stored.version, stored.epoch)) return;
      if (stored.json === lastPublished) {
        // Our own change, announced before its reply arrived.
        adopted(stored.version, stored.epoch);
        return;
      }
      let draft: Record<string, unknown>;
      try {
        draft = JSON.parse(stored.json) as Record<string, unknown>;
      } catch {
        logger.log("warn", "stored configuration unreadable, ignored", { version: stored.version });
        adopted(stored.version, stored.epoch);
        return;
      }
      const running = toDraft(gateway.config);
      draft.state = JSON.parse(JSON.stringify(gateway.config.state));
      keepListeners(draft, running as unknown as Record<string, unknown>);
      const result = validateConfig(draft);
      if (!result.ok) {
        logger.log("warn", "stored configuration invalid here, ignored", {
          version: stored.version,
          errors: result.errors.length,
        });
        adopted(stored.version, stored.epoch);
        return;
      }
      applyLocal(result.config);
      adopted(stored.version, stored.epoch);
      logger.log("info", "configuration changed on another instance", { version });
    } finally {
      fetching = false;
      if (again) {
        again = false;
        // Whatever came in meanwhile: the store is read again, whatever it holds now.
        void adopt(Number.MAX_SAFE_INTEGER, "");
      }
    }
  };

  gateway.apply = (config: Config): void => {
    apply(config);
    if (local) return;
    // An admin change: the fleet's from now on.
    const draft = toDraft(config) as unknown as Record<string, unknown>;
    delete draft.state;
    const json = JSON.stringify(draft);
    lastPublished = json;
    store.publishConfig(json).then(
      (put) => {
        if (isNew(put.version, put.epoch)) adopted(put.version, put.epoch);
        logger.log("info", "configuration change shared with the fleet", { version: put.version });
      },
      () => {
        logger.log("warn", "configuration change not shared: the state store is unavailable", {});
      },
    );
  };

  store.onConfigVersion((v, e) => void adopt(v, e));
  await adopt(Number.MAX_SAFE_INTEGER, "");
  return {
    applyFromFile: applyLocal,
    get version() {
      return version;
    },
  };
}

/**
 * Keeps this instance's listeners in a stored draft: addresses and ports of forwards it
 * also has (by name) and its admin block (instances of a fleet may bind differently).
 */
function keepListeners(draft: Record<string, unknown>, running: Record<string, unknown>): void {
  type Server = { forwards?: Record<string, unknown>[]; admin?: unknown };
  const mine = running.http_server as Server | undefined;
  const theirs = draft.http_server as Server | undefined;
  if (mine === undefined || theirs === undefined) return;
  theirs.admin = mine.admin;
  const byName = new Map((mine.forwards ?? []).map((f) => [f.name, f]));
  for (const f of theirs.forwards ?? []) {
    const local = byName.get(f.name);
    if (local === undefined) continue;
    f.address = local.address;
    f.port = local.port;
  }
}
