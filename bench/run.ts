/**
 * The llmproxy benchmark: `deno task bench` (`deno run -A bench/run.ts [options]`).
 *
 * Starts a fast local upstream, then, target by target and in one run, measures direct
 * (no proxy), llmproxy on Deno and on Node (each with the default settings of a
 * production config: retries, a breaker, a per-IP rate limit, usage accounting and the
 * access log on; and that with usage accounting off, or with client keys), llmproxy on
 * Deno with its state on Redis vs in memory, the minimal passthrough ceiling on each
 * runtime, nginx and the Portkey gateway: req/s at 64 connections, p50/p99 at 1 and 64
 * connections, CPU per request, SSE first-event time and per-event delay, and RSS per
 * idle open stream; the goals against them; the cost of usage accounting and of client
 * keys (on vs off, same run); Redis round trips per request. Writes bench/RESULTS.md and
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
 *   --out=DIR           write RESULTS.md and results.json to DIR (default bench/)
 *   --render            measure nothing: rewrite RESULTS.md from results.json (in --out)
 *                       with the code as it is; with --no-write, print it only
 *
 * Target ids: direct, llmproxy-deno, llmproxy-deno-nousage, llmproxy-deno-clients,
 * llmproxy-deno-redis, llmproxy-deno-memory, ceiling-deno, llmproxy-node,
 * llmproxy-node-nousage, llmproxy-node-clients, ceiling-node, nginx, portkey; and
 * baseline-deno and baseline-node when LLMPROXY_BENCH_BASELINE names another checkout
 * (llmproxy-deno/-node as that checkout has it: a hot-path change's before/after in one run). The -nousage
 * ones are llmproxy started with LLMPROXY_USAGE_ACCOUNTING=off; the usage accounting cost
 * table needs both of a pair, e.g. --only=llmproxy-deno,llmproxy-deno-nousage. The -clients
 * ones run with `client_auth: required` and one client with all three limits (wrk sends
 * its Bearer key); the client keys cost table needs the pair
 * --only=llmproxy-deno,llmproxy-deno-clients. The fleet pair
 * --only=llmproxy-deno-redis,llmproxy-deno-memory runs the Deno daemon with
 * `state.store: redis` on a redis-server the benchmark starts (skipped without one) vs
 * `state.store: memory`, and counts Redis commands per request from INFO commandstats.
 *
 * @module
 */
import { idle, load, type LoadSample, sse } from "./lib/measure.ts";
import {
  freePort,
  type Proc,
  refuseNewProcesses,
  run,
  started,
  startUpstream,
  stopAll,
} from "./lib/proc.ts";
import { tallied } from "./lib/redis.ts";
import {
  clientCost,
  clientCostTable,
  type ClientsSeen,
  cpuTable,
  cpuVsCeiling,
  type DaemonSeen,
  evaluate,
  fleet,
  fleetMakeup,
  fleetTables,
  goalsTable,
  markdown,
  perRequest,
  type RunResult,
  table,
  type TargetResult,
  usageCost,
  usageCostTable,
  type UsageSeen,
} from "./lib/report.ts";
import {
  ALL_TARGETS,
  configText,
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
  /** Where RESULTS.md and results.json go; bench/ when undefined. */
  out: string | undefined;
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
    out: undefined,
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
      case "out":
        if (!v) throw new Error("--out needs a directory");
        o.out = v.replace(/\/$/, "");
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

/** llmproxy's `/metrics` text. */
async function scrape(adminPort: number): Promise<string> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: ac.signal });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return text;
  } finally {
    clearTimeout(timer);
  }
}

