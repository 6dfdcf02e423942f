import { methodLabel } from "../metrics/mod.ts";
import type { AttemptOutcome, Selection } from "../state/types.ts";
import { backoffMs, MAX_BACKOFF_MS, parseRetryAfter, sleep } from "./backoff.ts";
import { readBody } from "./body.ts";
import { forwardedClient, isTrustedPeer } from "./client_ip.ts";
import { errorResponse, type ProxyErrorCode, statusOf } from "./errors.ts";
import type { ConnInfo, Gateway } from "./gateway.ts";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.ts";
import { type BodyEnd, observeBody } from "./observed_body.ts";
import type { ForwardRuntime, GroupRuntime, Snapshot } from "./snapshot.ts";
import { targetUrl } from "./target_url.ts";
import { TransportError } from "./transport.ts";

/** Statuses worth another try while nothing has reached the client (SPEC §5.5). */
const RETRIABLE = new Set([429, 500, 502, 503, 504]);
/** Statuses whose Retry-After pauses the member (SPEC §4.1). */
const PAUSING = new Set([429, 503]);
/** Longest error body kept in memory so it can be returned if retries run out. */
const KEEP_ERROR_BODY = 64 * 1024;
/**
 * A signal that never fires, made on first use: Workers forbid creating an
 * AbortController at module scope (the bundle would not start).
 */
let never: AbortSignal | undefined;

/** An upstream answer kept in memory while another try is made. */
interface KeptResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer>;
}

/** Per-request facts for the access log and metrics. */
class RequestRecord {
  group = "";
  upstream = "";
  route = "default";
  attempts = 0;
  ttfbMs = -1;
  viaTrustedProxy = false;
  constructor(
    readonly forward: string,
    readonly method: string,
    readonly path: string,
    readonly client: string,
    readonly start: number,
  ) {}
}

/**
 * rate limit → route → body → (select → breaker → send)×tries → stream back.
 * `done` is called exactly once, when the response (body included) is over.
 */
export async function proxyRequest(
  gw: Gateway,
  snap: Snapshot,
  fwd: ForwardRuntime,
  request: Request,
  conn: ConnInfo,
  done: () => void,
): Promise<Response> {
  const clock = gw.clock;
  const start = clock.now();
  const url = new URL(request.url);
  // The peer is checked against trusted_proxies once: for the client IP and for which
  // X-Forwarded-* headers are kept.
  const viaProxy = isTrustedPeer(conn.remoteAddr, fwd.trusted);
  const client = viaProxy
    ? forwardedClient(conn.remoteAddr, request.headers.get("x-forwarded-for"), fwd.trusted)
    : conn.remoteAddr;
  const rec = new RequestRecord(fwd.config.name, request.method, url.pathname, client, start);
  rec.viaTrustedProxy = viaProxy;
  const signal = conn.signal ?? request.signal ?? (never ??= new AbortController().signal);

  const finish = (status: number, bytes: number, error?: ProxyErrorCode | "client_gone") => {
    const now = clock.now();
    const m = gw.metrics;
    const method = methodLabel(rec.method);
    m.httpRequests.labels(rec.forward, method, rec.route).inc();
    m.httpRequestDuration.labels(rec.forward, method, rec.route).observe((now - start) / 1000);
    if (error !== undefined && error !== "client_gone") {
      m.httpRequestErrors.labels(rec.forward, error, String(status)).inc();
    } else if (status >= 400) {
      m.httpRequestErrors.labels(rec.forward, "upstream_status", String(status)).inc();
    }
    gw.logger.log("info", "access", {
      forward: rec.forward,
      client: rec.client,
      method: rec.method,
      path: rec.path,
      route: rec.route,
      group: rec.group,
      upstream: rec.upstream,
      status,
      attempts: rec.attempts,
      ttfb_ms: rec.ttfbMs < 0 ? null : Math.round(rec.ttfbMs * 10) / 10,
      duration_ms: Math.round((now - start) * 10) / 10,
      bytes,
      ...(error ? { error } : {}),
    });
    done();
  };
  const fail = (code: ProxyErrorCode, message: string, retryAfterMs?: number): Response => {
    const res = errorResponse(code, message, retryAfterMs);
    finish(statusOf(code), 0, code);
    return res;
  };

  // Rate limit before anything else: a refused request costs no routing or body read.
  const limit = fwd.config.ratelimit;
  if (limit) {
    const d = await gw.store.rateLimit(`${fwd.config.name}\u0000${client}`, limit);
    if (!d.allowed) {
      gw.metrics.rateLimited.labels(fwd.config.name).inc();
      await request.body?.cancel().catch(() => {});
      return fail("rate_limited", "rate limit exceeded, retry later", d.retryAfterMs);
    }
  }

  const match = fwd.router.match(url.pathname);
  const groupName = match ? match.value : fwd.config.default_group;
  if (match) rec.route = match.pattern;
  rec.group = groupName;
  const group = snap.groups.get(groupName)!;

  const body = await readBody(
    request,
    fwd.config.max_body_size,
    Math.max(0, fwd.config.timeout.connect * 1000 - (clock.now() - start)),
    clock,
  );
  if (!body.ok) {
    if (body.reason === "body_too_large") {
      return fail("body_too_large", `request body exceeds ${fwd.config.max_body_size} bytes`);
    }
    if (body.reason === "request_timeout") {
      return fail("request_timeout", "client did not send the request in time");
    }
    finish(499, 0, "client_gone");
    return new Response(null, { status: 499 });
  }

  return await attempts(gw, snap, group, request, url, body.body, signal, conn, rec, finish, fail);
}

