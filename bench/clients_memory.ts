/**
 * Memory of client keys and limits at scale (docs/behaviour.md#client-keys-and-limits): the Deno
 * daemon with 100,000 configured clients, each with all three limits, each used once.
 *
 * `deno run -A bench/clients_memory.ts [options]`
 *
 * 1. Baseline: the daemon with the same forward, group and upstream and no clients;
 *    VmRSS once ready and after 1,000 requests.
 * 2. The daemon with N clients (`client_auth: required`): start-up time (the YAML is
 *    parsed and every key hashed), VmRSS once ready, after a warm-up of 1,000 requests,
 *    after one request from every client (bounded concurrency), and, unless
 *    `--no-idle-minute`, after the minute windows have emptied (61 s idle, then one
 *    request, which sweeps: what stays per client is today's tokens until UTC midnight).
 *    Also the size and scrape time of `/metrics` (a label value per client) and one
 *    client's usage figures, to show the limits were in force.
 *
 * Everything listens on and sends to 127.0.0.1; every phase has a deadline (default
 * 600 s in all); every process it starts is stopped by its PID at the end (or on
 * Ctrl-C). Nothing is written but the temporary directory, removed at the end.
 *
 * Options:
 *   --clients=N         configured clients (default 100000)
 *   --concurrency=N     requests in flight (default 64)
 *   --deadline=S        the whole run, seconds (default 600)
 *   --no-baseline       skip the daemon without clients
 *   --no-idle-minute    skip the 61 s wait for the windows to empty
 *   --json              print the figures as JSON as well
 *
 * @module
 */
import {
  answers,
  freePort,
  type Proc,
  rssKiB,
  sleep,
  spawn,
  started,
  startUpstream,
  stopAll,
  waitFor,
} from "./lib/proc.ts";

interface Options {
  clients: number;
  concurrency: number;
  deadlineS: number;
  baseline: boolean;
  idleMinute: boolean;
  json: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const o: Options = {
    clients: 100_000,
    concurrency: 64,
    deadlineS: 600,
    baseline: true,
    idleMinute: true,
    json: false,
  };
  for (const a of args) {
    const [k, v = ""] = a.replace(/^--/, "").split("=", 2) as [string, string?];
    const n = () => {
      const x = Number(v);
      if (!Number.isInteger(x) || x <= 0) throw new Error(`--${k} needs a positive integer`);
      return x;
    };
    if (k === "clients") o.clients = n();
    else if (k === "concurrency") o.concurrency = n();
    else if (k === "deadline") o.deadlineS = n();
    else if (k === "no-baseline") o.baseline = false;
    else if (k === "no-idle-minute") o.idleMinute = false;
    else if (k === "json") o.json = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const LIMITS = { requests_per_minute: 600, tokens_per_minute: 100_000, tokens_per_day: 2_000_000 };
const BODY = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Say hello." }],
});

const log = (line: string) => console.error(line);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** The key of client `i` (deterministic per run, unguessable across runs). */
function keyOf(salt: string, i: number): string {
  return `sk-mem-${salt}-${i.toString(36)}`;
}

