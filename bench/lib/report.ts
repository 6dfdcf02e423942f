/**
 * Turns one run's measurements into the goals verdict, `RESULTS.md` and `results.json`.
 *
 * @module
 */
import type { IdleResult, LoadSample, SseResult } from "./measure.ts";
import type { RedisTally } from "./redis.ts";
import { FLEET_IDS, type Kind } from "./targets.ts";

/** Everything measured for one target. */
export interface TargetResult {
  id: string;
  label: string;
  kind: Kind;
  runtime: string;
  available: boolean;
  /** Why it was not measured. */
  reason?: string;
  detail?: string;
  /** The c64 and c1 runs, one per round; the best round is reported. */
  c64: LoadSample[];
  c1: LoadSample[];
  sse?: SseResult;
  idle?: IdleResult;
  /**
   * llmproxy only: what its `/metrics` counted after the load and SSE phases, to show
   * that usage accounting found the upstream's usage (on) or did not run (off).
   */
  usageSeen?: UsageSeen;
  /**
   * llmproxy with client keys (`-clients` targets) only: what its `/metrics` counted per
   * client after the load and SSE phases, to show every request went through the gate.
   */
  clientsSeen?: ClientsSeen;
  /** llmproxy only: what its `/metrics` counted after the load and SSE phases. */
  daemonSeen?: DaemonSeen;
  /** llmproxy only: its access log after the load and SSE phases. */
  accessLog?: { records: number; bytes: number };
  /** Errors during a phase, by phase. */
  phaseErrors: Record<string, string>;
}

/** Token usage as counted by an llmproxy target. */
export interface UsageSeen {
  /** Sum of `llmproxy_tokens_total` over all labels. */
  tokens: number;
  /** Sum of `llmproxy_usage_missing_total`: successful answers in which none was found. */
  missing: number;
}

/** Client admissions as counted by an llmproxy target with client keys. */
export interface ClientsSeen {
  /** Sum of `llmproxy_client_requests_total`: requests admitted under a client. */
  admitted: number;
  /** Sum of `llmproxy_client_rejected_total`: refusals of any reason. */
  rejected: number;
}

/** What an llmproxy target's `/metrics` counted, to show the config's parts did their job. */
export interface DaemonSeen {
  /** Sum of `llmproxy_http_requests_total`. */
  requests: number;
  /** Sum of `llmproxy_ratelimit_total`: 429s of the per-IP rate limit (0 unless it bound). */
  rateLimited: number;
  /** Sum of `llmproxy_upstream_retries_total`. */
  retries: number;
  /** Sum of `llmproxy_state_store_errors_total`: decisions made locally, Redis not answering. */
  storeErrors: number;
}

/** The run as a whole. */
export interface RunResult {
  date: string;
  settings: Record<string, unknown>;
  environment: Record<string, unknown>;
  targets: TargetResult[];
  goals: Goal[];
  context: Ratio[];
  /** Usage accounting on vs off, per runtime measured (absent in older results). */
  usageCost?: UsageCost[];
  /** Client keys and limits on vs off, per runtime measured (absent in older results). */
  clientCost?: ClientCost[];
  /** CPU µs/req of each llmproxy target and its ceiling (absent in older results). */
  cpu?: CpuRow[];
  /** State on Redis vs in memory (absent when the pair was not chosen). */
  fleet?: Fleet;
}

/** A goal of the brief and whether it was met in this run. */
export interface Goal {
  goal: string;
  target: string;
  measured: string;
  value: number | null;
  limit: string;
  met: boolean | null;
  note?: string;
}

/** A ratio reported for context, without a goal. */
export interface Ratio {
  what: string;
  value: number | null;
}

/** The round reported: the one with the most req/s. */
export function pick(samples: readonly LoadSample[]): LoadSample | undefined {
  if (samples.length === 0) return undefined;
  // Other processes on the machine only ever make a round slower, so the best round
  // (most requests served in the same time) is the closest to what the target can do.
  return [...samples].sort((a, b) => b.rps - a.rps)[0];
}

const ok = (x: number | undefined | null): x is number =>
  typeof x === "number" && Number.isFinite(x);

/** The goals of each runtime (issue "performance round two"), all from the same run. */
export const GOALS = {
  deno: {
    ceiling: 0.75,
    p50AddedMs: 0.3,
    sseFirstMs: 1,
    sseEventMs: 0.1,
    idleKiB: 60,
    portkey: 10,
  },
  node: { ceiling: 0.6, p50AddedMs: 0.3, sseFirstMs: 1, sseEventMs: 0.1, idleKiB: 50, portkey: 6 },
} as const;

/** Evaluates the goals from one run's results. */
export function evaluate(targets: readonly TargetResult[]): { goals: Goal[]; context: Ratio[] } {
  const by = (id: string) => targets.find((t) => t.id === id);
  const rps = (id: string) => pick(by(id)?.c64 ?? [])?.rps;
  const goals: Goal[] = [];
  const context: Ratio[] = [];
  for (const rt of ["deno", "node"] as const) {
    goals.push(...runtimeGoals(targets, rt));
    const own = rps(`llmproxy-${rt}`);
    const ng = rps("nginx");
    context.push({
      what: `llmproxy (${rt === "deno" ? "Deno" : "Node"}) req/s / nginx req/s`,
      value: ok(own) && ok(ng) ? own / ng : null,
    });
  }
  for (const rt of ["deno", "node"] as const) {
    const c = rps(`ceiling-${rt}`);
    const ng = rps("nginx");
    const pk = rps("portkey");
    context.push({
      what: `ceiling (${rt}) req/s / nginx req/s`,
      value: ok(c) && ok(ng) ? c / ng : null,
    });
    context.push({
      what: `ceiling (${rt}) req/s / Portkey req/s`,
      value: ok(c) && ok(pk) ? c / pk : null,
    });
  }
  return { goals, context };
}

