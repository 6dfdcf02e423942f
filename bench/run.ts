/**
 * The llmproxy benchmark: `deno task bench` (`deno run -A bench/run.ts [options]`).
 *
 * Starts a fast local upstream, then, target by target and in one run, measures direct
 * (no proxy), llmproxy on Deno and on Node (each with token usage accounting on, the
 * default, and off), the minimal passthrough ceiling on each runtime, nginx and the
 * Portkey gateway: req/s at 64 connections, p50/p99 at 1 and 64 connections, SSE
 * first-event time and per-event delay, and RSS per idle open stream; and the cost of
 * usage accounting (on vs off, same run). Writes bench/RESULTS.md and
 * bench/results.json and prints the tables.
 *
 * Everything listens on and sends to 127.0.0.1 only; every load run is bounded in time;
 * every process it starts is stopped by its PID at the end (or on Ctrl-C).
 *
 * Options:
 *   --duration=S        seconds per measured load run (default 5)
 *   --warmup=S          seconds of warm-up before each (default 2)
 *   --rounds=N          load rounds, targets interleaved, best reported (default 1)
 *   --sse-runs=N        streams per target (default 20)
 *   --sse-chunks=N      events per stream (default 20)
 *   --sse-delay=MS      ms between events (default 20)
 *   --idle=N            idle open streams for the memory figure (default 1000)
 *   --only=a,b          only these target ids (direct is always measured)
 *   --skip=a,b          not these target ids
 *   --node-ceiling=M    http (default) or undici: how the Node ceiling calls upstream
 *   --nginx-workers=N   nginx worker_processes (default 1)
 *   --quick             short smoke run (2 s runs, 1 s warm-up, 3 streams, 200 idle)
 *   --no-write          print only; leave RESULTS.md and results.json alone
 *   --render            measure nothing: rewrite RESULTS.md from bench/results.json
 *
 * Target ids: direct, llmproxy-deno, llmproxy-deno-nousage, llmproxy-deno-clients,
 * ceiling-deno, llmproxy-node, llmproxy-node-nousage, llmproxy-node-clients, ceiling-node,
 * nginx, portkey. The -nousage ones are llmproxy started with
 * LLMPROXY_USAGE_ACCOUNTING=off; the usage accounting cost table needs both of a pair,
 * e.g. --only=llmproxy-deno,llmproxy-deno-nousage. The -clients ones run with
 * `client_auth: required` and one client with all three limits (wrk sends its Bearer
 * key); the client keys cost table needs the pair --only=llmproxy-deno,llmproxy-deno-clients.
 *
 * @module
 */
import { idle, load, sse } from "./lib/measure.ts";
import { freePort, type Proc, run, started, startUpstream, stopAll } from "./lib/proc.ts";
import {
  clientCost,
  clientCostTable,
  type ClientsSeen,
  evaluate,
  goalsTable,
  markdown,
  type RunResult,
  table,
  type TargetResult,
  usageCost,
  usageCostTable,
  type UsageSeen,
} from "./lib/report.ts";
import {
  ALL_TARGETS,
  type Context,
  PORTKEY_VERSION,
  type Running,
  type Target,
  Unavailable,
} from "./lib/targets.ts";
import { writeScript } from "./lib/wrk.ts";

