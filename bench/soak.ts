/**
 * The soak (docs/behaviour.md#soak), on 127.0.0.1 only, bounded in count and time; not run in CI.
 *
 * (a) `--clients` (10,000) clients each start an SSE completion through the daemon and
 *     leave after the first event. Afterwards: zero requests in flight (the daemon's
 *     `/metrics`), no upstream stream still open (the mock's own counters), and the
 *     daemon's RSS (/proc/<pid>/status VmRSS) within 10% of its value before (taken
 *     after a warm-up of 2% of the clients, so the JIT and the heap have settled).
 * (b) `--requests` (1,000,000) non-streaming requests at `--connections` (64)
 *     keep-alive connections, with wrk when it is installed (else a Deno client), in
 *     two runs: the first 10%, then the rest; RSS at the end within 10% of its value
 *     after the first 10%.
 *
 * `deno task soak [--runtime=deno,node] [--clients=N] [--requests=N] [--connections=N]
 * [--concurrency=N] [--max-seconds=S] [--load=wrk|deno]`; exits 1 when a check fails. A short run:
 * `deno task soak --clients=1000 --requests=100000`.
 *
 * @module
 */
import { MockLlm } from "../src/mock/mock_llm.ts";
import { freePort, type Proc, rssKiB, spawn, startUpstream, stopAll } from "./lib/proc.ts";
import { Metrics, sleep, within } from "../tests/faults/lib.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

interface Options {
  runtimes: string[];
  clients: number;
  requests: number;
  connections: number;
  concurrency: number;
  maxSeconds: number;
  /** Load generator of (b): wrk (when installed) or the built-in Deno client. */
  load: "wrk" | "deno" | undefined;
}

