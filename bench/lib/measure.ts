/**
 * The four measurements, each on one started target: throughput and latency under wrk,
 * SSE timing, and memory per idle open stream.
 *
 * @module
 */
import { cpuSeconds, machineCpu, type Proc, processTree, sleep, treeRssKiB } from "./proc.ts";
import type { RedisTally } from "./redis.ts";
import { openIdleStreams, SseClient } from "./sse.ts";
import { median, quantile } from "./stats.ts";
import { wrk, type WrkResult } from "./wrk.ts";

/** A wrk run plus where the CPU went while it ran. */
export interface LoadSample extends WrkResult {
  /** CPU seconds of the target's process tree (0 for direct). */
  targetCpuS: number;
  /** The target's CPU per request, in µs. */
  targetCpuUsPerReq: number;
  /** The upstream's CPU per request, in µs. */
  upstreamCpuUsPerReq: number;
  /**
   * CPU used by processes that are not part of the benchmark, in % of the whole machine
   * (all cores): other work on a shared machine makes every figure of that run lower.
   */
  otherLoadPct: number;
  /**
   * CPU per request, in µs, of the processes the target needs besides its own (the
   * fleet rows' redis-server); absent when it needs none.
   */
  helperCpuUsPerReq?: number;
  /** What the target's Redis counted during this run (the fleet rows). */
  redis?: RedisTally;
}

/** Runs wrk against a target and accounts for the CPU of everyone involved. */
export async function load(
  url: string,
  script: string,
  connections: number,
  durationS: number,
  target: Proc | undefined,
  upstream: Proc,
  helpers: readonly Proc[] = [],
): Promise<LoadSample> {
  const tPids = target ? processTree(target.pid) : [];
  const uPids = processTree(upstream.pid);
  const hPids = helpers.flatMap((h) => processTree(h.pid));
  const m0 = machineCpu();
  const t0 = cpuSeconds(tPids);
  const u0 = cpuSeconds(uPids);
  const h0 = cpuSeconds(hPids);
  const r = await wrk(url, script, connections, durationS);
  const m1 = machineCpu();
  const targetCpuS = cpuSeconds(tPids) - t0;
  const upstreamCpuS = cpuSeconds(uPids) - u0;
  const helperCpuS = cpuSeconds(hPids) - h0;
  const busy = m1.busy - m0.busy;
  const total = m1.total - m0.total;
  const other = Math.max(0, busy - targetCpuS - upstreamCpuS - helperCpuS - r.wrkCpuS);
  const perReq = (s: number) => r.requests > 0 ? (s / r.requests) * 1e6 : NaN;
  return {
    ...r,
    targetCpuS,
    targetCpuUsPerReq: perReq(targetCpuS),
    upstreamCpuUsPerReq: perReq(upstreamCpuS),
    otherLoadPct: total > 0 ? (other / total) * 100 : 0,
    ...(helpers.length ? { helperCpuUsPerReq: perReq(helperCpuS) } : {}),
  };
}

/** SSE timing through one target. Times in ms. */
export interface SseResult {
  runs: number;
  /** Runs that did not end with every event and `[DONE]` and status 200. */
  failed: number;
  /** Events that carried a timestamp, over all runs. */
  events: number;
  firstByteMedianMs: number;
  firstEventMedianMs: number;
  firstEventP90Ms: number;
  /** The same on a new connection per stream (includes the connection set-up). */
  firstEventNewConnMedianMs: number;
  /** Transit of events after the first (arrival − upstream stamp + a constant offset). */
  transitMedianMs: number;
  transitP90Ms: number;
  /** Mean gap between consecutive event arrivals (the upstream paces them). */
  gapMeanMs: number;
  /** Measured streams that ended with the final usage event (empty `choices`, `usage`). */
  usageEvents: number;
  /** Median transit of the final usage event (same clock offset as `transitMedianMs`). */
  usageTransitMedianMs: number;
}

/**
 * Streams `runs` completions of `chunks` events `delayMs` apart, one at a time over one
 * kept-alive connection (as SDK clients do); then `runs` short ones on a new connection
 * each.
 */