interface Options {
  duration: number;
  warmup: number;
  rounds: number;
  sseRuns: number;
  sseChunks: number;
  sseDelayMs: number;
  idleStreams: number;
  only: string[] | undefined;
  skip: string[];
  nodeCeiling: "http" | "undici";
  nginxWorkers: number;
  write: boolean;
  render: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const o: Options = {
    duration: 5,
    warmup: 2,
    rounds: 1,
    sseRuns: 20,
    sseChunks: 20,
    sseDelayMs: 20,
    idleStreams: 1000,
    only: undefined,
    skip: [],
    nodeCeiling: "http",
    nginxWorkers: 1,
    write: true,
    render: false,
  };
  for (const a of args) {
    const [k, v = ""] = a.replace(/^--/, "").split("=", 2) as [string, string?];
    const n = () => {
      const x = Number(v);
      if (!Number.isFinite(x) || x <= 0) {
        throw new Error(`--${k} needs a positive number, got "${v}"`);
      }
      return x;
    };
    switch (k) {
      case "duration":
        o.duration = n();
        break;
      case "warmup":
        o.warmup = n();
        break;
      case "rounds":
        o.rounds = Math.round(n());
        break;
      case "sse-runs":
        o.sseRuns = Math.round(n());
        break;
      case "sse-chunks":
        o.sseChunks = Math.round(n());
        break;
      case "sse-delay":
        o.sseDelayMs = n();
        break;
      case "idle":
        o.idleStreams = Math.round(n());
        break;
      case "only":
        o.only = v.split(",").filter(Boolean);
        break;
      case "skip":
        o.skip = v.split(",").filter(Boolean);
        break;
      case "node-ceiling":
        if (v !== "http" && v !== "undici") {
          throw new Error(`--node-ceiling is http or undici, got "${v}"`);
        }
        o.nodeCeiling = v;
        break;
      case "nginx-workers":
        o.nginxWorkers = Math.round(n());
        break;
      case "quick":
        Object.assign(o, { duration: 2, warmup: 1, sseRuns: 3, idleStreams: 200 });
        break;
      case "no-write":
        o.write = false;
        break;
      case "render":
        o.render = true;
        break;
      case "help":
      case "h":
        console.log(
          Deno.readTextFileSync(new URL(import.meta.url)).split("*/")[0]!.replace(
            /^\/\*\*|^ \* ?/gm,
            "",
          ),
        );
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  return o;
}

const log = (line: string) => console.error(line);

/** Sums the samples of `name` in a Prometheus text exposition. */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== "{" && line[name.length] !== " ")) {
      continue;
    }
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** What llmproxy's `/metrics` counted of token usage so far. */
async function usageSeen(adminPort: number): Promise<UsageSeen> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: ac.signal });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return {
      tokens: metricSum(text, "llmproxy_tokens_total"),
      missing: metricSum(text, "llmproxy_usage_missing_total"),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** What llmproxy's `/metrics` counted of client admissions so far. */
async function clientsSeen(adminPort: number): Promise<ClientsSeen> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: ac.signal });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return {
      admitted: metricSum(text, "llmproxy_client_requests_total"),
      rejected: metricSum(text, "llmproxy_client_rejected_total"),
    };
  } finally {
    clearTimeout(timer);
  }
}

function environment(): Record<string, unknown> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: read("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown",
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    loadBefore: read("/proc/loadavg").split(" ").slice(0, 3).join(" "),
  };
}