function parseOptions(args: string[]): Options {
  const o: Options = {
    runtimes: ["deno", "node"],
    clients: 10_000,
    requests: 1_000_000,
    connections: 64,
    concurrency: 100,
    maxSeconds: 1800,
    load: undefined,
  };
  for (const a of args) {
    const m = a.match(/^--([a-z-]+)=(.*)$/);
    if (a === "--help" || a === "-h") {
      console.log(
        "deno task soak [--runtime=deno,node] [--clients=10000] [--requests=1000000] " +
          "[--connections=64] [--concurrency=100] [--max-seconds=1800] [--load=wrk|deno]",
      );
      Deno.exit(0);
    }
    if (!m) throw new Error(`unknown argument ${a} (see --help)`);
    const [, k, v] = m;
    const n = Number(v);
    const positive = () => {
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} wants a positive integer`);
      return n;
    };
    if (k === "runtime") {
      o.runtimes = v!.split(",").map((s) => s.trim()).filter(Boolean);
      for (const r of o.runtimes) {
        if (r !== "deno" && r !== "node") throw new Error(`--runtime: deno or node, not ${r}`);
      }
    } else if (k === "clients") o.clients = positive();
    else if (k === "requests") o.requests = Math.max(10, positive());
    else if (k === "connections") o.connections = positive();
    else if (k === "concurrency") o.concurrency = positive();
    else if (k === "max-seconds") o.maxSeconds = positive();
    else if (k === "load") {
      if (v !== "wrk" && v !== "deno") throw new Error(`--load: wrk or deno, not ${v}`);
      o.load = v;
    } else throw new Error(`unknown option --${k} (see --help)`);
  }
  return o;
}

/** Seconds left before the whole soak's deadline. */
let deadlineAt = 0;
const left = () => Math.max(0, (deadlineAt - performance.now()) / 1000);
function checkTime(what: string): void {
  if (left() <= 0) throw new Error(`the soak ran out of time (--max-seconds) before ${what}`);
}

/** A progress line on stderr (the tables go to stdout). */
function progress(line: string): void {
  console.error(`soak: ${line}`);
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const pct = (a: number, b: number) => `${b >= a ? "+" : ""}${((b / a - 1) * 100).toFixed(1)}%`;

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

async function buildNodeBundle(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-soak-" });
  const out = `${dir}/llmproxyd.mjs`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      `--config=${ROOT}/deno.json`,
      "--platform=node",
      `--output=${out}`,
      `${ROOT}/src/adapters/node/main.ts`,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const res = await within(180_000, "deno bundle", child.output(), () => {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch { /* gone */ }
  });
  if (!res.success) throw new Error(`bundling failed: ${new TextDecoder().decode(res.stderr)}`);
  return out;
}

function daemonArgv(runtime: string, bundle: string | undefined): [string, string[]] {
  if (runtime === "node") return ["node", [bundle!]];
  return [Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    `--config=${ROOT}/deno.json`,
    `${ROOT}/src/adapters/deno/main.ts`,
  ]];
}

interface Daemon {
  proc: Proc;
  port: number;
  admin: number;
  /** The temporary directory of its configuration file. */
  dir: string;
}

async function startDaemon(
  runtime: string,
  bundle: string | undefined,
  mockUrl: string,
  fastUrl: string,
): Promise<Daemon> {
  const port = freePort();
  const admin = freePort();
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-soak-conf-" });
  const config = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    config,
    `http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: stream
      routing:
        - { path: /fast/*, target_group: fast }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: mock, url: "${mockUrl}" }
  - { name: fast, url: "${fastUrl}/v1/chat/completions" }
upstream_groups:
  - { name: stream, upstreams: [{ name: mock }] }
  - { name: fast, upstreams: [{ name: fast }] }
`,
  );
  const [exe, args] = daemonArgv(runtime, bundle);
  // stdout (one access line per request) is discarded; stderr is kept for failures.
  const proc = spawn(`llmproxyd-${runtime}`, exe, [...args, "-c", config], {
    env: { NO_COLOR: "1" },
  });
  const end = performance.now() + 30_000;
  while (performance.now() < end) {
    if (proc.exited) throw new Error(`the ${runtime} daemon exited at start:\n${proc.stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${admin}/ready`, {
        signal: AbortSignal.timeout(1000),
      });
      await r.body?.cancel();
      if (r.status === 200) return { proc, port, admin, dir };
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`the ${runtime} daemon was not ready within 30 s:\n${proc.stderr}`);
}

async function inFlight(admin: number): Promise<number> {
  const m = await Metrics.scrape(admin);
  return m.sum("llmproxy_upstream_in_flight");
}

/** Polls until `check()` returns 0 (≤ `ms`); returns the last value. */
async function settlesToZero(check: () => Promise<number> | number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let v = NaN;
  for (;;) {
    try {
      v = await check();
    } catch { /* retry */ }
    if (v === 0 || performance.now() > end) return v;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------
// (a) clients that leave mid-stream
// ---------------------------------------------------------------------------------------

const enc = new TextEncoder();
const STREAM_BODY = JSON.stringify({
  model: "m",
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});
const STREAM_REQUEST = enc.encode(
  "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n" +
    // A long, slow stream: it would run for a minute if the client stayed.
    "x-mock-chunks: 1200\r\nx-mock-chunk-delay: 50\r\n" +
    `content-length: ${enc.encode(STREAM_BODY).byteLength}\r\n\r\n${STREAM_BODY}`,
);

/** One client: sends, reads up to the first SSE event, leaves. True when it saw one. */
async function leaveAfterFirstEvent(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch { /* closed */ }
  }, 10_000);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.timeout(5000) });
    let off = 0;
    while (off < STREAM_REQUEST.byteLength) {
      off += await conn.write(STREAM_REQUEST.subarray(off));
    }
    const buf = new Uint8Array(16 * 1024);
    let text = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return false;
      text += new TextDecoder().decode(buf.subarray(0, n));
      const body = text.indexOf("\r\n\r\n");
      if (body >= 0 && text.indexOf("data: ", body) >= 0) {
        return text.startsWith("HTTP/1.1 200");
      }
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

async function leavers(port: number, n: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      if (await leaveAfterFirstEvent(port)) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return ok;
}

interface PhaseA {
  clients: number;
  sawEvent: number;
  seconds: number;
  inFlightAfter: number;
  upstreamOpenAfter: number;
  upstreamAborted: number;
  upstreamCompleted: number;
  rssColdKiB: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /** RSS once the process has been idle a while (the runtime hands memory back). */
  rssSettledKiB: number;
  /** Seconds of idleness it took to settle. */
  settledAfterS: number;
  /** RSS after each fifth of the clients. */
  curveKiB: number[];
}

async function phaseA(d: Daemon, mock: MockLlm, o: Options): Promise<PhaseA> {
  const rssColdKiB = rssKiB(d.proc.pid);
  progress(`(a) warm-up, then ${o.clients} clients leaving mid-stream`);
  const warm = Math.max(20, Math.round(o.clients / 50));
  await leavers(d.port, warm, o.concurrency);
  await settlesToZero(() => inFlight(d.admin), 10_000);
  await settlesToZero(() => mock.stats.active_streams, 10_000);
  await sleep(1000);
  const rssBeforeKiB = rssKiB(d.proc.pid);
  const s0 = { ...mock.stats };
  checkTime("phase (a)");
  const t0 = performance.now();
  // Five slices, RSS after each: a leak grows with every slice, a heap settling does not.
  const curveKiB: number[] = [];
  let sawEvent = 0;
  for (let i = 0; i < 5; i++) {
    const n = Math.round((o.clients * (i + 1)) / 5) - Math.round((o.clients * i) / 5);
    sawEvent += await within(left() * 1000, "phase (a)", leavers(d.port, n, o.concurrency));
    curveKiB.push(rssKiB(d.proc.pid));
  }
  const seconds = (performance.now() - t0) / 1000;
  const inFlightAfter = await settlesToZero(() => inFlight(d.admin), 15_000);
  const upstreamOpenAfter = await settlesToZero(() => mock.stats.active_streams, 15_000);
  await sleep(2000);
  const rssAfterKiB = rssKiB(d.proc.pid);
  // An idle process returns the heap it grew for 100 concurrent streams (V8's memory
  // reducer runs after some seconds of idleness); a leak would keep it. Wait for that,
  // bounded: up to 60 s, reading every 2 s.
  const idle0 = performance.now();
  let rssSettledKiB = rssAfterKiB;
  while (performance.now() - idle0 < 60_000) {
    rssSettledKiB = rssKiB(d.proc.pid);
    if (rssSettledKiB <= rssBeforeKiB * 1.1) break;
    await sleep(2000);
  }
  const settledAfterS = (performance.now() - idle0) / 1000;
  return {
    clients: o.clients,
    sawEvent,
    seconds,
    inFlightAfter,
    upstreamOpenAfter,
    upstreamAborted: mock.stats.streams_aborted - s0.streams_aborted,
    upstreamCompleted: mock.stats.streams_completed - s0.streams_completed,
    rssColdKiB,
    rssBeforeKiB,
    rssAfterKiB,
    rssSettledKiB,
    settledAfterS,
    curveKiB,
  };
}

// ---------------------------------------------------------------------------------------
// (b) many requests at a fixed number of connections
// ---------------------------------------------------------------------------------------

const CHAT_BODY = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });

