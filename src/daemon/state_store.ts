/**
 * The daemon's state store (SPEC §12): local memory by default (the Gateway builds it),
 * or Redis with `state.store: redis`, shared by every daemon pointed at it.
 *
 * @module
 */

import { redisUrlForLogs } from "../core/config/redis_url.ts";
import type { StateConfig } from "../core/config/types.ts";
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
