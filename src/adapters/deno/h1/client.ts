/**
 * A keep-alive HTTP/1.1 client for `http:` upstreams, over `Deno.connect`. Deno's
 * `fetch` costs about 50 µs of CPU per request more than this on a small JSON answer
 * (bench/PROFILE.md): most of it is its JavaScript glue (request and header objects,
 * validation, the body stream) and two ops per call. This client writes the head and
 * a buffered body in one write, parses the answer's head in JavaScript, and hands back
 * an answer that came whole with its head as bytes, anything else as a stream read
 * from the socket as the client reads it.
 *
 * What it guarantees, as `fetch` does: bytes pass through untouched (no decoding, no
 * added coding); the request's signal ends the exchange at any point, closing the
 * connection; a body cut short errors its stream; an answer that is not clean HTTP/1.1
 * is an error, never a guess. A request on a reused connection that the upstream had
 * already closed (no byte of an answer came) is sent once more on a new connection.
 *
 * @module
 */

import { ChunkedDecoder } from "./chunked.ts";
import type { H1Conn } from "./conn.ts";
import {
  encodeRequestHead,
  MAX_HEAD_BYTES,
  parseResponseHead,
  ProtocolError,
  type ResponseHead,
  writeLatin1,
} from "./head.ts";
import { ConnectTimeout, type H1Pool } from "./pool.ts";
import { TransportError } from "../../../core/proxy/transport.ts";
import { markBodyBytes, markHasBody, markTappableBody } from "../../../core/proxy/native_body.ts";
import type { BodyTap } from "../../../core/proxy/body_tap.ts";

/** Where a request goes: parsed from an `http:` URL. */
export interface Target {
  /** `host:port` as the URL wrote it: the `Host` header and the pool's key. */
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  /** Path and query. */
  readonly target: string;
}

/**
 * The parts of an `http:` URL as `targetUrl` writes it, or undefined for anything else
 * (another scheme, user info): those go through `fetch`.
 */
export function parseTarget(url: string): Target | undefined {
  if (!url.startsWith("http://")) return undefined;
  let slash = url.indexOf("/", 7);
  const query = url.indexOf("?", 7);
  if (query !== -1 && (slash === -1 || query < slash)) slash = query;
  const origin = slash === -1 ? url.slice(7) : url.slice(7, slash);
  if (origin === "" || origin.includes("@")) return undefined;
  let target = slash === -1 ? "/" : url.slice(slash);
  if (target[0] === "?") target = `/${target}`;
  let hostname: string;
  let portText: string;
  if (origin[0] === "[") {
    const close = origin.indexOf("]");
    if (close === -1) return undefined;
    hostname = origin.slice(1, close);
    portText = origin.slice(close + 1);
  } else {
    const colon = origin.indexOf(":");
    hostname = colon === -1 ? origin : origin.slice(0, colon);
    portText = colon === -1 ? "" : origin.slice(colon);
  }
  if (portText !== "" && !/^:\d{1,5}$/.test(portText)) return undefined;
  const port = portText === "" ? 80 : Number(portText.slice(1));
  if (port < 1 || port > 65535) return undefined;
  return { origin, hostname, port, target };
}

/** What {@linkcode H1Client.send} needs of a request. */
export interface H1Request {
  readonly method: string;
  readonly headers: Iterable<readonly [string, string]>;
  readonly body: Uint8Array | null;
  readonly signal: AbortSignal;
}

/** The connection had been closed by the upstream before this request reached it. */
class StaleConnection extends Error {}

/** Sends requests over the pool's connections. */
export class H1Client {
  readonly #pool: H1Pool;

  constructor(pool: H1Pool) {
    this.#pool = pool;
  }

  /** Closes the pool's idle connections; those in use close when their exchange ends. */
  close(): void {
    this.#pool.close();
  }

  /**
   * Sends one request and resolves with the answer once its head is read. Rejects with
   * the signal's reason when it aborted, a `TransportError` for an upstream
   * that cannot be reached or does not speak HTTP/1.1, a `TypeError` for a request
   * that cannot be written (an invalid header).
   */
  async send(t: Target, req: H1Request): Promise<Response> {
    const { signal } = req;
    signal.throwIfAborted();
    const message = encodeMessage(t, req);
    for (let attempt = 0;; attempt++) {
      let conn = attempt === 0 ? this.#pool.take(t.origin) : undefined;
      const reused = conn !== undefined;
      try {
        conn ??= await this.#pool.connect(t.origin, t.hostname, t.port, signal);
      } catch (e) {
        throw failure(e, signal, `connect to ${t.origin}`);
      }
      try {
        return await this.#exchange(conn, req, message, reused);
      } catch (e) {
        conn.close();
        if (e instanceof StaleConnection && attempt === 0 && !signal.aborted) continue;
        throw failure(e, signal, `${req.method} http://${t.origin}${t.target}`);
      }
    }
  }