interface LoadRun {
  tool: string;
  requests: number;
  seconds: number;
  errors: number;
}

async function hasWrk(): Promise<boolean> {
  try {
    const out = await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" })
      .output();
    return out.code === 0 || out.code === 1;
  } catch {
    return false;
  }
}

/** wrk, one thread, `connections` connections, stopping after `n` responses. */
async function wrkRun(port: number, n: number, connections: number): Promise<LoadRun> {
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-soak-wrk-" });
  const script = `${dir}/soak.lua`;
  await Deno.writeTextFile(
    script,
    [
      `wrk.method = "POST"`,
      `wrk.body = ${JSON.stringify(CHAT_BODY)}`,
      `wrk.headers["Content-Type"] = "application/json"`,
      `local limit = ${n}`,
      `local seen = 0`,
      // wrk's main thread sleeps for the whole -d: the marker tells the soak to end it
      // with SIGINT (wrk then joins its thread and reports as usual).
      `response = function(status, headers, body)`,
      `  seen = seen + 1`,
      `  if seen == limit then`,
      `    io.stderr:write("WRKLIMIT\\n")`,
      `    io.stderr:flush()`,
      `    wrk.thread:stop()`,
      `  end`,
      `end`,
      `done = function(summary, latency, requests)`,
      `  local e = summary.errors`,
      `  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d}\\n',`,
      `    summary.requests, summary.duration,`,
      `    e.connect + e.read + e.write + e.status + e.timeout))`,
      `end`,
    ].join("\n") + "\n",
  );
  const budget = Math.max(10, Math.floor(left()));
  const child = new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${connections}`,
      `-d${budget}s`,
      "--timeout",
      "10s",
      "-s",
      script,
      `http://127.0.0.1:${port}/fast/v1/chat/completions`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  const watchStderr = (async () => {
    const d = new TextDecoder();
    for await (const c of child.stderr) {
      errText += d.decode(c, { stream: true });
      if (errText.includes("WRKLIMIT")) {
        errText = errText.replace("WRKLIMIT\n", "");
        try {
          Deno.kill(child.pid, "SIGINT");
        } catch { /* gone */ }
      }
    }
  })();
  const readStdout = new Response(child.stdout).text();
  const [status, text] = await within(
    (budget + 30) * 1000,
    "wrk",
    Promise.all([child.status, readStdout, watchStderr]),
    () => {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch { /* gone */ }
    },
  );
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const m = text.match(/^WRKJSON (.*)$/m);
  if (!m) throw new Error(`wrk failed (exit ${status.code}): ${errText}\n${text}`);
  const j = JSON.parse(m[1]!);
  return { tool: "wrk", requests: j.requests, seconds: j.duration_us / 1e6, errors: j.errors };
}

