/**
 * `GET /api/v1/stats`: everything the dashboard (`/ui`) shows, in one JSON answer the
 * page fetches every 2 s.
 *
 * - `history`: the last five minutes per second (requests, errors, rate-limited,
 *   latency p50/p95 per forward; tokens per model and per client), from
 *   {@linkcode TrafficHistory}, which the gateway feeds as each request ends;
 * - `groups`: per member, the breaker state and in-flight count from the state store
 *   (shared across instances or isolates where the store is), and totals since start
 *   read from the gateway's own metrics (attempts, errors by kind, time to first token);
 * - `config`: the configuration in force at a glance, secrets masked.
 *
 * Building it costs the request path nothing: the history is recorded anyway, and the
 * metrics are read back from their exposition text only when this endpoint is called.
 *
 * @module
 */

import { z } from "zod";
import { VERSION } from "../../../version.ts";
import type { Config } from "../../config/types.ts";
import { type HistorySnapshot, quantileMs, trafficHistory } from "../../metrics/history.ts";
import type { AdminHost } from "../host.ts";
import { maskUrl } from "../secrets.ts";
import { bucketCounts, samplesOf } from "./exposition.ts";

/** Where the dashboard's figures come from; the page says so. */
export interface StatsScope {
  /**
   * `process`: one daemon's figures. `isolate`: one Workers isolate's (traffic spreads
   * over many, each counting only what it served).
   */
  readonly figures: "process" | "isolate";
  /**
   * Where breaker state and in-flight counts live: `memory` (this process or isolate)
   * or e.g. `durable_objects` (shared by every isolate).
   */
  readonly sharedState?: string;
}

const UPSTREAM_ERROR_KINDS = ["unreachable", "timeout", "status_5xx", "circuit_open"] as const;

const series = z.array(z.number());
const nullableSeries = z.array(z.number().nullable());

const forwardHistory = z.object({
  name: z.string(),
  requests: series.meta({ description: "Requests ended in each second" }),
  errors: series.meta({
    description: "Answers with status ≥ 500 (the proxy's own included), or cut or timed out " +
      "mid-stream",
  }),
  rate_limited: series.meta({ description: "Requests the proxy refused with 429" }),
  p50_ms: nullableSeries.meta({ description: "Median duration over the 5 s ending there" }),
  p95_ms: nullableSeries.meta({ description: "95th percentile over the 5 s ending there" }),
  total: z.object({
    requests: z.number(),
    errors: z.number(),
    rate_limited: z.number(),
    p50_ms: z.number().nullable(),
    p95_ms: z.number().nullable(),
  }),
  rps_10s: z.number().meta({ description: "Requests per second over the last 10 s" }),
});

const tokenHistory = z.object({
  name: z.string(),
  input: series,
  output: series,
  last_minute: z.object({ input: z.number(), output: z.number() }),
  requests_last_minute: z.number().optional(),
});

const memberStats = z.object({
  upstream: z.string(),
  weight: z.number().int(),
  url: z.string().meta({ description: "Secrets masked" }),
  breaker: z.enum(["none", "closed", "open", "half_open"]),
  cooldown_s: z.number().nullable(),
  half_open_in_s: z.number().nullable().meta({
    description: "When open: at most this many seconds until half-open (counted from when " +
      "this endpoint first saw it open)",
  }),
  in_flight: z.number().int(),
  latency_ms: z.number().meta({ description: "EWMA of time to response headers" }),
  success_rate: z.number(),
  attempts: z.number().meta({ description: "Attempts sent since start" }),
  errors: z.record(z.string(), z.number()).meta({
    description: "Failed attempts since start by kind: unreachable, timeout, status_5xx, " +
      "circuit_open",
  }),
  ttft_p50_ms: z.number().nullable().meta({ description: "Time to first token, since start" }),
  ttft_p95_ms: z.number().nullable(),
});

