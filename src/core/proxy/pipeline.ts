import { backoffMs, MAX_BACKOFF_MS, parseRetryAfter, sleep } from "./backoff.ts";
import { Attempt, type AttemptEnd } from "./attempt.ts";
import { readBody } from "./body.ts";
import { forwardedClient, isTrustedPeer } from "./client_ip.ts";
import { admitClient, identifyClient } from "./client_gate.ts";
import type { ClientRuntime } from "./clients.ts";
import { Exchange } from "./exchange.ts";
import type { ConnInfo, ProxyDeps } from "./deps.ts";
import {
  clientResponseHeaders,
  forwardedForOf,
  setHeader,
  upstreamRequestHeaders,
} from "./headers.ts";
import { keepSmall, type KeptResponse } from "./kept_response.ts";
import { setBodyTap, takesTaps } from "./body_tap.ts";
import { bodyBytesOf, hasBody, tappableBodyOf, withInit } from "./native_body.ts";
import { type BodyEnd, observeBody } from "./observed_body.ts";
import { checkRequest, requestTarget } from "./request_checks.ts";
import type { ForwardRuntime, GroupRuntime, Snapshot, UpstreamRuntime } from "./snapshot.ts";
import { injectIncludeUsage, RequestBody, rewriteModel } from "../llm/mod.ts";
import { createUsageScanner } from "../usage/mod.ts";
import { recordUsage } from "./usage_accounting.ts";
import { targetUrl } from "./target_url.ts";
import { TransportError } from "./transport.ts";

/** Statuses worth another try while nothing has reached the client (docs/behaviour.md#retries-and-failover). */
const RETRIABLE = new Set([429, 500, 502, 503, 504]);
/** Statuses whose Retry-After pauses the member (docs/behaviour.md#availability). */
const PAUSING = new Set([429, 503]);

/**
 * checks → rate limit → route → body → (select → send)×tries → stream back.
 * `done` is called exactly once, when the response (body included) is over.
 */
