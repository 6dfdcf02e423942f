import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { errorResponse, internalErrorResponse, logUnhandled } from "../../core/proxy/errors.ts";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { connectionBudget } from "../../daemon/connection_budget.ts";
import type { Listener, ServeOptions } from "../../daemon/runtime.ts";
import { peerAddress, toRequest } from "./incoming.ts";
import { writeResponse } from "./outgoing.ts";
import { offerTaps } from "../../core/proxy/body_tap.ts";

/**
 * A listener on `node:http`.
 *
 * Time limits when `timeouts` is given (a forward's `timeout.connect`, read again for
 * every request so a reload changes them):
 * - the request head must be complete within it, counted from the connection's
 *   start or the end of the previous response (`headersTimeout`: Node answers 408
 *   and closes, also a connection that sends nothing at all); an idle keep-alive
 *   connection is closed after it too (`keepAliveTimeout`);
 * - the body is the core's job (it reads it with the same deadline and answers 408 in
 *   the OpenAI error shape with `Connection: close`, so Node closes the connection
 *   without reading the rest); Node's `requestTimeout` is set to twice the limit plus
 *   1 s, only as a backstop for bodies nobody reads;
 * - Node checks these every `connectionsCheckingInterval`, set to a quarter of the
 *   limit (100 ms–1 s) instead of Node's 30 s, so they fire on time.
 *
 * Node 20 has no `reusePort`, so unlike Deno on Linux, a new process cannot bind the
 * port while the old one drains (no warm restart on the same port).
 */