async function attempts(
  gw: Gateway,
  snap: Snapshot,
  group: GroupRuntime,
  request: Request,
  url: URL,
  body: Uint8Array<ArrayBuffer> | null,
  signal: AbortSignal,
  conn: ConnInfo,
  rec: RequestRecord,
  finish: (status: number, bytes: number, error?: ProxyErrorCode | "client_gone") => void,
  fail: (code: ProxyErrorCode, message: string, retryAfterMs?: number) => Response,
): Promise<Response> {
  const clock = gw.clock;
  const m = gw.metrics;
  const http = group.config.http_client;
  const maxTries = 1 + (http.retry?.attempts ?? 0);
  const tried = new Set<string>();
  let kept: KeptResponse | undefined;
  let lastError: "timeout" | "unreachable" | undefined;
  const gname = group.config.name;

  const giveUp = (): Response => {
    if (kept) {
      finish(kept.status, kept.body.byteLength);
      return new Response(kept.body, { status: kept.status, headers: kept.headers });
    }
    if (lastError === "timeout") {
      return fail("upstream_timeout", `upstream in group "${gname}" timed out`);
    }
    return fail("upstream_unreachable", `upstream in group "${gname}" is unreachable`);
  };

  for (let n = 1;; n++) {
    if (signal.aborted) {
      finish(499, 0, "client_gone");
      return new Response(null, { status: 499 });
    }
    const picked = await group.state.select(tried);
    if (!picked.ok) {
      if (kept || lastError) return giveUp();
      for (const mbr of group.config.upstreams) {
        m.upstreamErrors.labels("circuit_open", gname, mbr.name).inc();
      }
      return fail(
        "no_available_upstream",
        `no available upstream in group "${gname}"`,
        picked.retryAfterMs,
      );
    }
    const sel = picked.selection;
    const up = snap.upstreams.get(sel.upstream)!;
    tried.add(sel.upstream);
    rec.attempts = n;
    rec.upstream = sel.upstream;
    m.upstreamRequests.labels(gname, sel.upstream).inc();
    if (n > 1) m.upstreamRetries.labels(gname, sel.upstream).inc();
    const inFlight = m.upstreamInFlight.labels(gname, sel.upstream);
    inFlight.inc();

    const attempt = new Attempt(
      gw,
      group,
      sel,
      signal,
      http.stream ? 0 : http.timeout.request * 1000,
    );
    const headers = upstreamRequestHeaders(
      request.headers,
      {
        clientIp: rec.client,
        proto: conn.proto ?? url.protocol.slice(0, -1),
        host: request.headers.get("host"),
        agent: http.agent,
        trustForwarded: rec.viaTrustedProxy,
      },
      up.config.headers,
      up.authorization,
    );
    const t0 = clock.now();
    let res: Response;
    try {
      res = await group.transport.send({
        url: targetUrl(up.url, url.pathname, url.search),
        method: request.method,
        headers,
        body,
        signal: attempt.signal,
        abort: attempt.abort,
      });
    } catch (e) {
      const kind = attempt.timedOut
        ? "timeout"
        : signal.aborted
        ? "cancelled"
        : e instanceof TransportError
        ? e.kind
        : "unreachable";
      m.upstreamDuration.labels(gname, sel.upstream).observe((clock.now() - t0) / 1000);
      inFlight.dec();
      if (kind === "cancelled") {
        await attempt.end({ kind: "cancelled" });
        finish(499, 0, "client_gone");
        return new Response(null, { status: 499 });
      }
      await attempt.end({ kind: "failure" });
      m.upstreamErrors.labels(kind, gname, sel.upstream).inc();
      // An earlier upstream answer, if any, stays what the client gets when tries run out.
      lastError = kind;
      gw.logger.log("debug", "upstream attempt failed", {
        group: gname,
        upstream: sel.upstream,
        attempt: n,
        error: kind,
        detail: e instanceof Error ? e.message : String(e),
      });
      if (n >= maxTries) return giveUp();
      // The loop's first check answers a client that left during the wait.
      await sleep(backoffMs(n, http.retry!.initial, gw.random), clock, signal);
      continue;
    }

    const latencyMs = clock.now() - t0;
    rec.ttfbMs = clock.now() - rec.start;
    m.upstreamTtfb.labels(gname, sel.upstream).observe(latencyMs / 1000);
    const status = res.status;
    const retryAfter = RETRIABLE.has(status)
      ? parseRetryAfter(res.headers.get("retry-after"), Date.now())
      : undefined;
    const outcome: AttemptOutcome = {
      kind: status >= 500 ? "failure" : "success",
      latencyMs,
      ...(PAUSING.has(status) && retryAfter !== undefined ? { unavailableForMs: retryAfter } : {}),
    };
    await attempt.settle(outcome);
    if (status >= 500) m.upstreamErrors.labels("status_5xx", gname, sel.upstream).inc();

    if (RETRIABLE.has(status) && n < maxTries && !signal.aborted) {
      // Keep the (small) error answer so it can be returned as it was if the tries run out.
      kept = await keepSmall(res);
      lastError = undefined;
      m.upstreamDuration.labels(gname, sel.upstream).observe((clock.now() - t0) / 1000);
      inFlight.dec();
      await attempt.end();
      const wait = retryAfter !== undefined && retryAfter <= MAX_BACKOFF_MS
        ? retryAfter
        : backoffMs(n, http.retry!.initial, gw.random);
      await sleep(wait, clock, signal);
      continue;
    }

    const out = clientResponseHeaders(res.headers);
    const onEnd = (how: BodyEnd, bytes: number) => {
      m.upstreamDuration.labels(gname, sel.upstream).observe((clock.now() - t0) / 1000);
      inFlight.dec();
      const ended = attempt.end();
      conn.waitUntil?.(ended);
      if (how === "complete") finish(status, bytes);
      else finish(status, bytes, how === "cancelled" ? "client_gone" : undefined);
    };
    const length = res.headers.get("content-length");
    if (conn.completed && length !== null) {
      // The runtime tells when the response is out: hand it the upstream body as is, so
      // it can move the bytes without a round trip through JavaScript per chunk.
      const bytes = request.method === "HEAD" ? 0 : Number(length);
      // Deno resolves `completed` also when the client left mid-body; its signal tells.
      conn.completed.then(
        () => signal.aborted ? onEnd("cancelled", 0) : onEnd("complete", bytes),
        () => onEnd("cancelled", 0),
      );
      // Nothing to change in the headers: the runtime serves the upstream response itself
      // (on Deno without even creating a stream object for its body).
      if (out === res.headers) return res;
      return new Response(res.body, { status, statusText: res.statusText, headers: out });
    }
    if (res.body === null) {
      onEnd("complete", 0);
      return new Response(null, { status, statusText: res.statusText, headers: out });
    }
    return new Response(observeBody(res.body, onEnd), {
      status,
      statusText: res.statusText,
      headers: out,
    });
  }
}