function configYaml(
  port: number,
  admin: number,
  upstream: number,
  clients: number,
  salt: string,
): string {
  const lines = [
    "http_server:",
    "  forwards:",
    `    - name: bench`,
    `      address: 127.0.0.1`,
    `      port: ${port}`,
    `      default_group: bench`,
    ...(clients > 0 ? ["      client_auth: required"] : []),
    `  admin: { address: 127.0.0.1, port: ${admin} }`,
    "upstreams:",
    `  - { name: upstream, url: "http://127.0.0.1:${upstream}" }`,
    "upstream_groups:",
    "  - { name: bench, upstreams: [{ name: upstream }] }",
  ];
  if (clients > 0) {
    const limits =
      `{ requests_per_minute: ${LIMITS.requests_per_minute}, tokens_per_minute: ${LIMITS.tokens_per_minute}, tokens_per_day: ${LIMITS.tokens_per_day} }`;
    lines.push("clients:");
    for (let i = 0; i < clients; i++) {
      lines.push(`  - { name: c${i}, key: "${keyOf(salt, i)}", limits: ${limits} }`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A request with a deadline; the body is read to its end. */
async function request(
  url: string,
  init: RequestInit,
  ms: number,
): Promise<{ status: number; bytes: number }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes: body.byteLength };
}

/** Sends `count` requests (request `i` from `keyFor(i)`), `concurrency` at a time. */
async function load(
  port: number,
  count: number,
  concurrency: number,
  keyFor: ((i: number) => string) | undefined,
  deadline: number,
): Promise<{ statuses: Record<string, number>; seconds: number }> {
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const statuses: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error("load: past the run's deadline");
      const i = next++;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (keyFor) headers.authorization = `Bearer ${keyFor(i)}`;
      let key: string;
      try {
        const r = await request(url, { method: "POST", headers, body: BODY }, 10_000);
        key = String(r.status);
      } catch (e) {
        key = e instanceof Error ? e.name : "error";
      }
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { statuses, seconds: (performance.now() - t0) / 1000 };
}

interface DaemonRun {
  proc: Proc;
  port: number;
  admin: number;
  readyS: number;
}

async function startDaemon(
  repo: string,
  tmp: string,
  name: string,
  yaml: string,
  port: number,
  admin: number,
  deadline: number,
): Promise<DaemonRun> {
  const cfg = `${tmp}/${name}.yaml`;
  await Deno.writeTextFile(cfg, yaml);
  const t0 = performance.now();
  const proc = spawn(name, Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    `--config=${repo}/deno.json`,
    `${repo}/src/adapters/deno/main.ts`,
    "-c",
    cfg,
    "--shutdown-timeout",
    "2",
  ], { cwd: repo });
  await waitFor(
    name,
    () => answers(`http://127.0.0.1:${admin}/ready`, 200),
    Math.max(1_000, deadline - performance.now()),
    proc,
  );
  return { proc, port, admin, readyS: (performance.now() - t0) / 1000 };
}

function fmtStatuses(s: Record<string, number>): string {
  return Object.entries(s).map(([k, v]) => `${k}: ${v}`).join(", ");
}

async function main(): Promise<number> {
  const o = parseOptions(Deno.args);
  const deadline = performance.now() + o.deadlineS * 1000;
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const tmp = await Deno.makeTempDir({ prefix: "llmproxy-clients-mem-" });
  const salt = crypto.randomUUID().slice(0, 8);
  const out: Record<string, unknown> = { clients: o.clients, concurrency: o.concurrency };
  try {
    const upstreamPort = freePort();
    const upstream = await startUpstream(repo, upstreamPort);
    log(`upstream on 127.0.0.1:${upstreamPort} (pid ${upstream.pid})`);

    if (o.baseline) {
      const port = freePort();
      const admin = freePort();
      const d = await startDaemon(
        repo,
        tmp,
        "baseline",
        configYaml(port, admin, upstreamPort, 0, salt),
        port,
        admin,
        deadline,
      );
      const ready = rssKiB(d.proc.pid);
      const warm = await load(port, 1_000, o.concurrency, undefined, deadline);
      await sleep(500);
      const after = rssKiB(d.proc.pid);
      out.baseline = { readyS: d.readyS, rssReadyKiB: ready, rssAfter1000KiB: after };
      log(
        `no clients: ready in ${d.readyS.toFixed(1)} s, VmRSS ${mib(ready)}; after 1,000 ` +
          `requests ${mib(after)} (${fmtStatuses(warm.statuses)})`,
      );
      await d.proc.stop();
    }

    const port = freePort();
    const admin = freePort();
    const yaml = configYaml(port, admin, upstreamPort, o.clients, salt);
    log(`config with ${o.clients.toLocaleString("en-US")} clients: ${mib(yaml.length / 1024)}`);
    const d = await startDaemon(repo, tmp, "clients", yaml, port, admin, deadline);
    const ready = rssKiB(d.proc.pid);
    log(`${o.clients} clients: ready in ${d.readyS.toFixed(1)} s, VmRSS ${mib(ready)}`);

    const warmN = Math.min(1_000, o.clients);
    const warm = await load(port, warmN, o.concurrency, (i) => keyOf(salt, i), deadline);
    await sleep(500);
    const warmRss = rssKiB(d.proc.pid);
    log(`after ${warmN} clients' requests: VmRSS ${mib(warmRss)} (${fmtStatuses(warm.statuses)})`);

    const all = await load(port, o.clients, o.concurrency, (i) => keyOf(salt, i), deadline);
    await sleep(1_000);
    const allRss = rssKiB(d.proc.pid);
    const rps = o.clients / all.seconds;
    log(
      `after one request from each of ${o.clients} clients (${all.seconds.toFixed(1)} s, ` +
        `${rps.toFixed(0)} req/s): VmRSS ${mib(allRss)} (${fmtStatuses(all.statuses)})`,
    );
    const perClient = (allRss - warmRss) * 1024 / (o.clients - warmN);
    log(`  per client used (after warm-up → after all): ${perClient.toFixed(0)} bytes`);

    const sample = `c${o.clients - 1}`;
    const usageRes = await fetch(`http://127.0.0.1:${admin}/api/v1/clients/${sample}/usage`, {
      signal: AbortSignal.timeout(10_000),
    });
    const usage = (await usageRes.json()).data;
    log(`  usage of ${sample}: ${JSON.stringify(usage)}`);

    const t0 = performance.now();
    const metrics = await request(`http://127.0.0.1:${admin}/metrics`, {}, 60_000);
    const scrapeS = (performance.now() - t0) / 1000;
    log(`  /metrics: ${mib(metrics.bytes / 1024)}, scraped in ${scrapeS.toFixed(2)} s`);
    const scrapeRss = rssKiB(d.proc.pid);

    out.clientsRun = {
      configBytes: yaml.length,
      readyS: d.readyS,
      rssReadyKiB: ready,
      rssAfterWarmupKiB: warmRss,
      rssAfterAllKiB: allRss,
      rssAfterScrapeKiB: scrapeRss,
      bytesPerClientUsed: perClient,
      loadSeconds: all.seconds,
      statuses: all.statuses,
      sampleUsage: usage,
      metricsBytes: metrics.bytes,
      metricsScrapeS: scrapeS,
    };

    if (o.idleMinute) {
      const wait = 61_000;
      if (performance.now() + wait + 10_000 > deadline) {
        log("skipping the idle minute: not enough time left before the deadline");
      } else {
        log("waiting 61 s for the minute windows to empty …");
        await sleep(wait);
        // One request sweeps the limiter (at most every 10 s, on an admission).
        await load(port, 1, 1, (i) => keyOf(salt, i), deadline);
        await sleep(500);
        const idleRss = rssKiB(d.proc.pid);
        log(`after the windows emptied and a sweep: VmRSS ${mib(idleRss)}`);
        (out.clientsRun as Record<string, unknown>).rssAfterIdleMinuteKiB = idleRss;
      }
    }
    await d.proc.stop();
    if (o.json) console.log(JSON.stringify(out, null, 2));
    return 0;
  } finally {
    await stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
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
  log(`clients_memory failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
} finally {
  if (started.some((p) => !p.exited)) await stopAll();
}
Deno.exit(code);