  async #exchange(
    conn: H1Conn,
    req: H1Request,
    message: Uint8Array,
    reused: boolean,
  ): Promise<Response> {
    const signal = req.signal;
    const onAbort = () => conn.close();
    signal.addEventListener("abort", onAbort, { once: true });
    let handedOver = false;
    try {
      const { head, sentWhole } = await sendAndReadHead(conn, req.method, message, reused);
      // An answer that came before the request was all written (an early 413 or 401 to a
      // large upload) ends the connection: the rest of the request is still in the way.
      const keep = !head.close && sentWhole();
      const release = (reusable: boolean) => {
        signal.removeEventListener("abort", onAbort);
        if (reusable && keep) this.#pool.release(conn, head.keepAliveMs);
        else conn.close();
      };
      const init = { status: head.status, statusText: head.statusText, headers: head.headers };
      if (head.framing === "none" || (head.framing === "length" && head.length === 0)) {
        const empty = new Response(null, init);
        markHasBody(empty, false);
        handedOver = true;
        release(conn.start === conn.end);
        return empty;
      }
      const whole = wholeBody(conn, head);
      if (whole !== undefined) {
        const response = new Response(whole, init);
        markBodyBytes(response, whole);
        handedOver = true;
        release(conn.start === conn.end);
        return response;
      }
      const body = bodyStream(conn, head, signal, release);
      const response = new Response(body.stream, init);
      markTappableBody(response, body.setTap);
      handedOver = true;
      return response;
    } finally {
      if (!handedOver) signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Requests up to this size are written before the answer is read. */
const WRITE_FIRST_MAX = 64 * 1024;

/**
 * Writes the request and reads the answer's head. A small request fits the socket's
 * buffers and is written first; a larger one is written while the head is awaited, so
 * an upstream that answers before reading all of it (and maybe closes) is heard
 * rather than reported as a failed write. `sentWhole` tells whether the write had
 * completed when the head came.
 */
async function sendAndReadHead(
  conn: H1Conn,
  method: string,
  message: Uint8Array,
  reused: boolean,
): Promise<{ head: ResponseHead; sentWhole: () => boolean }> {
  if (message.length <= WRITE_FIRST_MAX) {
    try {
      await writeAll(conn, message);
    } catch (e) {
      if (reused && conn.end === conn.start) throw new StaleConnection("write failed");
      throw e;
    }
    return { head: await readHead(conn, method, reused), sentWhole: () => true };
  }
  let written = false;
  let writeError: unknown;
  void writeAll(conn, message).then(() => written = true, (e) => writeError = e ?? "failed");
  try {
    return { head: await readHead(conn, method, reused), sentWhole: () => written };
  } catch (e) {
    // Without an answer, a failed write is the better account of what went wrong.
    if (writeError === undefined || e instanceof StaleConnection) throw e;
    if (reused && conn.end === 0) throw new StaleConnection("write failed");
    throw writeError;
  }
}

async function writeAll(conn: H1Conn, message: Uint8Array): Promise<void> {
  for (let w = 0; w < message.length;) w += await conn.conn.write(message.subarray(w));
}

/** Request head and a small body in one buffer: one write, one packet. */
function encodeMessage(t: Target, req: H1Request): Uint8Array {
  const body = req.body;
  const head = encodeRequestHead(
    req.method,
    t.target,
    t.origin,
    req.headers,
    body === null ? null : body.byteLength,
  );
  const out = new Uint8Array(head.length + (body?.byteLength ?? 0));
  const at = writeLatin1(head, out, 0);
  if (body !== null) out.set(body, at);
  return out;
}

/** Reads up to the end of a final (non-1xx) response head and parses it. */
async function readHead(conn: H1Conn, method: string, reused: boolean): Promise<ResponseHead> {
  let from = conn.start;
  let interim = 0;
  for (;;) {
    const end = headEnd(conn.buf, from, conn.end);
    if (end !== -1) {
      const head = parseResponseHead(conn.buf, conn.start, end, method);
      conn.start = end + 4;
      from = conn.start;
      if (head.status === 101) throw new ProtocolError("101 Switching Protocols was not asked for");
      if (head.status > 599) throw new ProtocolError(`status ${head.status} is out of range`);
      if (head.status < 200) {
        // 100 Continue, 103 Early Hints: the answer follows (a few of them at most).
        if (++interim > MAX_INTERIM) {
          throw new ProtocolError(`more than ${MAX_INTERIM} 1xx answers`);
        }
        continue;
      }
      return head;
    }
    if (conn.full) throw new ProtocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
    // The search resumes where it stopped (3 bytes back, for a CRLFCRLF cut in two).
    from = Math.max(conn.start, conn.end - 3);
    const before = conn.start;
    if (!(await conn.fill())) {
      if (reused && conn.end === 0) throw new StaleConnection("closed before answering");
      throw new ProtocolError(
        "the upstream closed the connection before the end of its answer's head",
      );
    }
    // fill() may have moved the unread bytes to the front of the buffer.
    if (conn.start !== before) from = conn.start;
  }
}

/** Interim (1xx) answers accepted before the final one. */
const MAX_INTERIM = 16;

/** Index of the CRLF CRLF ending a head in buf[from, end), or -1. */
function headEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (buf[i + 3] !== 0x0a) continue;
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a && buf[i + 2] === 0x0d) return i;
  }
  return -1;
}