async function keepSmall(res: Response): Promise<KeptResponse | undefined> {
  // A copy: the length is set anew for the kept bytes.
  const headers = new Headers(clientResponseHeaders(res.headers));
  if (!res.body) return { status: res.status, headers, body: new Uint8Array(0) };
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > KEEP_ERROR_BODY) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      parts.push(value);
    }
  } catch {
    return undefined;
  }
  const body = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    body.set(p, o);
    o += p.byteLength;
  }
  headers.delete("content-length");
  return { status: res.status, headers, body };
}

/**
 * One try against one member: its abort signal (client gone or request deadline) and
 * the exactly-once settle/release of the selection.
 */
class Attempt {
  readonly #ac = new AbortController();
  readonly #gw: Gateway;
  readonly #group: GroupRuntime;
  readonly #sel: Selection;
  readonly #client: AbortSignal;
  readonly #onClientAbort: () => void;
  #timer: unknown;
  #ended = false;
  timedOut = false;

  constructor(
    gw: Gateway,
    group: GroupRuntime,
    sel: Selection,
    client: AbortSignal,
    deadlineMs: number,
  ) {
    this.#gw = gw;
    this.#group = group;
    this.#sel = sel;
    this.#client = client;
    this.#onClientAbort = () => this.#ac.abort(client.reason);
    client.addEventListener("abort", this.#onClientAbort, { once: true });
    gw.running.add(this.#ac);
    if (deadlineMs > 0) {
      this.#timer = gw.clock.setTimeout(() => {
        this.timedOut = true;
        this.#ac.abort(new DOMException("upstream request timed out", "TimeoutError"));
      }, deadlineMs);
    }
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** Lets the transport end the exchange itself (e.g. a connect it saw time out). */
  readonly abort = (reason: unknown): void => this.#ac.abort(reason);

  settle(outcome: AttemptOutcome): Promise<void> {
    return this.#group.state.settle(this.#sel, outcome);
  }

  /** Settles (if not yet) and releases the member; stops the deadline. */
  async end(outcome?: AttemptOutcome): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== undefined) this.#gw.clock.clearTimeout(this.#timer);
    this.#client.removeEventListener("abort", this.#onClientAbort);
    this.#gw.running.delete(this.#ac);
    if (outcome) await this.#group.state.settle(this.#sel, outcome);
    await this.#group.state.release(this.#sel);
  }
}