export async function proxyRequest(
  gw: ProxyDeps,
  snap: Snapshot,
  fwd: ForwardRuntime,
  request: Request,
  conn: ConnInfo,
  done: () => void,
): Promise<Response> {
  const target = requestTarget(request);
  // The peer is checked against trusted_proxies once: for the client IP and for which
  // X-Forwarded-* headers are kept.
  const viaProxy = isTrustedPeer(conn.remoteAddr, fwd.trusted);
  const client = viaProxy
    ? forwardedClient(conn.remoteAddr, forwardedForOf(request.headers), fwd.trusted)
    : conn.remoteAddr;
  const ex = new Exchange(
    gw,
    fwd,
    conn,
    target?.path ?? "",
    request.method,
    client,
    viaProxy,
    done,
  );

  const problem = target === undefined
    ? { code: "invalid_request" as const, message: "the request target is not a valid URL" }
    : checkRequest(request);
  if (problem !== undefined) {
    await request.body?.cancel().catch(() => {});
    const headers = problem.headers ? { ...problem.headers } : undefined;
    return ex.fail(problem.code, problem.message, { close: true, ...(headers ? { headers } : {}) });
  }

  // The route is known before the rate limit so that a refusal is counted under it.
  const path = target!.path;
  const match = fwd.router.match(path);
  if (match) ex.route = match.pattern;

  // Rate limit before anything else: a refused request costs no body read.
  const limit = fwd.config.ratelimit;
  if (limit) {
    const d = await gw.store.rateLimit(`${fwd.config.name}\u0000${client}`, limit);
    if (!d.allowed) {
      gw.metrics.rateLimited.labels(fwd.config.name).inc();
      const unread = hasBody(request);
      await request.body?.cancel().catch(() => {});
      return ex.fail("rate_limited", "rate limit exceeded, retry later", {
        retryAfterMs: d.retryAfterMs,
        close: unread,
      });
    }
  }

  // The client's key (docs/behaviour.md#client-behaviour): after the per-IP limit, before the body is read.
  let clientRt: ClientRuntime | undefined;
  if (fwd.config.client_auth !== "off") {
    const who = await identifyClient(ex, fwd, snap, request.headers);
    if ("refusal" in who) {
      await request.body?.cancel().catch(() => {});
      return who.refusal;
    }
    clientRt = who.client;
  }

  const body = await readBody(
    request,
    fwd.config.max_body_size,
    Math.max(0, fwd.config.timeout.connect * 1000 - (gw.clock.now() - ex.start)),
    gw.clock,
  );
  if (!body.ok) {
    // The rest of the body is not read: the connection closes after the answer.
    if (body.reason === "body_too_large") {
      return ex.fail("body_too_large", `request body exceeds ${fwd.config.max_body_size} bytes`, {
        close: true,
      });
    }
    if (body.reason === "request_timeout") {
      return ex.fail("request_timeout", "client did not send the request in time", {
        close: true,
      });
    }
    return ex.clientGone();
  }

  // The body is parsed (at most once) only when something asks for the model or a field.
  const view = new RequestBody(body.body, request.headers.get("content-type"));
  ex.requestBody = view;
  // Model rules first (docs/behaviour.md#model-routing), then the path's route, then the default group.
  const byModel = fwd.modelRules.length > 0 ? modelRoute(fwd, view) : undefined;
  const groupName = byModel ?? (match ? match.value : fwd.config.default_group);
  ex.group = groupName;
  const group = snap.groups.get(groupName)!;

  if (clientRt !== undefined) {
    // The body is parsed for the model only when the client's models are restricted.
    const model = clientRt.models !== undefined && view.isJson ? view.model : undefined;
    const bytes = body.body?.byteLength ?? 0;
    const refused = await admitClient(ex, clientRt, groupName, model, bytes);
    if (refused !== undefined) return refused;
  }

  let sendBody = body.body;
  if (
    sendBody !== null && group.config.http_client.stream_usage && view.isJson &&
    path.endsWith("/chat/completions") && view.stream === true
  ) {
    // So the provider reports usage for streamed answers too (docs/behaviour.md#stream_usage).
    sendBody = injectIncludeUsage(sendBody, view.scan) as Uint8Array<ArrayBuffer>;
  }

  const tries = new Tries(ex, snap, group, request, sendBody, target!.search);
  for (;;) {
    const step = await tries.next();
    if (step.kind === "answer") return step.response;
    // A client that leaves during the wait is answered by the next try's first check.
    await sleep(step.waitMs, gw.clock, ex.signal);
  }
}

/** The group of the first model rule matching the request's model, if any. */
function modelRoute(fwd: ForwardRuntime, view: RequestBody): string | undefined {
  const model = view.model;
  if (model === undefined) return undefined;
  for (const rule of fwd.modelRules) if (rule.matches(model)) return rule.group;
  return undefined;
}

/** Longest hash key used as it is; longer ones are cut (the same in every runtime). */
const MAX_HASH_KEY = 4096;

/** The `hash` strategy's key for this request, or undefined when it has none. */
function hashKeyOf(ex: Exchange, group: GroupRuntime, request: Request): string | undefined {
  const spec = group.hashKey;
  if (spec === undefined) return undefined;
  const key = spec.source === "header"
    ? request.headers.get(spec.name) ?? undefined
    : spec.source === "client_ip"
    ? ex.client
    : ex.requestBody?.field(spec.field);
  return key !== undefined && key.length > MAX_HASH_KEY ? key.slice(0, MAX_HASH_KEY) : key;
}

/** What one try decided: answer the client, or wait and try again. */
type Step =
  | { readonly kind: "answer"; readonly response: Response }
  | { readonly kind: "retry"; readonly waitMs: number };

/** The tries of one request against its group (docs/behaviour.md#retries-and-failover). */
class Tries {
  readonly #ex: Exchange;
  readonly #snap: Snapshot;
  readonly #group: GroupRuntime;
  readonly #request: Request;
  readonly #body: Uint8Array<ArrayBuffer> | null;
  readonly #search: string;
  readonly #max: number;
  readonly #tried = new Set<string>();
  #n = 0;
  readonly #hashKey: string | undefined;
  /** The last retriable upstream answer, returned as it was when tries run out. */
  #kept: KeptResponse | undefined;
  /** The last transport failure. */
  #lastError: "timeout" | "unreachable" | undefined;