/** zod schema of the `data` of `GET /api/v1/stats` (published in openapi.json). */
export const statsView = z.object({
  now_ms: z.number(),
  version: z.string(),
  scope: z.object({
    figures: z.enum(["process", "isolate"]),
    shared_state: z.string(),
    note: z.string(),
  }),
  history: z.object({
    start: z.number().meta({ description: "Epoch second of the first slot" }),
    seconds: z.number(),
    forwards: z.array(forwardHistory),
    models: z.array(tokenHistory),
    clients: z.array(tokenHistory),
  }),
  groups: z.array(z.object({
    name: z.string(),
    strategy: z.string(),
    members: z.array(memberStats),
  })),
  config: z.object({
    forwards: z.array(z.object({
      name: z.string(),
      listen: z.string(),
      default_group: z.string(),
      routes: z.array(z.object({ path: z.string(), target_group: z.string() })),
      model_routes: z.array(z.object({ model: z.string(), target_group: z.string() })),
      ratelimit: z.object({ per_second: z.number(), burst: z.number() }).nullable(),
      client_auth: z.string(),
    })),
    groups: z.array(z.object({
      name: z.string(),
      strategy: z.string(),
      retry_attempts: z.number().nullable(),
      members: z.array(z.object({ name: z.string(), weight: z.number() })),
    })),
    upstreams: z.array(z.object({
      name: z.string(),
      url: z.string(),
      auth: z.string(),
      breaker: z.object({ threshold: z.number(), cooldown: z.number() }).nullable(),
    })),
    clients: z.array(z.object({
      name: z.string(),
      groups: z.array(z.string()).nullable(),
      models: z.array(z.string()).nullable(),
      limits: z.record(z.string(), z.number()),
    })),
  }),
}).meta({ description: "The dashboard's figures" });

/** The `data` of `GET /api/v1/stats`. */
export type StatsView = z.infer<typeof statsView>;

/**
 * Builds the stats answer; keep one per admin app, as it remembers since when each
 * breaker it reported was open.
 */
export class StatsBuilder {
  readonly #gateway: AdminHost;
  readonly #scope: StatsScope;
  /** Per `group\0upstream`: the state last reported, and since when it was open. */
  readonly #breakers = new Map<string, { open: boolean; since: number }>();

  constructor(gateway: AdminHost, scope: StatsScope = { figures: "process" }) {
    this.#gateway = gateway;
    this.#scope = scope;
  }