/** What llmproxy's `/metrics` counted so far: usage, client admissions, the config's parts. */
function daemonFigures(
  text: string,
): { usage: UsageSeen; clients: ClientsSeen; daemon: DaemonSeen } {
  return {
    usage: {
      tokens: metricSum(text, "llmproxy_tokens_total"),
      missing: metricSum(text, "llmproxy_usage_missing_total"),
    },
    clients: {
      admitted: metricSum(text, "llmproxy_client_requests_total"),
      rejected: metricSum(text, "llmproxy_client_rejected_total"),
    },
    daemon: {
      requests: metricSum(text, "llmproxy_http_requests_total"),
      rateLimited: metricSum(text, "llmproxy_ratelimit_total"),
      retries: metricSum(text, "llmproxy_upstream_retries_total"),
      storeErrors: metricSum(text, "llmproxy_state_store_errors_total"),
    },
  };
}

/**
 * Access records in an llmproxy log file (one JSON line each): shows that the access log
 * was on and written for every request.
 */
async function accessRecords(path: string): Promise<{ records: number; bytes: number }> {
  const needle = '"msg":"access"';
  const dec = new TextDecoder();
  let records = 0;
  let bytes = 0;
  let carry = "";
  const file = await Deno.open(path);
  for await (const chunk of file.readable) {
    bytes += chunk.length;
    const text = carry + dec.decode(chunk, { stream: true });
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
      records++;
    }
    // Shorter than the needle, so a record split between chunks is counted once.
    carry = text.slice(-(needle.length - 1));
  }
  return { records, bytes };
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
  const out = opts.out ?? `${repo}/bench`;
  if (opts.render) return render(out, opts.write);
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
        const h = running.helpers ?? [];
        const warm = () => load(url(running), s, 64, opts.warmup, running.proc, upstream, h);
        const measure = () => load(url(running), s, 64, opts.duration, running.proc, upstream, h);
        // With a Redis, the commands it runs are counted around the measured run.
        const r = running.redisPort === undefined
          ? (await warm(), await measure())
          : await tallied(running.redisPort, opts.duration, warm, measure);
        result.c64.push(r);
        log(
          `  ${Math.round(r.rps)} req/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, ` +
            `p99 ${(r.p99Us / 1000).toFixed(2)} ms, ${r.errors} errors, other load ${
              r.otherLoadPct.toFixed(0)
            }%`,
        );
        if (r.redis) log(`  ${redisLine(r)}`);
      });
    }
    for (const { target, running, result } of live) {
      log(`[round ${round}/${opts.rounds}] ${target.label}: 1 connection, ${opts.duration} s`);
      await guard(result, "1 connection", async () => {
        const s = scripts.get(target.id)!;
        const h = running.helpers ?? [];
        await load(url(running), s, 1, Math.min(opts.warmup, 1), running.proc, upstream, h);
        const r = await load(url(running), s, 1, opts.duration, running.proc, upstream, h);
        result.c1.push(r);
        log(`  p50 ${(r.p50Us / 1000).toFixed(3)} ms, p99 ${(r.p99Us / 1000).toFixed(3)} ms`);
      });
    }
  }
  for (const { target, running, result } of live) {
    log(
      `${target.label}: SSE, ${opts.sseRuns} × ${opts.sseChunks} events ` +
        `${opts.sseDelayMs} ms apart`,
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
  // Before the idle phase restarts them: what each llmproxy counted and logged.
  for (const { target, running, result } of live) {
    if (running.adminPort === undefined) continue;
    await guard(result, "daemon metrics", () => daemonSeen(target, running, result));
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
      llmproxyConfig: configText("<port>", "<admin port>", "<upstream port>"),
    },
    environment: env,
    targets: results,
    ...derived(results),
  };
  printTables(runResult);
  if (opts.write) {
    Deno.mkdirSync(out, { recursive: true });
    Deno.writeTextFileSync(`${out}/RESULTS.md`, markdown(runResult));
    Deno.writeTextFileSync(`${out}/results.json`, JSON.stringify(runResult, null, 2) + "\n");
    log(`\nwrote ${out}/RESULTS.md and ${out}/results.json`);
  }
  Deno.removeSync(tmp, { recursive: true });
  return 0;
}