/** A Deno client: `connections` keep-alive connections sending `n` requests in all. */
async function denoRun(port: number, n: number, connections: number): Promise<LoadRun> {
  const req = enc.encode(
    "POST /fast/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
      `content-type: application/json\r\ncontent-length: ${CHAT_BODY.length}\r\n\r\n${CHAT_BODY}`,
  );
  let sent = 0;
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  const worker = async () => {
    let conn: Deno.TcpConn | undefined;
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    while (sent < n && left() > 0) {
      sent++;
      try {
        conn ??= await Deno.connect({
          hostname: "127.0.0.1",
          port,
          signal: AbortSignal.timeout(5000),
        });
        await conn.write(req);
        // Read one response (Content-Length or chunked framing).
        for (;;) {
          const text = new TextDecoder("latin1").decode(pending);
          const he = text.indexOf("\r\n\r\n");
          if (he >= 0) {
            const cl = text.slice(0, he).match(/\r\ncontent-length:\s*(\d+)/i);
            const total = cl
              ? he + 4 + Number(cl[1])
              : text.indexOf("\r\n0\r\n\r\n", he) >= 0
              ? text.indexOf("\r\n0\r\n\r\n", he) + 7
              : Infinity;
            if (pending.byteLength >= total) {
              if (!text.startsWith("HTTP/1.1 2")) errors++;
              pending = pending.slice(total);
              break;
            }
          }
          const got = await within(10_000, "response", conn.read(buf));
          if (got === null) throw new Error("closed");
          const next = new Uint8Array(pending.byteLength + got);
          next.set(pending);
          next.set(buf.subarray(0, got), pending.byteLength);
          pending = next;
        }
        done++;
      } catch {
        errors++;
        try {
          conn?.close();
        } catch { /* closed */ }
        conn = undefined;
        pending = new Uint8Array(0);
      }
    }
    try {
      conn?.close();
    } catch { /* closed */ }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return { tool: "deno client", requests: done, seconds: (performance.now() - t0) / 1000, errors };
}

interface PhaseB {
  connections: number;
  first: LoadRun;
  rest: LoadRun;
  inFlightAfter: number;
  rssStartKiB: number;
  rssAfterFirstKiB: number;
  rssEndKiB: number;
}

async function phaseB(d: Daemon, o: Options, wrkOk: boolean): Promise<PhaseB> {
  const load = wrkOk ? wrkRun : denoRun;
  const rssStartKiB = rssKiB(d.proc.pid);
  const firstN = Math.max(1, Math.round(o.requests / 10));
  checkTime("phase (b)");
  progress(`(b) first ${firstN} requests`);
  const first = await load(d.port, firstN, o.connections);
  await settlesToZero(() => inFlight(d.admin), 10_000);
  await sleep(1000);
  const rssAfterFirstKiB = rssKiB(d.proc.pid);
  checkTime("phase (b), second run");
  progress(`(b) the other ${o.requests - firstN} requests`);
  const rest = await load(d.port, o.requests - firstN, o.connections);
  const inFlightAfter = await settlesToZero(() => inFlight(d.admin), 15_000);
  await sleep(1000);
  return {
    connections: o.connections,
    first,
    rest,
    inFlightAfter,
    rssStartKiB,
    rssAfterFirstKiB,
    rssEndKiB: rssKiB(d.proc.pid),
  };
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

interface Row {
  check: string;
  figure: string;
  limit: string;
  ok: boolean | undefined;
}

function report(runtime: string, a: PhaseA | undefined, b: PhaseB | undefined): Row[] {
  const rows: Row[] = [];
  if (a) {
    rows.push({
      check: "(a) clients that left after the first event",
      figure: `${a.clients} in ${a.seconds.toFixed(1)} s (${a.sawEvent} saw an event)`,
      limit: "all see an event",
      ok: a.sawEvent === a.clients,
    });
    rows.push({
      check: "(a) requests in flight afterwards (/metrics)",
      figure: String(a.inFlightAfter),
      limit: "0",
      ok: a.inFlightAfter === 0,
    });
    rows.push({
      check: "(a) upstream streams still open (mock)",
      figure: String(a.upstreamOpenAfter),
      limit: "0",
      ok: a.upstreamOpenAfter === 0,
    });
    rows.push({
      check: "(a) upstream streams aborted / completed",
      figure: `${a.upstreamAborted} / ${a.upstreamCompleted}`,
      limit: `${a.clients} / 0`,
      ok: a.upstreamAborted === a.clients && a.upstreamCompleted === 0,
    });
    rows.push({
      check: "(a) RSS cold → after warm-up (before) → after",
      figure: `${mib(a.rssColdKiB)} → ${mib(a.rssBeforeKiB)} → ${mib(a.rssAfterKiB)} (${
        pct(a.rssBeforeKiB, a.rssAfterKiB)
      })`,
      limit: "(at once: the heap grown for the concurrent streams)",
      ok: undefined,
    });
    rows.push({
      check: "(a) RSS once idle (the clients gone) vs before",
      figure: `${mib(a.rssSettledKiB)} after ${a.settledAfterS.toFixed(0)} s idle (${
        pct(a.rssBeforeKiB, a.rssSettledKiB)
      })`,
      limit: "at most 10% above before",
      ok: a.rssSettledKiB <= a.rssBeforeKiB * 1.1,
    });
    rows.push({
      check: "(a) RSS after each fifth of the clients",
      figure: a.curveKiB.map(mib).join(", "),
      limit: "(shape: growth per slice = leak)",
      ok: undefined,
    });
    // The process's high-water mark (heap and socket buffers sized for the concurrent
    // streams) is reached within the first fifth; a leak keeps growing after it.
    const first = a.curveKiB[0];
    const last = a.curveKiB.at(-1);
    if (first !== undefined && last !== undefined) {
      rows.push({
        check: "(a) RSS after the first fifth → after the last (growth after the high-water mark)",
        figure: `${mib(first)} → ${mib(last)} (${pct(first, last)})`,
        limit: "within ±10%",
        ok: Math.abs(last / first - 1) <= 0.1,
      });
    }
  }
  if (b) {
    const total = b.first.requests + b.rest.requests;
    const errors = b.first.errors + b.rest.errors;
    const secs = b.first.seconds + b.rest.seconds;
    rows.push({
      check: `(b) requests at ${b.connections} connections (${b.first.tool})`,
      figure: `${b.first.requests} + ${b.rest.requests} = ${total} in ${secs.toFixed(1)} s (${
        Math.round(total / secs)
      } req/s), ${errors} errors`,
      limit: "0 errors",
      ok: errors === 0,
    });
    rows.push({
      check: "(b) requests in flight afterwards (/metrics)",
      figure: String(b.inFlightAfter),
      limit: "0",
      ok: b.inFlightAfter === 0,
    });
    rows.push({
      check: "(b) RSS start → after first 10% → end",
      figure: `${mib(b.rssStartKiB)} → ${mib(b.rssAfterFirstKiB)} → ${mib(b.rssEndKiB)} (${
        pct(b.rssAfterFirstKiB, b.rssEndKiB)
      })`,
      limit: "end at most 10% above its value after the first 10%",
      ok: b.rssEndKiB <= b.rssAfterFirstKiB * 1.1,
    });
  }
  console.log(`\n### Soak: ${runtime}\n`);
  console.log("| check | figure | limit | ok |");
  console.log("|---|---|---|---|");
  for (const r of rows) {
    const verdict = r.ok === undefined ? "" : r.ok ? "yes" : "**NO**";
    console.log(`| ${r.check} | ${r.figure} | ${r.limit} | ${verdict} |`);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseOptions(Deno.args);
  deadlineAt = performance.now() + o.maxSeconds * 1000;
  const wrkOk = o.load === "deno" ? false : await hasWrk();
  if (o.load === "wrk" && !wrkOk) throw new Error("--load=wrk: wrk is not installed");
  console.log(
    `soak: runtimes ${o.runtimes.join(", ")}; (a) ${o.clients} clients leaving mid-stream ` +
      `(${o.concurrency} at a time); (b) ${o.requests} requests at ${o.connections} connections ` +
      `with ${wrkOk ? "wrk" : "a Deno client"}; at most ${o.maxSeconds} s`,
  );

  const mock = new MockLlm({ name: "soak" });
  const mockServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => mock.fetch(req),
  );
  const mockUrl = `http://127.0.0.1:${mockServer.addr.port}`;
  let failed = false;
  const stopEverything = async () => {
    await stopAll();
    await within(5000, "mock shutdown", mockServer.shutdown()).catch(() => {});
  };
  const onSignal = () => {
    void stopEverything().then(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const fastPort = freePort();
    await startUpstream(ROOT, fastPort);
    const fastUrl = `http://127.0.0.1:${fastPort}`;
    const bundle = o.runtimes.includes("node") ? await buildNodeBundle() : undefined;
    for (const runtime of o.runtimes) {
      checkTime(`the ${runtime} daemon`);
      progress(`starting the ${runtime} daemon`);
      const d = await startDaemon(runtime, bundle, mockUrl, fastUrl);
      let a: PhaseA | undefined;
      let b: PhaseB | undefined;
      try {
        a = await phaseA(d, mock, o);
        b = await phaseB(d, o, wrkOk);
      } catch (e) {
        failed = true;
        console.error(`soak (${runtime}): ${e instanceof Error ? e.message : e}`);
        if (d.proc.exited) console.error(`the daemon exited:\n${d.proc.stderr}`);
      } finally {
        const rows = report(runtime, a, b);
        if (rows.some((r) => r.ok === false)) failed = true;
        await d.proc.stop();
        await Deno.remove(d.dir, { recursive: true }).catch(() => {});
      }
    }
    if (bundle) await Deno.remove(bundle.slice(0, bundle.lastIndexOf("/")), { recursive: true });
  } finally {
    await stopEverything();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    console.error(`soak: ${e instanceof Error ? e.message : e}`);
    code = 2;
  }
  Deno.exit(code);
}