export function nodeServe(options: ServeOptions): Promise<Listener> {
  const limitMs = options.timeouts?.().headMs;
  const checkMs = limitMs !== undefined ? Math.min(1000, Math.max(100, limitMs / 4)) : 0;
  const server = createServer({
    noDelay: true,
    ...(limitMs !== undefined
      ? {
        headersTimeout: limitMs,
        requestTimeout: 2 * limitMs + 1000,
        keepAliveTimeout: limitMs,
        connectionsCheckingInterval: checkMs,
      }
      : {}),
  });
  // Connections beyond the budget are closed at once (Node sheds them), so upstream
  // sockets always find a descriptor.
  server.maxConnections = options.maxConnections ?? connectionBudget(readLimits());
  const refreshLimits = () => {
    const ms = options.timeouts?.().headMs;
    if (ms === undefined || ms === server.headersTimeout) return;
    server.headersTimeout = ms;
    server.requestTimeout = 2 * ms + 1000;
    server.keepAliveTimeout = ms;
  };

  let closing = false;
  let closed = false;
  const closedPromise = new Promise<void>((resolve) =>
    server.once("close", () => {
      closed = true;
      resolve();
    })
  );

  // While draining, a connection closes as soon as its response is over.
  const running = new Set<ServerResponse>();
  const closeWhenDone = (res: ServerResponse) =>
    res.once("finish", () => server.closeIdleConnections());

  let listenerHost = "";
  // A reload may change the limits: follow them (Node reads these on every check).
  const follow = limitMs !== undefined ? setInterval(refreshLimits, 1000) : undefined;
  follow?.unref();
  server.once("close", () => clearInterval(follow));

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    running.add(res);
    // Write errors show as "close" (handled below); never let one crash the process.
    res.on("error", () => {});
    const ac = new AbortController();
    // Settles once the response is fully written (or rejects when the client left), so
    // the core can hand a body of known length over without wrapping it.
    let sent!: () => void;
    let lost!: (e: unknown) => void;
    const completed = new Promise<void>((resolve, reject) => {
      sent = resolve;
      lost = reject;
    });
    completed.catch(() => {});
    let bodyFailed = false;
    const onBodyError = (e: unknown) => {
      bodyFailed = true;
      lost(e);
    };
    res.once("close", () => {
      running.delete(res);
      if (res.writableFinished) sent();
      else if (!bodyFailed) {
        const gone = new DOMException("the client went away", "AbortError");
        ac.abort(gone);
        lost(gone);
      }
    });
    if (closing) closeWhenDone(res);

    let request: Request;
    try {
      request = toRequest(req, listenerHost);
    } catch {
      // A request no `Request` can hold (`TRACE`, a bad target): the client's error.
      await writeResponse(res, refusal(req.method ?? ""), ac.signal, false);
      return;
    }
    // writeResponse shows answers' body taps what it writes (usage accounting).
    // Streams too: the writer pipes them natively (lazy_body.ts).
    offerTaps(request, "all");
    let response: Response;
    try {
      response = await options.handler(request, {
        remoteAddr: peerAddress(req),
        signal: ac.signal,
        completed,
      });
    } catch (e) {
      logUnhandled("unhandled error", e);
      response = internalErrorResponse();
    }
    try {
      await writeResponse(res, response, ac.signal, !closing, onBodyError);
    } catch (e) {
      logUnhandled("unhandled error", e);
    }
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((e) => logUnhandled("unhandled error", e));
  });
  // CONNECT never reaches "request": refuse it in the same shape as TRACE.
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    void answerRaw(socket, refusal(req.method ?? "CONNECT"));
  });
  // A head that timed out or could not be parsed: an OpenAI-shaped answer, then close.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const answer = timedOut
      ? errorResponse("request_timeout", "client did not send the request head in time")
      : tooLarge
      ? errorResponse("invalid_request", "request head too large")
      : errorResponse("invalid_request", "malformed HTTP request");
    void answerRaw(socket, answer, tooLarge ? 431 : undefined);
  });

  const shutdown = (): Promise<void> => {
    if (!closing) {
      closing = true;
      // Stop accepting; idle keep-alive connections close now, busy ones when their
      // response is over, and responses that start from now on say `Connection: close`.
      if (!closed) server.close();
      server.closeIdleConnections();
      for (const res of running) closeWhenDone(res);
    }
    return closed ? Promise.resolve() : closedPromise;
  };
  const close = (): Promise<void> => {
    closing = true;
    if (!closed) {
      server.close();
      server.closeAllConnections();
    }
    return closed ? Promise.resolve() : closedPromise;
  };

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.hostname, port: options.port }, () => {
      server.off("error", reject);
      server.on("error", (e) => logUnhandled("server error", e));
      const addr = server.address() as AddressInfo;
      listenerHost = addr.family === "IPv6"
        ? `[${addr.address}]:${addr.port}`
        : `${addr.address}:${addr.port}`;
      resolve({ hostname: addr.address, port: addr.port, shutdown, close });
    });
  });
}

/** Linux's per-process limits, when readable. */
function readLimits(): string | undefined {
  try {
    return readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
}

/** The answer to a request that cannot be proxied at all. */
function refusal(method: string): Response {
  const m = method.toUpperCase();
  return m === "CONNECT" || m === "TRACE" || m === "TRACK"
    ? errorResponse("method_not_allowed", `method ${m} cannot be proxied`, undefined, {
      allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      connection: "close",
    })
    : errorResponse("invalid_request", "the request target is not a valid URL", undefined, {
      connection: "close",
    });
}

/** Writes a small answer straight to a socket that has no response object, then closes. */
async function answerRaw(socket: Duplex, response: Response, status?: number): Promise<void> {
  try {
    if (!socket.writable) return;
    const body = new Uint8Array(await response.arrayBuffer());
    const code = status ?? response.status;
    const reason = STATUS_CODES[code] ?? "";
    let head = `HTTP/1.1 ${code} ${reason}\r\n`;
    for (const [k, v] of response.headers) {
      if (k !== "connection" && k !== "content-length") head += `${k}: ${v}\r\n`;
    }
    head += `connection: close\r\ncontent-length: ${body.byteLength}\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head, "latin1"), body]));
  } catch {
    socket.destroy();
  }
}
