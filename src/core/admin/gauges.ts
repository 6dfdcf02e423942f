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
import type { AdminHost } from "./host.ts";

/** Sets `llmproxy_circuitbreaker_state` of every member with a breaker from the store. */
export async function refreshGauges(gateway: AdminHost): Promise<void> {
  for (const [group, members] of await gateway.status()) {
    for (const m of members) {
      if (m.breaker === "none") continue;
      gateway.metrics.breakerState.labels(group, m.upstream).set(
        BREAKER_STATE_VALUE[m.breaker],
      );
    }
  }
}