async function main(): Promise<number> {
  const opts = parseOptions(Deno.args);
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  if (opts.render) {
    const saved: RunResult = JSON.parse(Deno.readTextFileSync(`${repo}/bench/results.json`));
    Object.assign(saved, evaluate(saved.targets));
    Deno.writeTextFileSync(`${repo}/bench/RESULTS.md`, markdown(saved));
    console.log(markdown(saved));
    return 0;
  }
  const env = environment();
  const wrkV = await run("wrk", ["-v"]);
  const wrkVersion = (wrkV.stdout + wrkV.stderr).match(/wrk [^\n]*?(?= Copyright|\n|$)/)?.[0];
  if (!wrkVersion) {
    log("wrk is not installed: apt-get install -y wrk");
    return 1;
  }
  env.wrk = wrkVersion.trim();
  const nodeV = await run("node", ["--version"]);
  env.node = nodeV.code === 0 ? nodeV.stdout.trim() : "not installed";
  env.portkey = PORTKEY_VERSION;

  const tmp = Deno.makeTempDirSync({ prefix: "llmproxy-bench-" });
  const cache = Deno.env.get("LLMPROXY_BENCH_CACHE") ?? "/tmp/llmproxy-bench-cache";
  Deno.mkdirSync(cache, { recursive: true });

  const upstreamPort = freePort();
  const upstream: Proc = await startUpstream(repo, upstreamPort);
  log(`upstream on 127.0.0.1:${upstreamPort} (pid ${upstream.pid}); temp dir ${tmp}`);

  const ctx: Context = {
    repo,
    tmp,
    cache,
    upstreamPort,
    nodeCeiling: opts.nodeCeiling,
    nginxWorkers: opts.nginxWorkers,
    log,
  };

  const chosen = ALL_TARGETS.filter((t) =>
    t.id === "direct" || ((!opts.only || opts.only.includes(t.id)) && !opts.skip.includes(t.id))
  );
  const live: { target: Target; running: Running; result: TargetResult }[] = [];
  const results: TargetResult[] = [];
  for (const target of chosen) {
    const result: TargetResult = {
      id: target.id,
      label: target.label,
      kind: target.kind,
      runtime: target.runtime,
      available: false,
      c64: [],
      c1: [],
      phaseErrors: {},
    };
    results.push(result);
    log(`starting ${target.label}`);
    try {
      const running = await target.start(ctx);
      result.available = true;
      result.detail = running.detail;
      live.push({ target, running, result });
    } catch (e) {
      result.reason = e instanceof Unavailable
        ? e.message
        : `failed to start: ${
          (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 4).join(" | ")
        }`;
      log(`  not available: ${result.reason}`);
    }
  }

  const scripts = new Map<string, string>();
  for (const { target, running } of live) {
    scripts.set(target.id, writeScript(tmp, target.id, running.headers));
  }
  const url = (r: Running) => `http://127.0.0.1:${r.port}/v1/chat/completions`;
  const guard = async (r: TargetResult, phase: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      // The first line says what failed; the last, for a process, what it said last.
      const lines = (e instanceof Error ? e.message : String(e)).split("\n").filter((l) =>
        l.trim()
      );
      r.phaseErrors[phase] = lines.length > 1 ? `${lines[0]} | ${lines.at(-1)}` : lines[0] ?? "?";
      log(`  ${phase} failed: ${r.phaseErrors[phase]}`);
    }
  };

  for (let round = 1; round <= opts.rounds; round++) {
    for (const { target, running, result } of live) {
      log(`[round ${round}/${opts.rounds}] ${target.label}: 64 connections, ${opts.duration} s`);
      await guard(result, "64 connections", async () => {
        const s = scripts.get(target.id)!;
        await load(url(running), s, 64, opts.warmup, running.proc, upstream);
        const r = await load(url(running), s, 64, opts.duration, running.proc, upstream);
        result.c64.push(r);
        log(
          `  ${Math.round(r.rps)} req/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, ` +
            `p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${r.errors} errors, other load ${
              r.otherLoadPct.toFixed(0)
            }%`,
        );
      });
    }
    for (const { target, running, result } of live) {
      log(`[round ${round}/${opts.rounds}] ${target.label}: 1 connection, ${opts.duration} s`);
      await guard(result, "1 connection", async () => {
        const s = scripts.get(target.id)!;
        await load(url(running), s, 1, Math.min(opts.warmup, 1), running.proc, upstream);
        const r = await load(url(running), s, 1, opts.duration, running.proc, upstream);
        result.c1.push(r);
        log(`  p50 ${(r.p50Us / 1000).toFixed(3)} ms, p99 ${(r.p99Us / 1000).toFixed(3)} ms`);
      });
    }
  }
  for (const { target, running, result } of live) {
    log(
      `${target.label}: SSE, ${opts.sseRuns} × ${opts.sseChunks} events ${opts.sseDelayMs} ms apart`,
    );
    await guard(result, "SSE", async () => {
      const r = await sse(
        running.port,
        running.headers,
        opts.sseRuns,
        opts.sseChunks,
        opts.sseDelayMs,
      );
      result.sse = r;
      log(
        `  first event ${r.firstEventMedianMs.toFixed(3)} ms, transit ${
          r.transitMedianMs.toFixed(3)
        } ms, usage event in ${r.usageEvents}/${r.runs} streams` +
          (r.failed ? `, ${r.failed} incomplete` : ""),
      );
    });
  }
  // Before the idle phase restarts them: what each llmproxy counted of the usage.
  for (const { target, running, result } of live) {
    if (running.adminPort === undefined) continue;
    await guard(result, "usage metrics", async () => {
      const u = await usageSeen(running.adminPort!);
      result.usageSeen = u;
      log(`${target.label}: ${u.tokens} tokens counted, ${u.missing} answers without usage`);
      if (target.id.endsWith("-clients")) {
        const c = await clientsSeen(running.adminPort!);
        result.clientsSeen = c;
        log(
          `${target.label}: ${c.admitted} requests admitted under a client, ${c.rejected} refused`,
        );
      }
    });
  }
  for (const entry of live) {
    const { target, result } = entry;
    if (!entry.running.proc) continue;
    log(`${target.label}: ${opts.idleStreams} idle open streams (on a fresh process)`);
    await guard(result, "idle streams", async () => {
      await entry.running.proc!.stop();
      entry.running = await target.start(ctx);
      const r = await idle(
        entry.running.port,
        entry.running.headers,
        entry.running.proc!,
        opts.idleStreams,
      );
      result.idle = r;
      log(
        `  ${r.open} open (${r.failed} failed), RSS ${r.rssBeforeKiB} → ${r.rssOpenKiB} KiB, ` +
          `${r.perStreamKiB.toFixed(1)} KiB/stream (second half ${
            r.perStreamSecondHalfKiB.toFixed(1)
          })`,
      );
    });
  }

  for (const { running, target } of live) {
    if (running.proc?.exited) {
      const r = results.find((x) => x.id === target.id)!;
      r.phaseErrors.process = `exited during the run: ${
        running.proc.stderr.trim().split("\n").slice(-3).join(" | ")
      }`;
    }
  }
  env.loadAfter = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  await stopAll();

  const { goals, context } = evaluate(results);
  const cost = usageCost(results);
  const ccost = clientCost(results);
  const runResult: RunResult = {
    date: new Date().toISOString(),
    settings: {
      duration: opts.duration,
      warmup: opts.warmup,
      rounds: opts.rounds,
      sseRuns: opts.sseRuns,
      sseChunks: opts.sseChunks,
      sseDelayMs: opts.sseDelayMs,
      idleStreams: opts.idleStreams,
      nodeCeiling: opts.nodeCeiling,
      nginxWorkers: opts.nginxWorkers,
    },
    environment: env,
    targets: results,
    goals,
    context,
    ...(cost.length ? { usageCost: cost } : {}),
    ...(ccost.length ? { clientCost: ccost } : {}),
  };
  console.log("\n" + table(results) + "\n\n" + goalsTable(goals) + "\n");
  if (cost.length) console.log("Usage accounting cost:\n\n" + usageCostTable(cost) + "\n");
  if (ccost.length) {
    console.log("Client keys and limits cost:\n\n" + clientCostTable(ccost) + "\n");
  }
  for (const c of context) {
    console.log(`${c.what}: ${c.value === null ? "n/a" : c.value.toFixed(2) + "×"}`);
  }
  if (opts.write) {
    Deno.writeTextFileSync(`${repo}/bench/RESULTS.md`, markdown(runResult));
    Deno.writeTextFileSync(`${repo}/bench/results.json`, JSON.stringify(runResult, null, 2) + "\n");
    log("\nwrote bench/RESULTS.md and bench/results.json");
  }
  Deno.removeSync(tmp, { recursive: true });
  return 0;
}

const onSignal = () => {
  log("interrupted: stopping what was started");
  void stopAll().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

let code = 1;
try {
  code = await main();
} catch (e) {
  log(`benchmark failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
  code = 1;
} finally {
  if (started.some((p) => !p.exited)) await stopAll();
}
Deno.exit(code);
