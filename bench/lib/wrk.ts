/**
 * Load runs with wrk: a POST of a small chat completion request, results as JSON from
 * a Lua `done` hook, plus the CPU that wrk itself used (so the load from other
 * processes on the machine can be told apart).
 *
 * @module
 */
import { run, TICKS_PER_S } from "./proc.ts";

/** The request body every load run sends. */
export const REQUEST_BODY = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Say hello." }],
});

/** One wrk run's figures. Latencies are in microseconds. */
export interface WrkResult {
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  /** Non-2xx/3xx answers, connect/read/write errors and timeouts together. */
  errors: number;
  errorDetail: { connect: number; read: number; write: number; status: number; timeout: number };
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  /** CPU seconds wrk used. */
  wrkCpuS: number;
}

const luaString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * Clients the load seems to come from: each request carries `X-Forwarded-For:
 * 10.0.0.<n>`, n going round 1..CLIENTS, as behind a load balancer. The llmproxy
 * targets trust 127.0.0.1 as a proxy, so their per-IP rate limit sees CLIENTS clients
 * instead of one (whose bucket would bind at 10,000 req/s); the other targets pass the
 * header on or ignore it.
 */
export const CLIENTS = 16;

/** Writes the Lua script for a POST with `headers`; returns its path. */
export function writeScript(dir: string, name: string, headers: Record<string, string>): string {
  const lines = [
    `wrk.method = "POST"`,
    `wrk.body = ${luaString(REQUEST_BODY)}`,
    `wrk.headers["Content-Type"] = "application/json"`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`),
    // Built once per thread; each request is then a table lookup.
    `local reqs = {}`,
    `local n = 0`,
    `init = function(args)`,
    `  for i = 1, ${CLIENTS} do`,
    `    wrk.headers["X-Forwarded-For"] = "10.0.0." .. i`,
    `    reqs[i] = wrk.format()`,
    `  end`,
    `end`,
    `request = function()`,
    `  n = n % ${CLIENTS} + 1`,
    `  return reqs[n]`,
    `end`,
    `done = function(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,` +
    `"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\\n',`,
    `    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,`,
    `    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,`,
    `    latency.mean))`,
    `end`,
  ];
  const path = `${dir}/${name}.lua`;
  Deno.writeTextFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Runs wrk for `durationS` seconds with `connections` connections on one thread. */
export async function wrk(
  url: string,
  script: string,
  connections: number,
  durationS: number,
): Promise<WrkResult> {
  const args = [
    "-t1",
    `-c${connections}`,
    `-d${durationS}s`,
    "--timeout",
    "5s",
    "-s",
    script,
    url,
  ];
  // The shell reaps wrk, so its own /proc stat then counts wrk's CPU (cutime + cstime).
  const sh = 'wrk "$@"; s=$?; read -r st < /proc/$$/stat; echo "SHSTAT $st"; exit $s';
  const out = await run("sh", ["-c", sh, "sh", ...args]);
  const m = out.stdout.match(/^WRKJSON (.*)$/m);
  if (out.code !== 0 || !m) {
    throw new Error(`wrk failed (exit ${out.code}): ${out.stderr.trim() || out.stdout.trim()}`);
  }
  const j = JSON.parse(m[1]!);
  let wrkCpuS = 0;
  const st = out.stdout.match(/^SHSTAT (.*)$/m);
  if (st) {
    const f = st[1]!.slice(st[1]!.lastIndexOf(")") + 2).split(" ");
    wrkCpuS = (Number(f[13]) + Number(f[14])) / TICKS_PER_S;
  }
  const durationS2 = j.duration_us / 1e6;
  const errorDetail = {
    connect: j.connect,
    read: j.read,
    write: j.write,
    status: j.status,
    timeout: j.timeout,
  };
  return {
    connections,
    durationS: durationS2,
    requests: j.requests,
    rps: j.requests / durationS2,
    errors: j.connect + j.read + j.write + j.status + j.timeout,
    errorDetail,
    p50Us: j.p50,
    p90Us: j.p90,
    p99Us: j.p99,
    maxUs: j.max,
    meanUs: j.mean,
    wrkCpuS,
  };
}
