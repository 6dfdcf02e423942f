/**
 * A raw HTTP/1.1 SSE client over TCP, so that what is timed is the bytes on the socket
 * and not a client library's buffering: time to the first byte, to the first event, and
 * each event's transit (arrival time minus the `"t"` the upstream stamped on it).
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Absolute time in ms on the same scale as the upstream's `"t"` stamps. */
const now = () => performance.timeOrigin + performance.now();

/** One streamed completion as the client saw it. */
export interface SseRun {
  status: number;
  /** ms from writing the request to the first response byte. */
  firstByteMs: number;
  /** ms from writing the request to the first complete SSE event. */
  firstEventMs: number;
  /** Per data event: its index and transit (ms, includes a constant clock offset). */
  events: { i: number; transitMs: number; atMs: number }[];
  /**
   * Transit of the final usage event (empty `choices`, a `usage` object), when it came;
   * -1 when the stream had none.
   */
  usageTransitMs: number;
  done: boolean;
}

/** A final usage event: `"choices":[]` and a `"usage"` object (not `null`). */
const USAGE_EVENT = /"choices":\[\][^]*"usage":\{|"usage":\{[^]*"choices":\[\]/;

function request(port: number, headers: Record<string, string>, body: string): Uint8Array {
  const b = encoder.encode(body);
  const head = [
    "POST /v1/chat/completions HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Content-Type: application/json",
    "Accept: text/event-stream",
    `Content-Length: ${b.byteLength}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  const h = encoder.encode(head);
  const out = new Uint8Array(h.byteLength + b.byteLength);
  out.set(h);
  out.set(b, h.byteLength);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function indexOf(buf: Uint8Array, seq: number[], from = 0): number {
  outer: for (let i = from; i <= buf.byteLength - seq.length; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

const CRLF = [13, 10];
const CRLFCRLF = [13, 10, 13, 10];

/**
 * Decodes an HTTP/1.1 response incrementally: `push` bytes, get body text back (chunked
 * framing removed).
 */
class ResponseParser {
  status = 0;
  headersDone = false;
  ended = false;
  #chunked = false;
  /** Bytes left in the current chunk; -1: a size line is next; -2: a CRLF is next. */
  #remaining = -1;
  #buf: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): string {
    this.#buf = concat(this.#buf, bytes);
    let text = "";
    if (!this.headersDone) {
      const end = indexOf(this.#buf, CRLFCRLF);
      if (end < 0) return "";
      const head = decoder.decode(this.#buf.subarray(0, end));
      this.status = Number(head.split(" ")[1]);
      this.#chunked = /^transfer-encoding:\s*chunked/im.test(head);
      this.headersDone = true;
      this.#buf = this.#buf.subarray(end + 4);
    }
    if (!this.#chunked) {
      text = decoder.decode(this.#buf);
      this.#buf = new Uint8Array(0);
      return text;
    }
    for (;;) {
      if (this.#remaining === -2) {
        // The CRLF after a chunk's data.
        if (this.#buf.byteLength < 2) break;
        this.#buf = this.#buf.subarray(2);
        this.#remaining = -1;
      }
      if (this.#remaining === -1) {
        const eol = indexOf(this.#buf, CRLF);
        if (eol < 0) break;
        const size = parseInt(decoder.decode(this.#buf.subarray(0, eol)).split(";")[0]!, 16);
        this.#buf = this.#buf.subarray(eol + 2);
        if (!(size > 0)) {
          this.ended = true;
          break;
        }
        this.#remaining = size;
      }
      if (this.#buf.byteLength === 0) break;
      const take = Math.min(this.#buf.byteLength, this.#remaining);
      text += decoder.decode(this.#buf.subarray(0, take));
      this.#buf = this.#buf.subarray(take);
      this.#remaining -= take;
      if (this.#remaining === 0) this.#remaining = -2;
    }
    return text;
  }
}

/** A kept-alive client connection for consecutive streams (as SDK clients pool them). */
export class SseClient {
  readonly port: number;
  #conn: Deno.TcpConn | undefined;

  constructor(port: number) {
    this.port = port;
  }

  async #connection(): Promise<Deno.TcpConn> {
    if (!this.#conn) {
      this.#conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      this.#conn.setNoDelay(true);
    }
    return this.#conn;
  }

  /** Drops the connection (the next stream opens a new one). */
  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // closed
    }
    this.#conn = undefined;
  }

  /**
   * Streams one completion of `chunks` events `delayMs` apart and times it. The response
   * is read to its end so the connection can carry the next one. Gives up after
   * `timeoutMs`.
   */
  async stream(
    headers: Record<string, string>,
    chunks: number,
    delayMs: number,
    timeoutMs: number,
  ): Promise<SseRun> {
    const conn = await this.#connection();
    // Asks for the final usage event as OpenAI SDK users do (`include_usage`).
    const body = JSON.stringify({
      model: "bench-model",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Say hello." }],
    });
    const req = request(this.port, {
      ...headers,
      "x-chunks": String(chunks),
      "x-chunk-delay": String(delayMs),
    }, body);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    const parser = new ResponseParser();
    const out: SseRun = {
      status: 0,
      firstByteMs: -1,
      firstEventMs: -1,
      events: [],
      usageTransitMs: -1,
      done: false,
    };
    let sse = "";
    let complete = false;
    const buf = new Uint8Array(65536);
    const t0 = performance.now();
    try {
      await conn.write(req);
      for (;;) {
        const n = await conn.read(buf);
        const at = performance.now();
        const abs = now();
        if (n === null) break;
        if (out.firstByteMs < 0) out.firstByteMs = at - t0;
        sse += parser.push(buf.subarray(0, n));
        out.status = parser.status;
        let sep: number;
        while ((sep = sse.indexOf("\n\n")) >= 0) {
          const ev = sse.slice(0, sep);
          sse = sse.slice(sep + 2);
          if (!ev.trim()) continue;
          if (out.firstEventMs < 0) out.firstEventMs = at - t0;
          if (ev.includes("[DONE]")) {
            out.done = true;
            continue;
          }
          const t = ev.match(/"t":([0-9.]+)/);
          const i = ev.match(/"i":(\d+)/);
          if (t && i) {
            out.events.push({ i: Number(i[1]), transitMs: abs - Number(t[1]), atMs: at - t0 });
          } else if (t && USAGE_EVENT.test(ev)) {
            out.usageTransitMs = abs - Number(t[1]);
          }
        }
        if (parser.ended) {
          complete = true;
          break;
        }
      }
    } catch {
      // closed by the timeout, or by the server
    } finally {
      clearTimeout(timer);
    }
    // A response not delimited by chunked framing ends with the connection.
    if (!complete && !timedOut) this.close();
    return out;
  }
}

/** Idle streams held open; `close` ends them all. */
export interface IdleStreams {
  /** Streams whose first event arrived. */
  open: number;
  failed: number;
  close(): void;
}

/**
 * Opens `count` streams through `port` whose upstream sends one event and then stays
 * silent (next event after `holdMs`), and waits until each has delivered its first
 * event (or `timeoutMs` passed).
 */
export async function openIdleStreams(
  port: number,
  headers: Record<string, string>,
  count: number,
  holdMs: number,
  timeoutMs: number,
): Promise<IdleStreams> {
  const conns: Deno.TcpConn[] = [];
  let open = 0;
  let failed = 0;
  const deadline = performance.now() + timeoutMs;
  const body = JSON.stringify({ model: "bench-model", stream: true, messages: [] });
  const req = request(port, { ...headers, "x-chunks": "2", "x-chunk-delay": String(holdMs) }, body);
  const one = async () => {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      failed++;
      return;
    }
    conns.push(conn);
    const parser = new ResponseParser();
    const buf = new Uint8Array(16384);
    let text = "";
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // closed
      }
    }, Math.max(1, deadline - performance.now()));
    try {
      await conn.write(req);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += parser.push(buf.subarray(0, n));
        if (text.includes("\n\n")) {
          if (parser.status === 200) open++;
          else failed++;
          return;
        }
      }
      failed++;
    } catch {
      failed++;
    } finally {
      clearTimeout(timer);
    }
  };
  // Open them a batch at a time so the listen backlog is never the limit.
  const batch = 50;
  for (let i = 0; i < count && performance.now() < deadline; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, one));
  }
  return {
    get open() {
      return open;
    },
    get failed() {
      return failed;
    },
    close() {
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
    },
  };
}
