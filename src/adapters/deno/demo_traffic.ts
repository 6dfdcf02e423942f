/**
 * The demo's opening traffic: a bounded burst of chat requests through the proxy, so
 * what the demo promises is visible at once: flaky's 503s retried on another member
 * (the client sees only 200s) and flaky's circuit breaker opening. Reads the figures
 * back from `/metrics`, as an operator would.
 *
 * @module
 */

/** What the opening traffic showed. */
export interface DemoTraffic {
  /** Client-side status → count. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Attempts sent to flaky, and those it answered 503. */
  readonly flakyAttempts: number;
  readonly flakyFailures: number;
  /** `llmproxy_upstream_retries_total` over the group. */
  readonly retries: number;
  /** flaky's breaker as `llmproxy_circuitbreaker_state` says: closed, open or half_open. */
  readonly flakyBreaker: string;
}

const REQUEST_MS = 5_000;
const READY_MS = 10_000;

/** Waits (bounded) for `/ready`, then sends `count` requests, `parallel` at a time. */
export async function runDemoTraffic(
  base: string,
  admin: string,
  count = 36,
  parallel = 4,
): Promise<DemoTraffic> {
  await waitReady(admin);
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const status = await chat(base);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const text = await (await fetch(`${admin}/metrics`, {
    signal: AbortSignal.timeout(REQUEST_MS),
  })).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1] ?? 0), 0);
  const state = sum(/^llmproxy_circuitbreaker_state\{[^}]*upstream="flaky"[^}]*\} (\S+)$/gm);
  return {
    statuses,
    flakyAttempts: sum(/^llmproxy_upstream_requests_total\{[^}]*upstream="flaky"[^}]*\} (\S+)$/gm),
    flakyFailures: sum(
      /^llmproxy_upstream_errors_total\{error="status_5xx"[^}]*upstream="flaky"[^}]*\} (\S+)$/gm,
    ),
    retries: sum(/^llmproxy_upstream_retries_total\{group="chat"[^}]*\} (\S+)$/gm),
    flakyBreaker: ["closed", "open", "half_open"][state] ?? String(state),
  };
}

/** One line for the console. */
export function describeDemoTraffic(t: DemoTraffic): string {
  const answered = Object.entries(t.statuses).map(([s, n]) => `${n} × ${s}`).join(", ");
  return `opening traffic: ${answered}. flaky answered ${t.flakyFailures} of its ` +
    `${t.flakyAttempts} attempts with 503; each was retried on another member ` +
    `(llmproxy_upstream_retries_total ${t.retries}), so no client saw one. ` +
    `flaky's circuit breaker: ${t.flakyBreaker}` +
    (t.flakyBreaker === "open" ? " (traffic skips it; it half-opens after 10 s)." : ".");
}

async function waitReady(admin: string): Promise<void> {
  const until = Date.now() + READY_MS;
  for (;;) {
    try {
      const r = await fetch(`${admin}/ready`, { signal: AbortSignal.timeout(1_000) });
      await r.body?.cancel();
      if (r.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) throw new Error(`the demo proxy was not ready within ${READY_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function chat(base: string): Promise<string> {
  try {
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hi" }] }),
      signal: AbortSignal.timeout(REQUEST_MS),
    });
    await r.body?.cancel();
    return String(r.status);
  } catch (e) {
    return e instanceof Error ? e.name : "error";
  }
}