/** The body when all of it is already in the buffer (the common small answer), else undefined. */
function wholeBody(conn: H1Conn, head: ResponseHead): Uint8Array<ArrayBuffer> | undefined {
  const { buf, start, end } = conn;
  if (head.framing === "length") {
    if (end - start < head.length) return undefined;
    conn.start = start + head.length;
    return buf.slice(start, start + head.length);
  }
  if (head.framing !== "chunked") return undefined;
  // Decode what is here; keep it only if it is the whole body.
  const decoder = new ChunkedDecoder();
  const parts: Uint8Array[] = [];
  let total = 0;
  const used = decoder.feed(buf, start, end, (d) => {
    parts.push(d);
    total += d.length;
  });
  if (!decoder.done) return undefined;
  conn.start = used;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The body as a stream read from the socket as the client reads it, and a way to have
 * each chunk tapped right after it is enqueued. `release` is called once: with true
 * when the body ended cleanly and nothing followed it.
 */
function bodyStream(
  conn: H1Conn,
  head: ResponseHead,
  signal: AbortSignal,
  release: (reusable: boolean) => void,
): { stream: ReadableStream<Uint8Array>; setTap: (tap: BodyTap) => void } {
  let tap: BodyTap | undefined;
  const enqueue = (controller: ReadableStreamDefaultController<Uint8Array>, c: Uint8Array) => {
    controller.enqueue(c);
    tap?.(c);
  };
  let left = head.length;
  const decoder = head.framing === "chunked" ? new ChunkedDecoder() : undefined;
  let finished = false;
  const finish = (reusable: boolean) => {
    if (finished) return;
    finished = true;
    release(reusable);
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          if (conn.start < conn.end) {
            const { buf, start, end } = conn;
            if (head.framing === "length") {
              const n = Math.min(left, end - start);
              enqueue(controller, buf.slice(start, start + n));
              conn.start = start + n;
              left -= n;
              if (left === 0) {
                controller.close();
                finish(conn.start === conn.end);
              }
              return;
            }
            if (decoder !== undefined) {
              const parts: Uint8Array[] = [];
              conn.start = decoder.feed(buf, start, end, (d) => parts.push(d.slice()));
              for (const p of parts) enqueue(controller, p);
              if (decoder.done) {
                controller.close();
                finish(conn.start === conn.end);
                return;
              }
              if (parts.length > 0) return;
            } else {
              enqueue(controller, buf.slice(start, end));
              conn.start = end;
              return;
            }
          }
          conn.sizeForWait();
          if (!(await conn.fill())) {
            if (head.framing === "close") {
              controller.close();
              finish(false);
              return;
            }
            throw new TransportError(
              "unreachable",
              "the upstream closed the connection before the end of the body",
            );
          }
        }
      } catch (e) {
        finish(false);
        controller.error(failure(e, signal, "reading the upstream's body"));
      }
    },
    cancel() {
      finish(false);
    },
  }, { highWaterMark: 0 });
  return { stream, setTap: (t) => tap = t };
}

/** What `send` rejects with for an error `e` met while doing `what`. */
function failure(e: unknown, signal: AbortSignal, what: string): unknown {
  if (signal.aborted) return signal.reason;
  if (e instanceof ConnectTimeout) return new TransportError("timeout", e.message, { cause: e });
  if (e instanceof TypeError || e instanceof TransportError) return e;
  if (e instanceof ProtocolError) {
    return new TransportError("unreachable", `${what}: invalid HTTP/1.1 answer: ${e.message}`, {
      cause: e,
    });
  }
  return new TransportError("unreachable", `${what}: ${message(e)}`, { cause: e });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
