/**
 * Gauges brought up to date at scrape time.
 *
 * In-flight counts are kept by the pipeline as requests start and end. The breaker
 * state gauge follows state-change events; on runtimes whose state lives elsewhere
 * (Durable Objects on Workers) those events happen in another isolate, so the scrape
 * reads each breaker's state from the state store, which is the source of truth
 * everywhere.
 *
 * @module
 */

import { BREAKER_STATE_VALUE } from "../metrics/mod.ts";
import type { Gateway } from "../proxy/gateway.ts";

/** Sets `llmproxy_circuitbreaker_state` of every member with a breaker from the store. */
export async function refreshGauges(gateway: Gateway): Promise<void> {
  const groups = [...gateway.snapshot.groups.values()];
  const statuses = await Promise.all(groups.map((g) => g.state.status()));
  groups.forEach((g, i) => {
    for (const m of statuses[i]!) {
      if (m.breaker === "none") continue;
      gateway.metrics.breakerState.labels(g.config.name, m.upstream).set(
        BREAKER_STATE_VALUE[m.breaker],
      );
    }
  });
}