  /** The figures now. */
  async build(): Promise<StatsView> {
    const gw = this.#gateway;
    const now = gw.clock.now();
    const config = gw.config;
    const history: HistorySnapshot = trafficHistory(gw).snapshot(now);

    const m = gw.metrics;
    const key = (l: Readonly<Record<string, string>>) =>
      l.group === undefined || l.upstream === undefined ? undefined : `${l.group}\0${l.upstream}`;
    const attempts = new Map<string, number>();
    for (const s of samplesOf(m.upstreamRequests)) {
      const k = key(s.labels);
      if (k !== undefined) attempts.set(k, (attempts.get(k) ?? 0) + s.value);
    }
    const errors = new Map<string, Record<string, number>>();
    for (const s of samplesOf(m.upstreamErrors)) {
      const k = key(s.labels);
      const kind = s.labels.error;
      if (k === undefined || kind === undefined) continue;
      const row = errors.get(k) ?? {};
      row[kind] = (row[kind] ?? 0) + s.value;
      errors.set(k, row);
    }
    const ttft = bucketCounts(samplesOf(m.timeToFirstToken), key);

    const upstreams = new Map(config.upstreams.map((u) => [u.name, u]));
    const seen = new Set<string>();
    const groups: StatsView["groups"] = [];
    const statuses = await gw.status();
    for (const g of config.upstream_groups) {
      const byName = new Map((statuses.get(g.name) ?? []).map((s) => [s.upstream, s]));
      const members: StatsView["groups"][number]["members"] = [];
      for (const member of g.upstreams) {
        const k = `${g.name}\0${member.name}`;
        const status = byName.get(member.name);
        const upstream = upstreams.get(member.name);
        const cooldown = upstream?.breaker?.cooldown ?? null;
        const breaker = status?.breaker ?? "none";
        let halfOpenIn: number | null = null;
        if (breaker === "open") {
          const prev = this.#breakers.get(k);
          const since = prev?.open ? prev.since : now;
          this.#breakers.set(k, { open: true, since });
          if (cooldown !== null) {
            halfOpenIn = Math.max(0, Math.ceil((since + cooldown * 1000 - now) / 1000));
          }
        } else {
          this.#breakers.set(k, { open: false, since: now });
        }
        seen.add(k);
        const counts = ttft.get(k);
        const kinds: Record<string, number> = {};
        for (const kind of UPSTREAM_ERROR_KINDS) kinds[kind] = errors.get(k)?.[kind] ?? 0;
        members.push({
          upstream: member.name,
          weight: member.weight,
          url: upstream ? maskUrl(upstream.url) : "",
          breaker,
          cooldown_s: cooldown,
          half_open_in_s: halfOpenIn,
          in_flight: status?.inFlight ?? 0,
          latency_ms: round(status?.latencyMs ?? 0, 1),
          success_rate: round(status?.successRate ?? 1, 4),
          attempts: attempts.get(k) ?? 0,
          errors: kinds,
          ttft_p50_ms: counts ? roundOrNull(quantileMs(counts, 0.5)) : null,
          ttft_p95_ms: counts ? roundOrNull(quantileMs(counts, 0.95)) : null,
        });
      }
      groups.push({ name: g.name, strategy: g.balance.strategy, members });
    }
    for (const k of this.#breakers.keys()) if (!seen.has(k)) this.#breakers.delete(k);

    return {
      now_ms: now,
      version: VERSION,
      scope: this.#scopeView(),
      history: {
        ...history,
        forwards: history.forwards.map((f) => ({
          ...f,
          p50_ms: f.p50_ms.map(roundOrNull),
          p95_ms: f.p95_ms.map(roundOrNull),
          total: {
            ...f.total,
            p50_ms: roundOrNull(f.total.p50_ms),
            p95_ms: roundOrNull(f.total.p95_ms),
          },
        })),
      },
      groups,
      config: configAtAGlance(config),
    };
  }

  #scopeView(): StatsView["scope"] {
    const { figures, sharedState = "memory" } = this.#scope;
    const shared = sharedState !== "memory";
    const note = figures === "isolate"
      ? "Rates, latencies, tokens and error counts are this Workers isolate's only: " +
        "traffic is spread over many isolates, each counting what it served. " +
        (shared
          ? `Breaker states and in-flight counts come from ${
            sharedState.replaceAll("_", " ")
          } and are shared by every isolate.`
          : "Breaker states and in-flight counts are per isolate too (no shared state bound).")
      : "Figures of this process: the last five minutes per second, totals since it started." +
        (shared ? ` Breaker states come from ${sharedState.replaceAll("_", " ")}.` : "");
    return { figures, shared_state: sharedState, note };
  }
}

/** The configuration in force, summarised, without any secret. */
export function configAtAGlance(config: Config): StatsView["config"] {
  return {
    forwards: config.http_server.forwards.map((f) => ({
      name: f.name,
      listen: f.address.includes(":") ? `[${f.address}]:${f.port}` : `${f.address}:${f.port}`,
      default_group: f.default_group,
      routes: f.routing.map((r) => ({ path: r.path, target_group: r.target_group })),
      model_routes: f.model_routing.map((r) => ({ model: r.model, target_group: r.target_group })),
      ratelimit: f.ratelimit
        ? { per_second: f.ratelimit.per_second, burst: f.ratelimit.burst }
        : null,
      client_auth: f.client_auth,
    })),
    groups: config.upstream_groups.map((g) => ({
      name: g.name,
      strategy: g.balance.strategy,
      retry_attempts: g.http_client.retry?.attempts ?? null,
      members: g.upstreams.map((m) => ({ name: m.name, weight: m.weight })),
    })),
    upstreams: config.upstreams.map((u) => ({
      name: u.name,
      url: maskUrl(u.url),
      auth: u.auth.type,
      breaker: u.breaker ? { threshold: u.breaker.threshold, cooldown: u.breaker.cooldown } : null,
    })),
    clients: config.clients.map((c) => ({
      name: c.name,
      groups: c.groups ? [...c.groups] : null,
      models: c.models ? [...c.models] : null,
      limits: Object.fromEntries(
        Object.entries(c.limits).filter((e): e is [string, number] => typeof e[1] === "number"),
      ),
    })),
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number | null): number | null {
  return n === null ? null : round(n, 1);
}