/** The goals of `llmproxy-<rt>`, each against the same run's direct, ceiling or Portkey. */
function runtimeGoals(targets: readonly TargetResult[], rt: "deno" | "node"): Goal[] {
  const by = (id: string) => targets.find((t) => t.id === id);
  const rps = (id: string) => pick(by(id)?.c64 ?? [])?.rps;
  const p50c1 = (id: string) => {
    const s = pick(by(id)?.c1 ?? []);
    return s ? s.p50Us / 1000 : undefined;
  };
  const limits = GOALS[rt];
  const id = `llmproxy-${rt}`;
  const t = by(id);
  const direct = by("direct");
  const name = `llmproxy (${rt === "deno" ? "Deno" : "Node"})`;
  const why = t?.available ? undefined : (t?.reason ?? "not run");
  // Why a target a goal compares with has no figure.
  const absent = (other: string) => {
    const o = by(other);
    return !o ? `${other} not run` : o.available ? "not measured" : o.reason;
  };
  const goals: Goal[] = [];
  const add = (
    goal: string,
    measured: string,
    value: number | undefined,
    limit: string,
    pass: (v: number) => boolean,
    missing?: string,
  ) => {
    const has = ok(value);
    goals.push({
      goal,
      target: name,
      measured: has ? measured : "n/a",
      value: has ? value : null,
      limit,
      met: has ? pass(value) : null,
      ...(has ? {} : { note: why ?? missing ?? "not measured" }),
    });
  };
  const own = rps(id);
  const ceil = rps(`ceiling-${rt}`);
  const ratioCeil = ok(own) && ok(ceil) ? own / ceil : undefined;
  add(
    "req/s at 64 connections vs the same-runtime ceiling",
    `${pct(ratioCeil)} (${int(own)} / ${int(ceil)})`,
    ratioCeil,
    `≥ ${limits.ceiling * 100}%`,
    (v) => v >= limits.ceiling,
    absent(`ceiling-${rt}`),
  );
  const a = p50c1(id);
  const d = p50c1("direct");
  const added = ok(a) && ok(d) ? a - d : undefined;
  add(
    "added p50 at 1 connection vs direct",
    `${ms(added)} ms`,
    added,
    `≤ ${limits.p50AddedMs} ms`,
    (v) => v <= limits.p50AddedMs,
  );
  const s = t?.sse?.firstEventMedianMs;
  const sd = direct?.sse?.firstEventMedianMs;
  const first = ok(s) && ok(sd) ? s - sd : undefined;
  add(
    "first SSE event added vs direct",
    `${ms(first)} ms`,
    first,
    `≤ ${limits.sseFirstMs.toFixed(1)} ms`,
    (v) => v <= limits.sseFirstMs,
  );
  const e = t?.sse?.transitMedianMs;
  const ed = direct?.sse?.transitMedianMs;
  const later = ok(e) && ok(ed) ? e - ed : undefined;
  add(
    "each later SSE event added",
    `${ms(later)} ms`,
    later,
    `≤ ${limits.sseEventMs} ms`,
    (v) => v <= limits.sseEventMs,
  );
  const per = t?.idle?.perStreamKiB;
  add(
    "RSS per idle open stream",
    `${num(per, 1)} KiB`,
    per,
    `≤ ${limits.idleKiB} KiB`,
    (v) => v <= limits.idleKiB,
  );
  const pk = rps("portkey");
  const ratioPk = ok(own) && ok(pk) ? own / pk : undefined;
  add(
    "req/s vs Portkey gateway (same run)",
    `${times(ratioPk)} (${int(own)} / ${int(pk)})`,
    ratioPk,
    `≥ ${limits.portkey}×`,
    (v) => v >= limits.portkey,
    absent("portkey"),
  );
  return goals;
}

/** CPU per request of one llmproxy target next to its runtime's ceiling. */
export interface CpuRow {
  id: string;
  label: string;
  /** CPU µs/req of the target and of `ceiling-<runtime>` at 64 connections (best round). */
  cpuUsPerReq: number | null;
  ceilingCpuUsPerReq: number | null;
  /** The CPU of the processes it needs besides its own (redis-server), µs/req. */
  helperCpuUsPerReq: number | null;
}

/**
 * CPU per request of every llmproxy target measured, with its ceiling's: steadier than
 * req/s on a shared machine, since other load slows a run but costs it no CPU.
 */
export function cpuVsCeiling(targets: readonly TargetResult[]): CpuRow[] {
  const cpu = (t: TargetResult | undefined) => {
    const x = pick(t?.c64 ?? [])?.targetCpuUsPerReq;
    return ok(x) ? x : null;
  };
  return targets.filter((t) => t.kind === "llmproxy" && t.available).map((t) => {
    const helper = pick(t.c64)?.helperCpuUsPerReq;
    return {
      id: t.id,
      label: t.label,
      cpuUsPerReq: cpu(t),
      ceilingCpuUsPerReq: cpu(targets.find((c) => c.id === `ceiling-${t.runtime}`)),
      helperCpuUsPerReq: ok(helper) ? helper : null,
    };
  });
}

