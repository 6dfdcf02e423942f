import { internalErrorResponse, logUnhandled } from "../../core/proxy/errors.ts";
import type { Listener, ServeOptions } from "../../daemon/runtime.ts";
import { connectionBudget } from "../../daemon/connection_budget.ts";
import { bodyTapOf, offerTaps } from "../../core/proxy/body_tap.ts";
import { hasBody, withInit } from "../../core/proxy/native_body.ts";
import { tappedResponse } from "./tapped_body.ts";

/**
 * A listener that owns its connections: `Deno.listen` accepts, `Deno.serveHttp` speaks
 * HTTP on each connection.
 *
 * `Deno.serve` cannot bound what a client does before its request head is complete (no
 * head or idle timeout), never closes a connection after an answer such as 408, and an
 * accept that fails for lack of descriptors ends the process. Owning the accept loop
 * and each connection gives us:
 * - a bounded number of connections, below the process's descriptor limit so that
 *   upstream sockets always find one; at the bound the oldest idle connection is shed,
 *   and an accept that fails (EMFILE) waits instead of ending anything;
 * - a deadline for every connection that is not running a request: its (next) request
 *   head must arrive within `timeouts().headMs`, else the connection is closed;
 * - `Connection: close` on an answer (408, 413) closes the connection once it is sent;
 * - the client leaving is seen at once: each connection always has a `nextRequest()`
 *   pending, which ends when the peer closes, and aborts the running request's signal.
 *
 * Measured (wrk, 64 connections, hello-world handler, 2 cores): `Deno.serveHttp`
 * serves 44k–77k req/s against 92k–99k for `Deno.serve`, about 3–13 µs more per
 * request; the proxy itself spends ~180 µs per request.
 */
export function denoServe(options: ServeOptions): Promise<Listener> {
  return Promise.resolve(new ConnListener(options));
}

/** How long a draining connection is kept after its last answer, so the answer's end is written. */
const DRAIN_FLUSH_MS = 50;

/** The part of `Deno.serveHttp`'s connection this listener uses. */
interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
  close(): void;
}
interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response): Promise<void>;
}
type ServeHttp = (conn: Deno.Conn) => HttpConn;

/** One accepted connection and what it is doing. */
class Conn {
  readonly http: HttpConn;
  /** Requests answered but not yet fully sent (HTTP/1.1: at most one). */
  busy = 0;
  /** When the connection, if idle, must have delivered a request head. */
  deadline: number;
  closed = false;
  /** Aborts the running request's signal (client gone). */
  running: AbortController | undefined;
  constructor(readonly tcp: Deno.Conn, http: HttpConn, deadline: number) {
    this.http = http;
    this.deadline = deadline;
  }
}

class ConnListener implements Listener {
  readonly hostname: string;
  readonly port: number;
  readonly #options: ServeOptions;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Conn>();
  readonly #max: number;
  readonly #sweep: ReturnType<typeof setInterval>;
  #accepting = true;
  #acceptErrorLoggedAt = Number.NEGATIVE_INFINITY;
  #draining = false;
  #wakeAccept: (() => void) | undefined;
  #onEmpty: (() => void) | undefined;
  readonly #loop: Promise<void>;