/** The figures computed from the targets' measurements: goals, ratios, tables. */
function derived(
  targets: TargetResult[],
): Omit<RunResult, "date" | "settings" | "environment" | "targets"> {
  const cost = usageCost(targets);
  const ccost = clientCost(targets);
  const f = fleet(targets);
  return {
    ...evaluate(targets),
    ...(cost.length ? { usageCost: cost } : {}),
    ...(ccost.length ? { clientCost: ccost } : {}),
    cpu: cpuVsCeiling(targets),
    ...(f ? { fleet: f } : {}),
  };
}

/** Prints the tables of a run to stdout. */
function printTables(r: RunResult): void {
  console.log("\n" + table(r.targets) + "\n\n" + goalsTable(r.goals) + "\n");
  console.log("CPU per request vs the ceiling:\n\n" + cpuTable(r.cpu ?? []) + "\n");
  if (r.usageCost?.length) {
    console.log("Usage accounting cost:\n\n" + usageCostTable(r.usageCost) + "\n");
  }
  if (r.clientCost?.length) {
    console.log("Client keys and limits cost:\n\n" + clientCostTable(r.clientCost) + "\n");
  }
  if (r.fleet) {
    console.log("Fleet (state on Redis vs in memory):\n\n" + fleetTables(r.fleet) + "\n");
    console.log(fleetMakeup(r.fleet) + "\n");
  }
  for (const c of r.context) {
    console.log(`${c.what}: ${c.value === null ? "n/a" : c.value.toFixed(2) + "×"}`);
  }
}

/**
 * `--render`: RESULTS.md again from results.json, every derived figure recomputed by
 * the code as it is now (so a change to a goal shows without measuring again).
 */
function render(out: string, write: boolean): number {
  const saved: RunResult = JSON.parse(Deno.readTextFileSync(`${out}/results.json`));
  Object.assign(saved, derived(saved.targets));
  const md = markdown(saved);
  if (write) Deno.writeTextFileSync(`${out}/RESULTS.md`, md);
  console.log(md);
  return 0;
}

/** The log line of a Redis tally: round trips and commands per request. */
function redisLine(r: LoadSample): string {
  const p = perRequest(r.redis!, r.requests);
  const sent = p.makeup.filter((m) => !m.inScript && Math.abs(m.perRequest) >= 0.0005)
    .map((m) => `${m.command} ${m.perRequest.toFixed(3)}`).join(", ");
  return `Redis: ${p.roundTrips.toFixed(3)} round trips per request (${sent || "none"}), ` +
    `${p.commands.toFixed(3)} commands with those inside scripts`;
}

/** Reads an llmproxy target's `/metrics` and access log into its result. */
async function daemonSeen(target: Target, running: Running, result: TargetResult): Promise<void> {
  const f = daemonFigures(await scrape(running.adminPort!));
  result.usageSeen = f.usage;
  result.daemonSeen = f.daemon;
  log(
    `${target.label}: ${f.usage.tokens} tokens counted, ${f.usage.missing} answers without usage`,
  );
  if (target.id.endsWith("-clients")) {
    result.clientsSeen = f.clients;
    log(
      `${target.label}: ${f.clients.admitted} requests admitted under a client, ` +
        `${f.clients.rejected} refused`,
    );
  }
  const d = f.daemon;
  log(
    `${target.label}: ${d.requests} requests, ${d.rateLimited} refused by the rate limit, ` +
      `${d.retries} retries, ${d.storeErrors} state store errors`,
  );
  // The limit is sized never to bind: if it did, the run measured 429s, not the proxy.
  if (d.rateLimited > 0) {
    result.phaseErrors["rate limit"] = `${d.rateLimited} requests refused with 429 by the ` +
      "per-IP rate limit: it bound, so this target's figures are not comparable";
  }
  if (running.accessLog) {
    result.accessLog = await accessRecords(running.accessLog);
    log(`${target.label}: access log ${result.accessLog.records} records`);
  }
}

const onSignal = () => {
  refuseNewProcesses();
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