  constructor(
    ex: Exchange,
    snap: Snapshot,
    group: GroupRuntime,
    request: Request,
    body: Uint8Array<ArrayBuffer> | null,
    search: string,
  ) {
    this.#ex = ex;
    this.#snap = snap;
    this.#group = group;
    this.#request = request;
    this.#body = body;
    this.#search = search;
    this.#max = 1 + (group.config.http_client.retry?.attempts ?? 0);
    this.#hashKey = hashKeyOf(ex, group, request);
  }

  /** One try: choose a member, send, and decide what comes next. */
  async next(): Promise<Step> {
    const ex = this.#ex;
    if (ex.signal.aborted) return answer(ex.clientGone());
    const group = this.#group;
    const gname = group.config.name;
    const picked = await group.state.select(
      this.#hashKey === undefined ? this.#tried : { exclude: this.#tried, key: this.#hashKey },
    );
    if (!picked.ok) {
      if (this.#kept || this.#lastError) return answer(this.#giveUp());
      const m = this.#ex.gw.metrics;
      for (const mbr of group.config.upstreams) {
        if (this.#snap.upstreams.get(mbr.name)?.config.breaker) {
          m.upstreamErrors.labels("circuit_open", gname, mbr.name).inc();
        }
      }
      return answer(ex.fail("no_available_upstream", `no available upstream in group "${gname}"`, {
        retryAfterMs: picked.retryAfterMs,
      }));
    }
    const n = ++this.#n;
    const sel = picked.selection;
    this.#tried.add(sel.upstream);
    ex.attempts = n;
    ex.upstream = sel.upstream;
    const series = ex.gw.metrics.memberSeries(gname, sel.upstream);
    series.requests.inc();
    if (n > 1) series.retries.inc();

    const http = group.config.http_client;
    const deadlineMs = http.stream ? 0 : http.timeout.request * 1000;
    const attempt = new Attempt(ex, group, sel, deadlineMs, series);
    // Until the answer's body is handed to the client, this try owns the attempt.
    let end: AttemptEnd | undefined = "cancelled";
    try {
      const step = await this.#send(attempt, n);
      end = step.end;
      return step.step;
    } finally {
      if (end !== undefined) await attempt.end(end);
    }
  }

  /**
   * Sends one try and reads its answer. `end` is how the attempt ends now, or undefined
   * when the answer's body went to the client (the body's end ends the attempt).
   */
  async #send(attempt: Attempt, n: number): Promise<{ step: Step; end: AttemptEnd | undefined }> {
    const ex = this.#ex;
    const gw = ex.gw;
    const group = this.#group;
    const gname = group.config.name;
    const upstream = ex.upstream;
    const up = this.#snap.upstreams.get(upstream)!;
    const http = group.config.http_client;
    const headers = upstreamRequestHeaders(
      this.#request.headers,
      {
        peer: ex.conn.remoteAddr,
        proto: ex.conn.proto ?? "http",
        host: this.#request.headers.get("host"),
        agent: http.agent,
        trustForwarded: ex.viaTrustedProxy,
        // The client's key is for the proxy only (docs/behaviour.md#request-headers).
        dropClientKey: ex.fwd.config.client_auth !== "off",
      },
      up.config.headers,
      up.authorization,
    );
    if (gw.usageAccounting && this.#request.method === "POST" && ex.requestBody?.isJson) {
      // Usage is read from the answer's bytes (docs/behaviour.md#token-usage), which compression hides:
      // ask for them as they are, as the Deno transport does for what it sends by `fetch`. SDK
      // clients send `Accept-Encoding: gzip` and providers compress for them.
      setHeader(headers, "accept-encoding", "identity");
    }
    let res: Response;
    try {
      res = await group.transport.send({
        url: targetUrl(up.url, ex.path, this.#search),
        method: this.#request.method,
        headers,
        body: this.#bodyFor(up),
        signal: attempt.signal,
        abort: attempt.abort,
      });
    } catch (e) {
      if (!attempt.timedOut && ex.signal.aborted) {
        return { step: answer(ex.clientGone()), end: "cancelled" };
      }
      const kind = attempt.timedOut
        ? "timeout"
        : e instanceof TransportError
        ? e.kind
        : "unreachable";
      gw.metrics.upstreamErrors.labels(kind, gname, upstream).inc();
      this.#lastError = kind;
      gw.logger.log("debug", "upstream attempt failed", {
        group: gname,
        upstream,
        attempt: n,
        error: kind,
        detail: e instanceof Error ? e.message : String(e),
      });
      if (n >= this.#max) return { step: answer(this.#giveUp()), end: "failure" };
      const waitMs = backoffMs(n, http.retry!.initial, gw.random);
      return { step: { kind: "retry", waitMs }, end: "failure" };
    }

    const now = gw.clock.now();
    ex.upstreamAnswered = true;
    attempt.latencyMs = now - attempt.startedAt;
    ex.ttfbMs = now - ex.start;
    attempt.series.ttfb.observe(attempt.latencyMs / 1000);
    const status = res.status;
    const retryAfter = RETRIABLE.has(status)
      ? parseRetryAfter(res.headers.get("retry-after"), Date.now())
      : undefined;
    if (PAUSING.has(status) && retryAfter !== undefined) attempt.unavailableForMs = retryAfter;
    const verdict: AttemptEnd = status >= 500 ? "failure" : "complete";
    if (status >= 500) gw.metrics.upstreamErrors.labels("status_5xx", gname, upstream).inc();

    if (RETRIABLE.has(status) && n < this.#max && !ex.signal.aborted) {
      const read = await keepSmall(res);
      if (read.kind === "too_large") {
        // Too large to keep for later: the client gets this answer as it is.
        return { step: answer(this.#respond(read.response, attempt, verdict)), end: undefined };
      }
      if (read.kind === "kept") this.#kept = read.kept;
      const waitMs = retryAfter !== undefined && retryAfter <= MAX_BACKOFF_MS
        ? retryAfter
        : backoffMs(n, http.retry!.initial, gw.random);
      return { step: { kind: "retry", waitMs }, end: read.kind === "failed" ? "failure" : verdict };
    }
    return { step: answer(this.#respond(res, attempt, verdict)), end: undefined };
  }

  /** The body for one member: its `model_map` applied (docs/behaviour.md#model_map), else as it came. */
  #bodyFor(up: UpstreamRuntime): Uint8Array<ArrayBuffer> | null {
    const body = this.#body;
    if (body === null || up.modelMap === undefined) return body;
    const view = this.#ex.requestBody;
    const model = view?.model;
    if (model === undefined) return body;
    const mapped = up.modelMap(model);
    if (mapped === undefined || mapped === model) return body;
    // The view's scan describes the client's bytes; a body changed since is scanned anew.
    const scan = view!.bytes === body ? view!.scan : undefined;
    return rewriteModel(body, mapped, scan) as Uint8Array<ArrayBuffer>;
  }

  /**
   * Hands the upstream answer to the client. The attempt ends when its body does: a
   * body cut short is a failure of the member and the client's connection is cut.
   */
  #respond(res: Response, attempt: Attempt, verdict: AttemptEnd): Response {
    const ex = this.#ex;
    const gw = ex.gw;
    const status = res.status;
    const out = clientResponseHeaders(res.headers);
    const withBody = hasBody(res);
    // Usage is read from successful answers to POSTs, as they pass (docs/behaviour.md#token-usage).
    const length = res.headers.get("content-length");
    const usage = gw.usageAccounting && withBody && this.#request.method === "POST" &&
        status < 300
      ? createUsageScanner(res.headers, { now: () => gw.clock.now(), contentLength: length })
      : undefined;
    // A body the transport read whole is read for usage now: no tap is needed to see it.
    const whole = bodyBytesOf(res);
    const known = usage === undefined ? undefined : whole;
    if (known !== undefined) usage!.scan(known);
    const onEnd = (how: BodyEnd, bytes: number) => {
      let end: AttemptEnd = verdict;
      let error: "client_gone" | "upstream_body_cut" | "upstream_timeout" | undefined;
      if (how === "cancelled") error = "client_gone";
      else if (how === "error") {
        if (attempt.timedOut) {
          end = "failure";
          error = "upstream_timeout";
        } else if (ex.signal.aborted) error = "client_gone";
        else {
          end = "failure";
          error = "upstream_body_cut";
        }
      }
      const gname = this.#group.config.name;
      if (error === "upstream_body_cut" || error === "upstream_timeout") {
        const kind = error === "upstream_timeout" ? "timeout" : "unreachable";
        gw.metrics.upstreamErrors.labels(kind, gname, ex.upstream).inc();
      }
      if (usage !== undefined) {
        const complete = how === "complete";
        recordUsage(ex, { group: gname, upstream: ex.upstream, status, complete }, usage.end());
      }
      const ended = attempt.end(end);
      ex.conn.waitUntil?.(ended);
      ex.finish(status, bytes, error);
    };
    // A body of unknown length whose producer taps it (the Deno HTTP/1.1 client's) is
    // as cheap to tap as one of declared length.
    const taps = takesTaps(
      this.#request,
      length !== null || whole !== undefined || tappableBodyOf(res) !== undefined,
    );
    if (
      ex.conn.completed && withBody &&
      (taps || (length !== null && usage === undefined))
    ) {
      // The runtime tells when the response is out: hand it the upstream body as is, so
      // it can move the bytes without a round trip through JavaScript per chunk. Usage,
      // and the byte count of a body of unknown length (an event stream), are then read
      // by a tap the adapter calls as it writes (body_tap.ts).
      const declared = length === null ? undefined : Number(length);
      // What a tap saw go out: the access log's byte count of a body that ended early.
      let tapped = 0;
      // A failed send is the client leaving (its signal fired) or the body failing.
      const sent = () => this.#request.method === "HEAD" ? 0 : declared ?? tapped;
      ex.conn.completed.then(
        () => ex.signal.aborted ? onEnd("cancelled", tapped) : onEnd("complete", sent()),
        () => ex.signal.aborted ? onEnd("cancelled", tapped) : onEnd("error", tapped),
      );
      // Nothing to change in the headers: the runtime serves the upstream response itself
      // (on Deno without even creating a stream object for its body).
      const response = out === res.headers
        ? res
        : withInit(res, { status, statusText: res.statusText, headers: out });
      if (usage !== undefined && known === undefined) {
        setBodyTap(response, (chunk) => {
          tapped += chunk.byteLength;
          usage.scan(chunk);
        });
      } else if (declared === undefined) {
        setBodyTap(response, (chunk) => void (tapped += chunk.byteLength));
      }
      return response;
    }
    if (!withBody) {
      onEnd("complete", 0);
      return new Response(null, { status, statusText: res.statusText, headers: out });
    }
    const onChunk = usage === undefined || known !== undefined
      ? undefined
      : (chunk: Uint8Array) => usage.scan(chunk);
    return new Response(observeBody(res.body!, onEnd, onChunk), {
      status,
      statusText: res.statusText,
      headers: out,
    });
  }

  /** Tries ran out: the last upstream answer as it was, else the last failure. */
  #giveUp(): Response {
    const ex = this.#ex;
    // An upstream answer stays what the client gets, also when a later try failed to
    // connect.
    const kept = this.#kept;
    if (kept) {
      ex.finish(kept.status, kept.body.byteLength);
      return new Response(kept.body, {
        status: kept.status,
        statusText: kept.statusText,
        headers: kept.headers,
      });
    }
    const gname = this.#group.config.name;
    if (this.#lastError === "timeout") {
      return ex.fail("upstream_timeout", `upstream in group "${gname}" timed out`);
    }
    return ex.fail("upstream_unreachable", `upstream in group "${gname}" is unreachable`);
  }
}

function answer(response: Response): Step {
  return { kind: "answer", response };
}
