/**
 * Turns one run's measurements into the goals verdict, `RESULTS.md` and `results.json`.
 *
 * @module
 */
import type { IdleResult, LoadSample, SseResult } from "./measure.ts";
import type { Kind } from "./targets.ts";

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
  /** Errors during a phase, by phase. */
  phaseErrors: Record<string, string>;
}

/** The run as a whole. */
export interface RunResult {
  date: string;
  settings: Record<string, unknown>;
  environment: Record<string, unknown>;
  targets: TargetResult[];
  goals: Goal[];
  context: Ratio[];
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

/** Evaluates the brief's goals from one run's results. */
export function evaluate(targets: readonly TargetResult[]): { goals: Goal[]; context: Ratio[] } {
  const by = (id: string) => targets.find((t) => t.id === id);
  const rps = (id: string) => pick(by(id)?.c64 ?? [])?.rps;
  const p50c1 = (id: string) => {
    const s = pick(by(id)?.c1 ?? []);
    return s ? s.p50Us / 1000 : undefined;
  };
  const goals: Goal[] = [];
  const context: Ratio[] = [];
  const direct = by("direct");
  for (const rt of ["deno", "node"] as const) {
    const id = `llmproxy-${rt}`;
    const t = by(id);
    const name = `llmproxy (${rt === "deno" ? "Deno" : "Node"})`;
    const why = t?.available ? undefined : (t?.reason ?? "not run");
    const add = (
      goal: string,
      measured: string,
      value: number | undefined,
      limit: string,
      pass: (v: number) => boolean,
      missing: string | undefined,
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
      "req/s vs same-runtime ceiling",
      `${pct(ratioCeil)} (${int(own)} / ${int(ceil)})`,
      ratioCeil,
      "≥ 85%",
      (v) => v >= 0.85,
      by(`ceiling-${rt}`)?.reason,
    );
    const pk = rps("portkey");
    const ratioPk = ok(own) && ok(pk) ? own / pk : undefined;
    add(
      "req/s vs Portkey",
      `${times(ratioPk)} (${int(own)} / ${int(pk)})`,
      ratioPk,
      "≥ 10×",
      (v) => v >= 10,
      by("portkey")?.reason,
    );
    const a = p50c1(id);
    const d = p50c1("direct");
    const added = ok(a) && ok(d) ? a - d : undefined;
    add(
      "added p50 at 1 connection",
      `${ms(added)} ms`,
      added,
      "≤ 0.3 ms",
      (v) => v <= 0.3,
      undefined,
    );
    const s = t?.sse?.firstEventMedianMs;
    const sd = direct?.sse?.firstEventMedianMs;
    const sAdded = ok(s) && ok(sd) ? s - sd : undefined;
    add("SSE first byte added", `${ms(sAdded)} ms`, sAdded, "≤ 1 ms", (v) => v <= 1, undefined);
    const per = t?.idle?.perStreamKiB;
    add(
      "RSS per idle open stream",
      `${num(per, 1)} KiB`,
      per,
      "≤ 50 KiB",
      (v) => v <= 50,
      undefined,
    );
    const ng = rps("nginx");
    context.push({
      what: `${name} req/s / nginx req/s`,
      value: ok(own) && ok(ng) ? own / ng : null,
    });
    // CPU per request is steadier than req/s on a shared machine: the same comparison
    // with the ceiling, as ceiling CPU µs/req ÷ llmproxy CPU µs/req.
    const cpu = (x: string) => pick(by(x)?.c64 ?? [])?.targetCpuUsPerReq;
    const cOwn = cpu(id);
    const cCeil = cpu(`ceiling-${rt}`);
    context.push({
      what: `${name} CPU efficiency vs its ceiling (ceiling CPU/req ÷ llmproxy CPU/req)`,
      value: ok(cOwn) && ok(cCeil) ? cCeil / cOwn : null,
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
    "For context (no goal):",
    "",
    ...r.context.map((c) => `- ${c.what}: ${c.value === null ? "n/a" : `${c.value.toFixed(2)}×`}`),
    "",
    "## How it was measured",
    "",
    `- Machine: ${env.cpus} cores (${env.cpuModel}), Linux ${env.kernel}; deno ${env.deno}, ` +
    `node ${env.node}, ${env.wrk}. Load average before/after: ${env.loadBefore} / ${env.loadAfter}.`,
    "- Upstream: `bench/upstream.ts`, a minimal `Deno.serve` OpenAI-shaped server in its own",
    "  process (fixed ~300-byte JSON completion; SSE events stamped with their send time).",
    `- Throughput: \`wrk -t1 -c64 -d${r.settings.duration}s\` after a ${r.settings.warmup} s warm-up, POST of a`,
    `  small chat completion to /v1/chat/completions; ${r.settings.rounds} round(s), targets interleaved,`,
    "  the best round (most req/s) reported, since other load only ever slows a round down.",
    "  Latency at 1 connection: `wrk -t1 -c1` the same way.",
    "  \"added p50 @1\" is the target's p50 minus direct's p50 in the same run.",
    "- CPU µs/req: user+system CPU of the target's processes (/proc/<pid>/stat) during the",
    "  64-connection run, divided by the requests served. It is less sensitive to other load",
    '  than req/s. "other load %" is the machine CPU used by processes that are not part of',
    "  the benchmark during the target's runs (worst of the two), in % of all cores: when it is",
    "  high, the machine was shared and that row's req/s and latencies are pessimistic.",
    `- SSE: ${r.settings.sseRuns} streams per target, one at a time over one kept-alive raw TCP`,
    `  connection (as SDK clients pool them), each ${r.settings.sseChunks} events ${r.settings.sseDelayMs} ms apart.`,
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
    "- Targets as run:",
    ...r.targets.map((t) =>
      `  - ${t.label}: ${t.available ? t.detail : `not available: ${t.reason}`}`
    ),
    "",
  ];
  const errs = r.targets.flatMap((t) =>
    Object.entries(t.phaseErrors).map(([phase, e]) => `- ${t.label}, ${phase}: ${e}`)
  );
  if (errs.length) lines.push("## Errors during the run", "", ...errs, "");
  return lines.join("\n");
}