  constructor(options: ServeOptions) {
    this.#options = options;
    this.#listener = Deno.listen({
      hostname: options.hostname,
      port: options.port,
      // A new process can bind the port before this one has drained (warm restart).
      ...(Deno.build.os === "linux" ? { reusePort: true } : {}),
    } as Deno.TcpListenOptions);
    const addr = this.#listener.addr as Deno.NetAddr;
    this.hostname = addr.hostname;
    this.port = addr.port;
    this.#max = options.maxConnections ?? connectionBudget(readLimits());
    const every = Math.min(1000, Math.max(100, this.#headMs() / 4));
    this.#sweep = setInterval(() => this.#closeOverdue(), every);
    this.#loop = this.#acceptLoop();
  }

  #headMs(): number {
    return this.#options.timeouts?.().headMs ?? 60_000;
  }

  async #acceptLoop(): Promise<void> {
    const serveHttp = (Deno as unknown as { serveHttp: ServeHttp }).serveHttp;
    while (this.#accepting) {
      if (this.#conns.size >= this.#max && !this.#shedIdle()) {
        // Every connection is running a request: accept again once one ends.
        await new Promise<void>((r) => this.#wakeAccept = r);
        continue;
      }
      let tcp: Deno.Conn;
      try {
        tcp = await this.#listener.accept();
      } catch (e) {
        if (!this.#accepting) break;
        // Out of descriptors (EMFILE/ENFILE) or a connection reset before it was
        // accepted: shed what we can, give the process a moment, and go on.
        this.#shedIdle();
        const now = Date.now();
        if (now - this.#acceptErrorLoggedAt >= 10_000) {
          this.#acceptErrorLoggedAt = now;
          logUnhandled("accept failed; shedding idle connections and retrying", e);
        }
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // As Deno.serve does: small answers and SSE events leave at once (no Nagle delay).
      try {
        (tcp as Deno.TcpConn).setNoDelay?.(true);
      } catch {
        // not a TCP socket
      }
      let http: HttpConn;
      try {
        http = serveHttp(tcp);
      } catch (e) {
        logUnhandled("cannot serve a connection", e);
        tcp.close();
        continue;
      }
      const conn = new Conn(tcp, http, Date.now() + this.#headMs());
      this.#conns.add(conn);
      void this.#serveConn(conn);
    }
  }

  async #serveConn(conn: Conn): Promise<void> {
    try {
      for (;;) {
        let event: RequestEvent | null;
        try {
          event = await conn.http.nextRequest();
        } catch {
          event = null; // a protocol error or the response body failed: the connection is over
        }
        if (event === null) break;
        conn.deadline = Number.POSITIVE_INFINITY;
        conn.busy++;
        // Not awaited: the next nextRequest() is what tells that the peer left.
        void this.#respond(conn, event);
      }
    } finally {
      this.#drop(conn);
    }
  }

  async #respond(conn: Conn, event: RequestEvent): Promise<void> {
    const ac = new AbortController();
    conn.running = ac;
    let sent!: () => void;
    let lost!: (e: unknown) => void;
    const completed = new Promise<void>((resolve, reject) => {
      sent = resolve;
      lost = reject;
    });
    completed.catch(() => {});
    let closeAfter = false;
    try {
      // This listener shows answers' body taps their bytes (see sendAnswer).
      offerTaps(event.request);
      let response: Response;
      try {
        response = await this.#options.handler(event.request, {
          remoteAddr: (conn.tcp.remoteAddr as Deno.NetAddr).hostname,
          signal: ac.signal,
          completed,
        });
      } catch (e) {
        logUnhandled("unhandled error", e);
        response = internalErrorResponse();
      }
      try {
        await sendAnswer(event, response);
        sent();
      } catch (e) {
        // The client left (the connection ended first) or the body we passed on failed
        // (the upstream cut it): the core tells the two apart by the request's signal.
        if (conn.closed || isClientGone(e)) ac.abort(new DOMException("client gone", "AbortError"));
        lost(e);
        closeAfter = true;
      }
    } finally {
      conn.running = undefined;
      conn.busy--;
      // An answer that says `Connection: close` (408, 413) makes the runtime close the
      // connection once it is sent, without reading the rest of the request; the
      // deadline below closes it in any case should that not happen.
      if (closeAfter) this.#close(conn);
      else if (this.#draining) {
        // `respondWith` can settle before the runtime has written the end of a streamed
        // body (the last chunk of an event stream); closing at once would cut it, so the
        // connection gets a moment to flush first.
        setTimeout(() => this.#close(conn), DRAIN_FLUSH_MS);
      } else if (conn.busy === 0) conn.deadline = Date.now() + this.#headMs();
    }
  }

  /** Closes connections whose request head is overdue (slow or idle clients). */
  #closeOverdue(): void {
    const now = Date.now();
    for (const c of this.#conns) if (c.busy === 0 && c.deadline <= now) this.#close(c);
  }

  /** Closes the idle connection that has waited longest; false when none is idle. */
  #shedIdle(): boolean {
    let oldest: Conn | undefined;
    for (const c of this.#conns) {
      if (c.busy === 0 && (oldest === undefined || c.deadline < oldest.deadline)) oldest = c;
    }
    if (oldest === undefined) return false;
    this.#close(oldest);
    return true;
  }

  #close(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.running?.abort(new DOMException("connection closed", "AbortError"));
    try {
      conn.http.close();
    } catch {
      // already closed by the runtime
    }
    this.#drop(conn);
  }

  #drop(conn: Conn): void {
    if (!conn.closed) {
      conn.closed = true;
      // The peer left while a response was still running: that request's client is gone.
      conn.running?.abort(new DOMException("client gone", "AbortError"));
      try {
        conn.http.close();
      } catch {
        // already closed
      }
    }
    if (!this.#conns.delete(conn)) return;
    this.#wakeAccept?.();
    this.#wakeAccept = undefined;
    if (this.#conns.size === 0) this.#onEmpty?.();
  }

  #stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    this.#wakeAccept?.();
    clearInterval(this.#sweep);
  }

  async shutdown(): Promise<void> {
    this.#draining = true;
    this.#stopAccepting();
    for (const c of this.#conns) if (c.busy === 0) this.#close(c);
    if (this.#conns.size > 0) await new Promise<void>((r) => this.#onEmpty = r);
    await this.#loop;
  }

  async close(): Promise<void> {
    this.#draining = true;
    this.#stopAccepting();
    for (const c of this.#conns) this.#close(c);
    await this.#loop;
  }
}

/**
 * Hands the answer to the runtime. A body without a tap goes as it is (a fetch body is
 * then copied natively, never entering JavaScript); one with a tap is sent so the tap
 * sees each chunk right after it was handed over (tapped_body.ts).
 */
async function sendAnswer(event: RequestEvent, answer: Response): Promise<void> {
  const tap = bodyTapOf(answer);
  const response = untransformed(event.request, answer);
  if (tap === undefined) return await event.respondWith(response);
  const tapped = await tappedResponse(response, tap);
  const sending = event.respondWith(tapped.response);
  if (tapped.whole !== undefined) tap(tapped.whole);
  await sending;
  const failure = tapped.failure?.();
  if (failure !== undefined) throw failure;
}

/**
 * `response` as the runtime is to send it unchanged. Deno's HTTP server compresses a
 * compressible answer (JSON, text) for a client that accepts gzip or br, re-encoding the
 * upstream's bytes and spending the proxy's CPU on it; a proxy passes them as they came
 * (docs/runtimes.md#deno-primary). `Cache-Control: no-transform` is what turns that off,
 * so it is added for such clients to answers that have no `Content-Encoding` (the runtime
 * adds `Vary: Accept-Encoding` either way).
 */
function untransformed(request: Request, response: Response): Response {
  const accepts = request.headers.get("accept-encoding");
  if (accepts === null || !/\b(gzip|br)\b/i.test(accepts)) return response;
  if (!hasBody(response) || response.headers.has("content-encoding")) return response;
  const cc = response.headers.get("cache-control");
  if (cc !== null && /\bno-transform\b/i.test(cc)) return response;
  const headers = new Headers(response.headers);
  headers.set(
    "cache-control",
    cc === null || cc.trim() === "" ? "no-transform" : `${cc}, no-transform`,
  );
  return withInit(response, { status: response.status, headers });
}

/** Linux's per-process limits, when readable. */
function readLimits(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/self/limits");
  } catch {
    return undefined;
  }
}

/** The runtime's words for a peer that closed before the response was sent. */
function isClientGone(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /connection closed|broken pipe|reset by peer|connection error/i.test(m);
}
