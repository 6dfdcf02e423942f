import type { RequestBody } from "../llm/mod.ts";
import type { ClientReservation } from "../state/types.ts";
import { methodLabel } from "../metrics/mod.ts";
import { trafficHistory } from "../metrics/history.ts";
import { errorResponse, type ProxyErrorCode, statusOf } from "./errors.ts";
import type { ConnInfo, ProxyDeps } from "./deps.ts";
import type { ForwardRuntime } from "./snapshot.ts";

/** Why a request ended without a clean answer, as the access log says it. */
export type EndError = ProxyErrorCode | "client_gone" | "upstream_body_cut";

/**
 * A signal that never fires, made on first use: Workers forbid creating an
 * AbortController at module scope (the bundle would not start).
 */
let never: AbortSignal | undefined;

/**
 * One client request from arrival to the end of its answer: the facts the access log
 * and metrics need, the client's signal, and the single place that records the end
 * (`finish`, exactly once).
 */
export class Exchange {
  route = "default";
  group = "";
  upstream = "";
  attempts = 0;
  ttfbMs = -1;
  /** The buffered request body's lazy view (model, fields), once the body was read. */
  requestBody: RequestBody | undefined;
  /** The client (docs/behaviour.md#client-keys-and-limits) once known: its name, or `anonymous`. */
  clientName: string | undefined;
  /** Tokens reserved under the client's limits until the answer ends. */
  reservation: ClientReservation | undefined;
  /** An upstream answered (headers arrived), so its usage or the estimate counts. */
  upstreamAnswered = false;
  /** Token usage the answer reported (docs/behaviour.md#token-usage), for the access log. */
  usage: { model?: string; input?: number; output?: number; ttftMs?: number } | undefined;
  readonly start: number;
  readonly method: string;
  /** Fires when the client leaves before its answer is complete. */
  readonly signal: AbortSignal;
  #finished = false;

  constructor(
    readonly gw: ProxyDeps,
    readonly fwd: ForwardRuntime,
    readonly conn: ConnInfo,
    readonly path: string,
    method: string,
    /** The resolved client (behind a trusted proxy: from X-Forwarded-For). */
    readonly client: string,
    /** The peer is a trusted proxy. */
    readonly viaTrustedProxy: boolean,
    readonly done: () => void,
  ) {
    this.start = gw.clock.now();
    this.method = method;
    this.signal = conn.signal ?? (never ??= new AbortController().signal);
  }

  /** Records the end of the request in metrics and the access log; once. */
  finish(status: number, bytes: number, error?: EndError): void {
    if (this.#finished) return;
    this.#finished = true;
    const gw = this.gw;
    const now = gw.clock.now();
    const m = gw.metrics;
    const forward = this.fwd.config.name;
    const method = methodLabel(this.method);
    const series = m.routeSeries(forward, method, this.route);
    series.requests.inc();
    series.duration.observe((now - this.start) / 1000);
    if (error !== undefined && error !== "client_gone" && error !== "upstream_body_cut") {
      m.httpRequestErrors.labels(forward, error, String(status)).inc();
    } else if (status >= 400) {
      m.httpRequestErrors.labels(forward, "upstream_status", String(status)).inc();
    }
    // The dashboard's five-minute history (/ui, /api/v1/stats).
    trafficHistory(gw).record(
      now,
      forward,
      status,
      now - this.start,
      error,
      this.usage,
      this.clientName,
    );
    const reservation = this.reservation;
    if (reservation !== undefined) {
      this.reservation = undefined;
      const settled = this.#settleClient(reservation);
      this.conn.waitUntil?.(settled);
    }
    gw.logger.log("info", "access", {
      forward,
      client: this.client,
      client_name: this.clientName ?? null,
      method: this.method,
      path: this.path,
      route: this.route,
      group: this.group,
      upstream: this.upstream,
      status,
      attempts: this.attempts,
      ttfb_ms: this.ttfbMs < 0 ? null : Math.round(this.ttfbMs * 10) / 10,
      duration_ms: Math.round((now - this.start) * 10) / 10,
      bytes,
      model: this.usage?.model ?? this.requestModel() ?? null,
      input_tokens: this.usage?.input ?? null,
      output_tokens: this.usage?.output ?? null,
      ttft_ms: this.usage?.ttftMs === undefined ? null : Math.round(this.usage.ttftMs * 10) / 10,
      ...(error ? { error } : {}),
    });
    this.done();
  }

  /**
   * Gives a client's reservation back when the answer has ended: the tokens the
   * upstream reported (what it reported so far, when the client left mid-stream), else
   * the estimate when an upstream answered, else nothing (no upstream was reached).
   */
  #settleClient(reservation: ClientReservation): Promise<void> {
    const u = this.usage;
    const reported = u?.input !== undefined || u?.output !== undefined
      ? (u.input ?? 0) + (u.output ?? 0)
      : undefined;
    const used = reported ?? (this.upstreamAnswered ? undefined : 0);
    return this.gw.store.clients.settle(reservation, used).catch((e) => {
      this.gw.logger.log("warn", "state store call failed", {
        op: "client_settle",
        client: reservation.client,
        error: e instanceof Error ? e.message : String(e),
      });
    });
  }

  /** The request's model, when its body is JSON (parsed at most once). */
  requestModel(): string | undefined {
    const view = this.requestBody;
    return view !== undefined && view.isJson ? view.model : undefined;
  }

  /**
   * The proxy's own error answer, recorded. `close` asks the adapter to close the
   * connection after it (the request body was not read to its end).
   */
  fail(
    code: ProxyErrorCode,
    message: string,
    options: { retryAfterMs?: number; close?: boolean; headers?: Record<string, string> } = {},
  ): Response {
    const extra = options.close ? { ...options.headers, connection: "close" } : options.headers;
    const res = errorResponse(code, message, options.retryAfterMs, extra);
    this.finish(statusOf(code), 0, code);
    return res;
  }

  /** The client left: nothing is sent (499 is for the log only). */
  clientGone(): Response {
    this.finish(499, 0, "client_gone");
    return new Response(null, { status: 499 });
  }
}