export async function sse(
  port: number,
  headers: Record<string, string>,
  runs: number,
  chunks: number,
  delayMs: number,
): Promise<SseResult> {
  const timeout = chunks * delayMs + 10_000;
  const client = new SseClient(port);
  for (let i = 0; i < 2; i++) await client.stream(headers, chunks, delayMs, timeout);
  const firstByte: number[] = [];
  const firstEvent: number[] = [];
  const transit: number[] = [];
  const gaps: number[] = [];
  const usageTransit: number[] = [];
  let failed = 0;
  let events = 0;
  for (let k = 0; k < runs; k++) {
    const r = await client.stream(headers, chunks, delayMs, timeout);
    if (r.status !== 200 || !r.done || r.events.length !== chunks) failed++;
    if (r.firstByteMs >= 0) firstByte.push(r.firstByteMs);
    if (r.firstEventMs >= 0) firstEvent.push(r.firstEventMs);
    events += r.events.length;
    for (const e of r.events) if (e.i > 0) transit.push(e.transitMs);
    if (r.usageTransitMs >= 0) usageTransit.push(r.usageTransitMs);
    for (let i = 1; i < r.events.length; i++) gaps.push(r.events[i]!.atMs - r.events[i - 1]!.atMs);
  }
  client.close();
  const newConn: number[] = [];
  for (let k = 0; k < runs; k++) {
    const r = await client.stream(headers, 2, 1, timeout);
    client.close();
    if (r.firstEventMs >= 0) newConn.push(r.firstEventMs);
  }
  return {
    runs,
    failed,
    events,
    firstByteMedianMs: median(firstByte),
    firstEventMedianMs: median(firstEvent),
    firstEventP90Ms: quantile(firstEvent, 0.9),
    firstEventNewConnMedianMs: median(newConn),
    transitMedianMs: median(transit),
    transitP90Ms: quantile(transit, 0.9),
    gapMeanMs: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : NaN,
    usageEvents: usageTransit.length,
    usageTransitMedianMs: median(usageTransit),
  };
}

/** Memory of a target holding idle open streams. Sizes in KiB. */
export interface IdleResult {
  requested: number;
  open: number;
  failed: number;
  rssBeforeKiB: number;
  /** With the first half open. */
  rssHalfKiB: number;
  rssOpenKiB: number;
  rssAfterCloseKiB: number;
  /** (open − before) / open streams: the reported figure. */
  perStreamKiB: number;
  /** (open − half) / second half: the same without start-up effects, as a cross-check. */
  perStreamSecondHalfKiB: number;
}

/**
 * Memory per idle open stream. Run on a freshly started target (so garbage left by the
 * load phases cannot be collected during the measurement and hide the streams): warms
 * it up with a few requests and streams, then opens `count` streams that stay open
 * (one event, then silence) in two halves and reads the RSS of the target's processes
 * before, at half, with all open, and after they are closed.
 */
export async function idle(
  port: number,
  headers: Record<string, string>,
  proc: Proc,
  count: number,
): Promise<IdleResult> {
  const warm = new SseClient(port);
  for (let i = 0; i < 20; i++) await warm.stream(headers, 2, 1, 10_000);
  warm.close();
  const w = await openIdleStreams(port, headers, Math.min(100, count), 600_000, 30_000);
  w.close();
  await sleep(1500);
  const rssBeforeKiB = treeRssKiB(proc.pid);
  const half = Math.floor(count / 2);
  const a = await openIdleStreams(port, headers, half, 600_000, 60_000);
  await sleep(500);
  const rssHalfKiB = treeRssKiB(proc.pid);
  const b = await openIdleStreams(port, headers, count - half, 600_000, 60_000);
  await sleep(1000);
  const rssOpenKiB = treeRssKiB(proc.pid);
  a.close();
  b.close();
  await sleep(1500);
  const rssAfterCloseKiB = treeRssKiB(proc.pid);
  const open = a.open + b.open;
  return {
    requested: count,
    open,
    failed: a.failed + b.failed,
    rssBeforeKiB,
    rssHalfKiB,
    rssOpenKiB,
    rssAfterCloseKiB,
    perStreamKiB: open > 0 ? (rssOpenKiB - rssBeforeKiB) / open : NaN,
    perStreamSecondHalfKiB: b.open > 0 ? (rssOpenKiB - rssHalfKiB) / b.open : NaN,
  };
}