/** The CPU table of the goals section, as Markdown. */
export function cpuTable(rows: readonly CpuRow[]): string {
  const head = [
    "llmproxy target",
    "CPU µs/req",
    "its ceiling's CPU µs/req",
    "llmproxy ÷ ceiling",
  ];
  const out = [head, head.map(() => "---")];
  for (const r of rows) {
    const helper = ok(r.helperCpuUsPerReq)
      ? ` (+ ${num(r.helperCpuUsPerReq, 0)} redis-server)`
      : "";
    const ratio = ok(r.cpuUsPerReq) && ok(r.ceilingCpuUsPerReq) && r.ceilingCpuUsPerReq > 0
      ? r.cpuUsPerReq / r.ceilingCpuUsPerReq
      : null;
    out.push([
      r.label,
      num(r.cpuUsPerReq, 0) + helper,
      num(r.ceilingCpuUsPerReq, 0),
      times(ratio),
    ]);
  }
  return out.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The limits of the fleet rows. */
export const FLEET_LIMITS = { rpsRatio: 0.8, roundTrips: 1 } as const;

/** Scripts the daemon's 500 ms refresh may run more in one window than in the other. */
const REFRESH_SLACK = 2;

/** One command's share of a request, from `INFO commandstats`. */
export interface CommandShare {
  command: string;
  perRequest: number;
  /** Called inside the store's Lua scripts: counted by Redis, but no round trip. */
  inScript: boolean;
}

/** State on Redis (`llmproxy-deno-redis`) vs in memory (`llmproxy-deno-memory`), same run. */
export interface Fleet {
  /** Why a figure or verdict is missing. */
  note?: string;
  rpsRedis: number | null;
  rpsMemory: number | null;
  /** rpsRedis / rpsMemory. */
  ratio: number | null;
  /** p50 at 1 connection minus direct's, ms. */
  p50AddedRedisMs: number | null;
  p50AddedMemoryMs: number | null;
  cpuUsPerReqRedis: number | null;
  cpuUsPerReqMemory: number | null;
  redisServerCpuUsPerReq: number | null;
  /** Requests wrk counted in the 64-connection run the tally covers (the best round). */
  requests: number | null;
  /**
   * Commands the daemon sent per request (round trips), idle baseline subtracted: every
   * command of `INFO commandstats` that is not one the store's scripts run inside Redis.
   */
  roundTrips: number | null;
  /** Every command Redis ran per request, inside scripts too (`total_commands_processed`). */
  commands: number | null;
  /** Per command, largest first. */
  makeup: CommandShare[];
  /**
   * Per request, what the requests still in flight when wrk stops can add (one script
   * each, not matched by a counted request): connections ÷ requests. The verdict allows it.
   */
  inFlightSlack: number | null;
  rateLimitedRedis: number | null;
  rateLimitedMemory: number | null;
  storeErrors: number | null;
  ratioMet: boolean | null;
  roundTripsMet: boolean | null;
}

/** Per-request figures of a Redis tally: the load run minus the idle baseline, scaled. */
export function perRequest(
  t: RedisTally,
  requests: number,
): { roundTrips: number; commands: number; makeup: CommandShare[] } {
  // The baseline window is as long as the run give or take a few ms: scaled to it.
  const scale = t.idleS > 0 ? t.loadS / t.idleS : 1;
  const names = new Set([...Object.keys(t.load.calls), ...Object.keys(t.idle.calls)]);
  const makeup: CommandShare[] = [];
  for (const command of names) {
    const n = (t.load.calls[command] ?? 0) - (t.idle.calls[command] ?? 0) * scale;
    makeup.push({ command, perRequest: n / requests, inScript: t.inScripts.includes(command) });
  }
  makeup.sort((a, b) => b.perRequest - a.perRequest);
  const roundTrips = makeup.filter((m) => !m.inScript).reduce((s, m) => s + m.perRequest, 0);
  const commands = (t.load.total - t.idle.total * scale) / requests;
  return { roundTrips, commands, makeup };
}

/** The fleet pair's figures; undefined when neither target was chosen. */
export function fleet(targets: readonly TargetResult[]): Fleet | undefined {
  const r = targets.find((t) => t.id === FLEET_IDS.redis);
  const m = targets.find((t) => t.id === FLEET_IDS.memory);
  if (!r && !m) return undefined;
  const direct = pick(targets.find((t) => t.id === "direct")?.c1 ?? []);
  const val = (x: number | undefined) => ok(x) ? x : null;
  const added = (t: TargetResult | undefined) => {
    const s = pick(t?.c1 ?? []);
    return s && direct ? (s.p50Us - direct.p50Us) / 1000 : null;
  };
  const a = pick(r?.c64 ?? []);
  const b = pick(m?.c64 ?? []);
  const rpsRedis = val(a?.rps);
  const rpsMemory = val(b?.rps);
  const ratio = rpsRedis !== null && rpsMemory !== null && rpsMemory > 0
    ? rpsRedis / rpsMemory
    : null;
  const per = a?.redis && a.requests > 0 ? perRequest(a.redis, a.requests) : undefined;
  // Requests still in flight when wrk stops were admitted (one script each) but not
  // counted; and the idle window can hold one periodic refresh (one script) more or less
  // than the load run: both are slack, not round trips of a request.
  const slack = a && a.requests > 0 ? (a.connections + REFRESH_SLACK) / a.requests : null;
  const storeErrors = r?.daemonSeen?.storeErrors ?? null;
  const limited = (r?.daemonSeen?.rateLimited ?? 0) + (m?.daemonSeen?.rateLimited ?? 0);
  // Local decisions (Redis not answering in time) or 429s make a run cheaper than it is.
  const clean = (storeErrors ?? 0) === 0 && limited === 0;
  const notes = [
    !r || !m ? `run ${FLEET_IDS.redis} and ${FLEET_IDS.memory} together` : "",
    r && !r.available ? `${r.id}: ${r.reason ?? "not available"}` : "",
    m && !m.available ? `${m.id}: ${m.reason ?? "not available"}` : "",
    storeErrors ? `${storeErrors} state store calls failed (decided locally)` : "",
    limited ? `${limited} requests refused by the rate limit` : "",
  ].filter(Boolean);
  return {
    ...(notes.length ? { note: notes.join("; ") } : {}),
    rpsRedis,
    rpsMemory,
    ratio,
    p50AddedRedisMs: added(r),
    p50AddedMemoryMs: added(m),
    cpuUsPerReqRedis: val(a?.targetCpuUsPerReq),
    cpuUsPerReqMemory: val(b?.targetCpuUsPerReq),
    redisServerCpuUsPerReq: val(a?.helperCpuUsPerReq),
    requests: a?.requests ?? null,
    roundTrips: per?.roundTrips ?? null,
    commands: per?.commands ?? null,
    makeup: per?.makeup ?? [],
    inFlightSlack: slack,
    rateLimitedRedis: r?.daemonSeen?.rateLimited ?? null,
    rateLimitedMemory: m?.daemonSeen?.rateLimited ?? null,
    storeErrors,
    ratioMet: ratio === null || !clean ? null : ratio >= FLEET_LIMITS.rpsRatio,
    roundTripsMet: per === undefined || slack === null
      ? null
      : per.roundTrips <= FLEET_LIMITS.roundTrips + slack,
  };
}

/** The fleet tables, as Markdown: the figures of each, then the two goals. */
export function fleetTables(f: Fleet): string {
  const verdict = (x: boolean | null) =>
    x === null ? `n/a${f.note ? `: ${f.note}` : ""}` : x ? "yes" : "**NO**";
  const rows = [
    ["", "state on Redis", "state in memory"],
    ["---", "---", "---"],
    ["req/s @64", int(f.rpsRedis), int(f.rpsMemory)],
    ["added p50 @1 ms", ms(f.p50AddedRedisMs), ms(f.p50AddedMemoryMs)],
    ["CPU µs/req, daemon", num(f.cpuUsPerReqRedis, 0), num(f.cpuUsPerReqMemory, 0)],
    ["CPU µs/req, redis-server", num(f.redisServerCpuUsPerReq, 0), "—"],
    ["429s of the rate limit", int(f.rateLimitedRedis), int(f.rateLimitedMemory)],
    ["state store errors", int(f.storeErrors), "—"],
  ];
  const slack = ok(f.inFlightSlack)
    ? ` (+ ${f.inFlightSlack.toFixed(3)} in flight at the end)`
    : "";
  const goals = [
    ["goal", "measured", "limit", "met"],
    ["---", "---", "---", "---"],
    [
      "req/s, state on Redis vs in memory",
      `${pct(f.ratio)} (${int(f.rpsRedis)} / ${int(f.rpsMemory)})`,
      `≥ ${FLEET_LIMITS.rpsRatio * 100}%`,
      verdict(f.ratioMet),
    ],
    [
      "Redis round trips per request (rate limit + breaker-protected member)",
      num(f.roundTrips, 3),
      `≤ ${FLEET_LIMITS.roundTrips}${slack}`,
      verdict(f.roundTripsMet),
    ],
  ];
  const md = (t: string[][]) => t.map((r) => `| ${r.join(" | ")} |`).join("\n");
  return md(rows) + "\n\n" + md(goals);
}

/** What the round trips are made of, as a sentence. */
export function fleetMakeup(f: Fleet): string {
  // Below 0.0005 per request is the idle baseline's noise, not the request path.
  const shown = f.makeup.filter((m) => Math.abs(m.perRequest) >= 0.0005);
  const list = (inScript: boolean) =>
    shown.filter((m) => m.inScript === inScript)
      .map((m) => `\`${m.command}\` ${m.perRequest.toFixed(3)}`).join(", ") || "none";
  if (f.roundTrips === null) return "Redis commands per request: not measured.";
  return `Redis commands per request in that run (idle baseline subtracted): sent by the ` +
    `daemon: ${list(false)}; run inside its scripts: ${list(true)}; all together ` +
    `${num(f.commands, 3)} (\`total_commands_processed\`), over ${int(f.requests)} requests.`;
}

/** The fleet section of RESULTS.md. */
export function fleetSection(f: Fleet): string[] {
  return [
    "## Fleet: state on Redis vs in memory",
    "",
    fleetTables(f),
    "",
    fleetMakeup(f),
    "",
    "Both run the production config on Deno; one with `state: { store: redis, redis: { url } }`",
    "against a `redis-server` the benchmark starts (`--save '' --appendonly no`, 127.0.0.1), the",
    "other with `state: { store: memory }`. Round trips are counted by Redis itself: `INFO",
    "commandstats` and `INFO stats` before and after the 64-connection run of the best round,",
    "minus the same over an idle window of the same length just before its warm-up (the daemon",
    "reads breakers and the configuration version every 500 ms and holds a pub/sub connection),",
    "divided by the requests wrk counted. Redis counts the commands a Lua script runs as",
    "commands too; they cost no round trip, so the round trips are the commands sent by the",
    "daemon (those no script of src/state_redis/scripts.ts calls). The requests still in",
    "flight when wrk stops were admitted (one script each) but not counted, and the idle",
    "window may hold one refresh more or less than the load run, so the verdict allows",
    "(connections + 2) ÷ requests more. `--rounds=3` or more for a verdict.",
  ];
}

/** The cost of usage accounting on one runtime: llmproxy with it on vs off, same run. */
export interface UsageCost {
  runtime: "deno" | "node";
  /** Why a figure is missing (a target not run or not available). */
  note?: string;
  rpsOn: number | null;
  rpsOff: number | null;
  /** rpsOn / rpsOff − 1: negative when accounting costs throughput. */
  rpsChange: number | null;
  cpuUsPerReqOn: number | null;
  cpuUsPerReqOff: number | null;
  /** Per-event added delay vs direct (median transit − direct's), ms. */
  sseAddedOnMs: number | null;
  sseAddedOffMs: number | null;
  /** What accounting adds per SSE event: median transit on − off, ms. */
  ssePerEventCostMs: number | null;
  /** Measured SSE streams whose final usage event reached the client, on / off. */
  usageEventsOn: number | null;
  usageEventsOff: number | null;
  sseRuns: number | null;
  tokensOn: number | null;
  tokensOff: number | null;
  missingOn: number | null;
  /** ≤ 5% fewer req/s with it on; null when not measured or when nothing was counted. */
  rpsMet: boolean | null;
  /** ≤ 0.1 ms added per SSE event; null likewise. */
  sseMet: boolean | null;
}

/** The limits of the usage accounting cost. */
export const USAGE_LIMITS = { rpsDrop: 0.05, ssePerEventMs: 0.1 } as const;

/**
 * Usage accounting on (`llmproxy-<rt>`) vs off (`llmproxy-<rt>-nousage`), for each runtime
 * whose `-nousage` target was chosen.
 */
export function usageCost(targets: readonly TargetResult[]): UsageCost[] {
  const by = (id: string) => targets.find((t) => t.id === id);
  const direct = by("direct");
  const out: UsageCost[] = [];
  for (const rt of ["deno", "node"] as const) {
    const on = by(`llmproxy-${rt}`);
    const off = by(`llmproxy-${rt}-nousage`);
    if (!off) continue;
    if (!on) {
      out.push(empty(rt, `run llmproxy-${rt} and llmproxy-${rt}-nousage together`));
      continue;
    }
    if (!on.available || !off.available) {
      out.push(empty(rt, (!on.available ? on.reason : off.reason) ?? "not available"));
      continue;
    }
    const a = pick(on.c64);
    const b = pick(off.c64);
    const val = (x: number | undefined) => ok(x) ? x : null;
    const rpsOn = val(a?.rps);
    const rpsOff = val(b?.rps);
    const rpsChange = rpsOn !== null && rpsOff !== null && rpsOff > 0 ? rpsOn / rpsOff - 1 : null;
    const tOn = on.sse?.transitMedianMs;
    const tOff = off.sse?.transitMedianMs;
    const tDirect = direct?.sse?.transitMedianMs;
    const sseCost = ok(tOn) && ok(tOff) ? tOn - tOff : null;
    // Nothing counted with it on: the upstream's usage was not found, so no verdict.
    const counted = on.usageSeen !== undefined && on.usageSeen.tokens > 0;
    out.push({
      runtime: rt,
      rpsOn,
      rpsOff,
      rpsChange,
      cpuUsPerReqOn: val(a?.targetCpuUsPerReq),
      cpuUsPerReqOff: val(b?.targetCpuUsPerReq),
      sseAddedOnMs: ok(tOn) && ok(tDirect) ? tOn - tDirect : null,
      sseAddedOffMs: ok(tOff) && ok(tDirect) ? tOff - tDirect : null,
      ssePerEventCostMs: sseCost,
      usageEventsOn: val(on.sse?.usageEvents),
      usageEventsOff: val(off.sse?.usageEvents),
      sseRuns: on.sse?.runs ?? null,
      tokensOn: on.usageSeen?.tokens ?? null,
      tokensOff: off.usageSeen?.tokens ?? null,
      missingOn: on.usageSeen?.missing ?? null,
      rpsMet: rpsChange === null || !counted ? null : rpsChange >= -USAGE_LIMITS.rpsDrop,
      sseMet: sseCost === null || !counted ? null : sseCost <= USAGE_LIMITS.ssePerEventMs,
      ...(counted ? {} : { note: "no tokens counted with accounting on" }),
    });
  }
  return out;
}

function empty(runtime: "deno" | "node", note: string): UsageCost {
  return {
    runtime,
    note,
    rpsOn: null,
    rpsOff: null,
    rpsChange: null,
    cpuUsPerReqOn: null,
    cpuUsPerReqOff: null,
    sseAddedOnMs: null,
    sseAddedOffMs: null,
    ssePerEventCostMs: null,
    usageEventsOn: null,
    usageEventsOff: null,
    sseRuns: null,
    tokensOn: null,
    tokensOff: null,
    missingOn: null,
    rpsMet: null,
    sseMet: null,
  };
}

/** The cost of client keys and limits on one runtime: `llmproxy-<rt>-clients` vs plain. */
export interface ClientCost {
  runtime: "deno" | "node";
  /** Why a figure or the verdict is missing. */
  note?: string;
  /** req/s at 64 connections with client keys and limits on / without clients. */
  rpsOn: number | null;
  rpsOff: number | null;
  /** rpsOn / rpsOff − 1: negative when the gate costs throughput. */
  rpsChange: number | null;
  cpuUsPerReqOn: number | null;
  cpuUsPerReqOff: number | null;
  /** p50 at 1 connection, ms. */
  p50c1OnMs: number | null;
  p50c1OffMs: number | null;
  /** Non-2xx answers and socket errors in the 64-connection run with clients on. */
  errorsOn: number | null;
  admitted: number | null;
  rejected: number | null;
  /** ≤ 5% fewer req/s with them on; null when not measured or not every request passed. */
  rpsMet: boolean | null;
}

/** The limit of the client keys cost. */
export const CLIENT_LIMITS_COST = { rpsDrop: 0.05 } as const;

/**
 * Client keys and limits on (`llmproxy-<rt>-clients`) vs the same configuration without
 * clients (`llmproxy-<rt>`), for each runtime whose `-clients` target was chosen.
 */
export function clientCost(targets: readonly TargetResult[]): ClientCost[] {
  const by = (id: string) => targets.find((t) => t.id === id);
  const out: ClientCost[] = [];
  for (const rt of ["deno", "node"] as const) {
    const on = by(`llmproxy-${rt}-clients`);
    const off = by(`llmproxy-${rt}`);
    if (!on) continue;
    const base: ClientCost = {
      runtime: rt,
      rpsOn: null,
      rpsOff: null,
      rpsChange: null,
      cpuUsPerReqOn: null,
      cpuUsPerReqOff: null,
      p50c1OnMs: null,
      p50c1OffMs: null,
      errorsOn: null,
      admitted: on.clientsSeen?.admitted ?? null,
      rejected: on.clientsSeen?.rejected ?? null,
      rpsMet: null,
    };
    if (!off) {
      out.push({ ...base, note: `run llmproxy-${rt} and llmproxy-${rt}-clients together` });
      continue;
    }
    if (!on.available || !off.available) {
      out.push({ ...base, note: (!on.available ? on.reason : off.reason) ?? "not available" });
      continue;
    }
    const a = pick(on.c64);
    const b = pick(off.c64);
    const a1 = pick(on.c1);
    const b1 = pick(off.c1);
    const val = (x: number | undefined) => ok(x) ? x : null;
    const rpsOn = val(a?.rps);
    const rpsOff = val(b?.rps);
    const rpsChange = rpsOn !== null && rpsOff !== null && rpsOff > 0 ? rpsOn / rpsOff - 1 : null;
    // Refusals or errors would make the "on" run cheaper than it is: no verdict then.
    const clean = a !== undefined && a.errors === 0 && (on.clientsSeen?.rejected ?? 1) === 0 &&
      (on.clientsSeen?.admitted ?? 0) > 0;
    out.push({
      ...base,
      rpsOn,
      rpsOff,
      rpsChange,
      cpuUsPerReqOn: val(a?.targetCpuUsPerReq),
      cpuUsPerReqOff: val(b?.targetCpuUsPerReq),
      p50c1OnMs: a1 ? a1.p50Us / 1000 : null,
      p50c1OffMs: b1 ? b1.p50Us / 1000 : null,
      errorsOn: a?.errors ?? null,
      rpsMet: rpsChange === null || !clean ? null : rpsChange >= -CLIENT_LIMITS_COST.rpsDrop,
      ...(clean ? {} : { note: "requests refused or failed with clients on, or none admitted" }),
    });
  }
  return out;
}

/** The "client keys and limits cost" table, as Markdown. */
export function clientCostTable(rows: readonly ClientCost[]): string {
  const head = [
    "llmproxy",
    "req/s @64 clients on / off",
    "req/s on vs off",
    "CPU µs/req on / off",
    "p50 @1 ms on / off",
    "admitted / refused (on)",
    "≤ 5% fewer req/s",
  ];
  const out = [head, head.map(() => "---")];
  for (const r of rows) {
    const cpuDiff = ok(r.cpuUsPerReqOn) && ok(r.cpuUsPerReqOff)
      ? ` (${signed(r.cpuUsPerReqOn - r.cpuUsPerReqOff, 0)}, ${
        signedPct(r.cpuUsPerReqOn / r.cpuUsPerReqOff - 1)
      })`
      : "";
    out.push([
      r.runtime === "deno" ? "Deno" : "Node",
      `${int(r.rpsOn)} / ${int(r.rpsOff)}`,
      signedPct(r.rpsChange),
      `${num(r.cpuUsPerReqOn, 0)} / ${num(r.cpuUsPerReqOff, 0)}${cpuDiff}`,
      `${num(r.p50c1OnMs, 3)} / ${num(r.p50c1OffMs, 3)}`,
      `${int(r.admitted)} / ${int(r.rejected)}`,
      r.rpsMet === null ? `n/a${r.note ? `: ${r.note}` : ""}` : r.rpsMet ? "yes" : "**NO**",
    ]);
  }
  return out.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The client keys section of RESULTS.md. */
export function clientCostSection(cost: readonly ClientCost[]): string[] {
  return [
    "## Client keys and limits cost",
    "",
    clientCostTable(cost),
    "",
    "llmproxy with `client_auth: required` and one client with `requests_per_minute`,",
    "`tokens_per_minute` and `tokens_per_day` (sized never to refuse; every request sends its",
    "Bearer key) against the same configuration without clients, one after the other in this",
    'run. "admitted / refused" sums `llmproxy_client_requests_total` and',
    "`llmproxy_client_rejected_total` from the daemon's `/metrics` after the load and SSE",
    "phases. Only a pair from the same run is comparable; `--rounds=3` or more for a verdict.",
  ];
}

/** The "usage accounting cost" table, as Markdown. */
export function usageCostTable(rows: readonly UsageCost[]): string {
  const head = [
    "llmproxy",
    "req/s @64 on / off",
    "req/s on vs off",
    "CPU µs/req on / off",
    "SSE per-event added ms on / off",
    "SSE per event, on − off ms",
    "usage events on / off",
    "tokens counted on / off",
    "≤ 5% fewer req/s",
    "≤ 0.1 ms per SSE event",
  ];
  const out = [head, head.map(() => "---")];
  const verdict = (m: boolean | null, note?: string) =>
    m === null ? `n/a${note ? `: ${note}` : ""}` : m ? "yes" : "**NO**";
  for (const r of rows) {
    const name = r.runtime === "deno" ? "Deno" : "Node";
    const cpuDiff = ok(r.cpuUsPerReqOn) && ok(r.cpuUsPerReqOff)
      ? ` (${signed(r.cpuUsPerReqOn - r.cpuUsPerReqOff, 0)}, ${
        signedPct(r.cpuUsPerReqOn / r.cpuUsPerReqOff - 1)
      })`
      : "";
    const missing = r.missingOn ? ` (${int(r.missingOn)} answers without)` : "";
    out.push([
      name,
      `${int(r.rpsOn)} / ${int(r.rpsOff)}`,
      signedPct(r.rpsChange),
      `${num(r.cpuUsPerReqOn, 0)} / ${num(r.cpuUsPerReqOff, 0)}${cpuDiff}`,
      `${ms(r.sseAddedOnMs)} / ${ms(r.sseAddedOffMs)}`,
      ms(r.ssePerEventCostMs),
      `${of(r.usageEventsOn, r.sseRuns)} / ${of(r.usageEventsOff, r.sseRuns)}`,
      `${int(r.tokensOn)}${missing} / ${int(r.tokensOff)}`,
      verdict(r.rpsMet, r.note),
      verdict(r.sseMet, r.note),
    ]);
  }
  return out.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

function of(n: number | null, runs: number | null): string {
  return n === null || runs === null ? "n/a" : `${n}/${runs}`;
}
function signed(x: number, digits: number): string {
  return (x >= 0 ? "+" : "") + x.toFixed(digits);
}
function signedPct(x: number | undefined | null): string {
  return ok(x) ? `${signed(x * 100, 1)}%` : "n/a";
}

function int(x: number | undefined | null): string {
  return ok(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
}
function num(x: number | undefined | null, digits: number): string {
  return ok(x) ? x.toFixed(digits) : "n/a";
}
function ms(x: number | undefined | null): string {
  return ok(x) ? (x >= 0 ? "+" : "") + x.toFixed(3) : "n/a";
}
function pct(x: number | undefined | null): string {
  return ok(x) ? `${(x * 100).toFixed(1)}%` : "n/a";
}
function times(x: number | undefined | null): string {
  return ok(x) ? `${x.toFixed(1)}×` : "n/a";
}
const usToMs = (us: number | undefined) => ok(us) ? (us / 1000).toFixed(3) : "n/a";

/** The main table, as Markdown. */
export function table(targets: readonly TargetResult[]): string {
  const direct = targets.find((t) => t.id === "direct");
  const d1 = pick(direct?.c1 ?? []);
  const dSse = direct?.sse;
  const head = [
    "target",
    "req/s @64",
    "p50 @64 ms",
    "p99 @64 ms",
    "p50 @1 ms",
    "p99 @1 ms",
    "added p50 @1 ms",
    "CPU µs/req",
    "SSE 1st event ms",
    "SSE 1st added ms",
    "chunk added ms",
    "RSS/idle stream KiB",
    "other load %",
  ];
  const rows = [head, head.map(() => "---")];
  for (const t of targets) {
    if (!t.available) {
      rows.push([t.label, `not available: ${t.reason ?? "?"}`, ...head.slice(2).map(() => "")]);
      continue;
    }
    const a = pick(t.c64);
    const b = pick(t.c1);
    const errs = (a?.errors ?? 0) + (b?.errors ?? 0);
    const other = [a?.otherLoadPct, b?.otherLoadPct].filter(ok);
    rows.push([
      t.label + (errs > 0 ? ` (${errs} errors)` : ""),
      int(a?.rps),
      usToMs(a?.p50Us),
      usToMs(a?.p99Us),
      usToMs(b?.p50Us),
      usToMs(b?.p99Us),
      t.id === "direct" ? "—" : ms(b && d1 ? (b.p50Us - d1.p50Us) / 1000 : undefined),
      t.id === "direct"
        ? `(upstream ${num(a?.upstreamCpuUsPerReq, 0)})`
        : num(a?.targetCpuUsPerReq, 0),
      num(t.sse?.firstEventMedianMs, 3) + (t.sse?.failed ? ` (${t.sse.failed} failed)` : ""),
      t.id === "direct"
        ? "—"
        : ms(t.sse && dSse ? t.sse.firstEventMedianMs - dSse.firstEventMedianMs : undefined),
      t.id === "direct"
        ? "—"
        : ms(t.sse && dSse ? t.sse.transitMedianMs - dSse.transitMedianMs : undefined),
      t.idle
        ? `${num(t.idle.perStreamKiB, 1)}${
          t.idle.open < t.idle.requested ? ` (${t.idle.open} open)` : ""
        }`
        : "—",
      other.length ? num(Math.max(...other), 0) : "n/a",
    ]);
  }
  return rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The goals table, as Markdown. */
export function goalsTable(goals: readonly Goal[]): string {
  const rows = [
    ["goal", "llmproxy", "measured", "limit", "met"],
    ["---", "---", "---", "---", "---"],
  ];
  for (const g of goals) {
    rows.push([
      g.goal,
      g.target.replace("llmproxy ", ""),
      g.measured,
      g.limit,
      g.met === null ? `n/a: ${g.note}` : g.met ? "yes" : "**NO**",
    ]);
  }
  return rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The usage accounting section of RESULTS.md. */
export function usageCostSection(cost: readonly UsageCost[]): string[] {
  return [
    "## Usage accounting cost",
    "",
    usageCostTable(cost),
    "",
    "llmproxy with token usage accounting on (the default) and off",
    "(`LLMPROXY_USAGE_ACCOUNTING=off`), measured one after the other in this run. Every JSON",
    'answer carries a `usage` object; every SSE stream ends with a usage event. "req/s on vs',
    'off" is on ÷ off − 1 at 64 connections; CPU µs/req likewise (on − off in brackets).',
    '"SSE per-event added" is each one\'s median event transit minus direct\'s; "on − off" is',
    'what accounting adds per event. "usage events" counts measured streams whose final usage',
    'event reached the client; "tokens counted" is the sum of `llmproxy_tokens_total` from',
    "each daemon's `/metrics` after the load and SSE phases (0 with it off, as it should be).",
    "Only a pair from the same run is comparable. On a shared machine one round can be off by",
    "±20% (see bench/PROFILE.md): `--rounds=3` or more for a verdict.",
  ];
}

/** What an llmproxy daemon counted and logged, after the load and SSE phases. */
function seen(t: TargetResult): string {
  const d = t.daemonSeen;
  const parts = d
    ? [
      `${int(d.requests)} requests`,
      `${int(d.rateLimited)} refused by the rate limit`,
      `${int(d.retries)} retries`,
      ...(t.id === FLEET_IDS.redis ? [`${int(d.storeErrors)} state store errors`] : []),
    ]
    : [];
  const log = t.accessLog ? [`access log: ${int(t.accessLog.records)} records`] : [];
  const all = [...parts, ...log];
  return all.length ? `. After load and SSE: ${all.join(", ")}` : "";
}

/** The whole RESULTS.md. */
export function markdown(r: RunResult): string {
  const env = r.environment;
  const lines = [
    "# llmproxy benchmark results",
    "",
    `Measured ${r.date} by \`deno task bench\` (bench/run.ts); regenerate with the same command.`,
    "Every figure and ratio below comes from this one run.",
    "",
    "## Results",
    "",
    table(r.targets),
    "",
    "## Goals",
    "",
    goalsTable(r.goals),
    "",
    "CPU per request at 64 connections, each llmproxy target next to its runtime's ceiling (no",
    "goal; steadier than req/s on a shared machine, since other load slows a run down but does",
    "not add to its CPU):",
    "",
    cpuTable(r.cpu ?? cpuVsCeiling(r.targets)),
    "",
    "For context (no goal):",
    "",
    ...r.context.map((c) => `- ${c.what}: ${c.value === null ? "n/a" : `${c.value.toFixed(2)}×`}`),
    "",
    "## How it was measured",
    "",
    `- Machine: ${env.cpus} cores (${env.cpuModel}), Linux ${env.kernel}; deno ${env.deno}, ` +
    `node ${env.node}, ${env.wrk}. Load average before/after: ${env.loadBefore} / ` +
    `${env.loadAfter}.`,
    "- Upstream: `bench/upstream.ts`, a minimal `Deno.serve` OpenAI-shaped server in its own",
    "  process (fixed ~530-byte JSON completion with a `usage` object as OpenAI's; SSE events",
    "  stamped with their send time and, since the client asks for `include_usage`, each with",
    '  `"usage":null` and a final event with empty `choices` and the `usage`, as OpenAI sends).',
    `- Throughput: \`wrk -t1 -c64 -d${r.settings.duration}s\` after a ${r.settings.warmup} s ` +
    "warm-up, POST of a",
    "  small chat completion to /v1/chat/completions; " +
    `${r.settings.rounds} round(s), targets interleaved,`,
    "  the best round (most req/s) reported, since other load only ever slows a round down.",
    "  Latency at 1 connection: `wrk -t1 -c1` the same way.",
    "  \"added p50 @1\" is the target's p50 minus direct's p50 in the same run.",
    "- CPU µs/req: user+system CPU of the target's processes (/proc/<pid>/stat) during the",
    "  64-connection run, divided by the requests served. It is less sensitive to other load",
    '  than req/s. "other load %" is the machine CPU used by processes that are not part of',
    "  the benchmark during the target's runs (worst of the two), in % of all cores: when it is",
    "  high, the machine was shared and that row's req/s and latencies are pessimistic.",
    `- SSE: ${r.settings.sseRuns} streams per target, one at a time over one kept-alive raw TCP`,
    `  connection (as SDK clients pool them), each ${r.settings.sseChunks} events ` +
    `${r.settings.sseDelayMs} ms apart.`,
    '  "1st event" is the time from writing the request to receiving the first complete event',
    '  (the upstream sends it with the headers); "1st added" is that minus direct\'s (results.json',
    '  also has it on a new connection per stream). "chunk added" compares the median transit',
    "  (arrival time minus the upstream's send stamp) of the later events through the target",
    "  with direct's, so each event's own delay is measured, not the upstream's pacing.",
    `- Idle streams: on a freshly started target (so garbage from the load phases cannot be`,
    "  collected mid-measurement), after a warm-up of 20 streams and 100 idle ones: VmRSS of the",
    "  target's processes (summed over the process tree) before and with",
    `  ${r.settings.idleStreams} streams open whose upstream sent one event and then stays silent;`,
    "  per stream = delta / open streams (results.json also has the second half alone).",
    "- The Node ceiling pipes through `http.request` by default: faster on this machine than",
    "  `undici.request` (what llmproxy's Node transport uses), so the stricter ceiling;",
    "  `--node-ceiling=undici` switches.",
    "- llmproxy's configuration, on every llmproxy target: the default settings of a production",
    "  config: retries on, a breaker on the upstream, a per-IP rate limit (the schema's largest,",
    '  which never binds here: its 429s are counted under "Targets as run"), token usage',
    "  accounting on (the default) and the access log on (the daemon's stdout, appended to a file",
    "  in the run's temp directory). The `-nousage`, `-clients` and fleet targets are this plus",
    "  their one difference:",
    "",
    "  ```yaml",
    ...String(r.settings.llmproxyConfig ?? "(not recorded in this run)").trimEnd().split("\n")
      .map((l) => `  ${l}`),
    "  ```",
    "",
    "- Targets as run:",
    ...r.targets.map((t) =>
      `  - ${t.label}: ${t.available ? t.detail + seen(t) : `not available: ${t.reason}`}`
    ),
    "",
  ];
  const errs = r.targets.flatMap((t) =>
    Object.entries(t.phaseErrors).map(([phase, e]) => `- ${t.label}, ${phase}: ${e}`)
  );
  const cost = r.usageCost ?? usageCost(r.targets);
  if (cost.length) {
    const at = lines.indexOf("## How it was measured");
    lines.splice(at, 0, ...usageCostSection(cost), "");
  }
  const ccost = r.clientCost ?? clientCost(r.targets);
  if (ccost.length) {
    const at = lines.indexOf("## How it was measured");
    lines.splice(at, 0, ...clientCostSection(ccost), "");
  }
  const f = r.fleet ?? fleet(r.targets);
  if (f) {
    const at = lines.indexOf("## How it was measured");
    lines.splice(at, 0, ...fleetSection(f), "");
  }
  if (errs.length) lines.push("## Errors during the run", "", ...errs, "");
  return lines.join("\n");
}
