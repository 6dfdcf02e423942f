/**
 * A misbehaving upstream: a raw `Deno.listen` TCP server on 127.0.0.1 that speaks
 * HTTP/1.1 by hand, so it can do what no well-behaved server does: reset before the
 * headers, cut a body mid-stream (RST or FIN), stall, trickle, send garbage or bad
 * framing.
 *
 * The request head is read one byte at a time, so the request body stays in the
 * kernel's receive buffer until a behaviour reads it: closing the socket with it
 * unread makes Linux send an RST (a reset), closing after reading it sends a FIN.
 *
 * A behaviour is chosen by the request path: `/<a>/<b>/…` runs the behaviour keyed
 * `a/b` if there is one, else the one keyed `a`, else a 404. The counters tell a test
 * what reached the upstream and whether an exchange is still open.
 *
 * @module
 */

import { sleep } from "./lib.ts";

const enc = new TextEncoder();

/** What the behaviour wants done with the connection afterwards. */
export type Outcome = "keep" | "close";

/** One request as the upstream received it, and the means to answer it by hand. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  /** Header fields, names lower-cased (last value wins). */
  readonly headers: ReadonlyMap<string, string>;
  /** The behaviour's key (`a/b` or `a`). */
  readonly key: string;
  /** Reads the whole request body (Content-Length or chunked), ≤ 5 s. */
  readBody(): Promise<Uint8Array>;
  /** Writes raw bytes; false when the peer is gone. */
  write(data: string | Uint8Array): Promise<boolean>;
  /**
   * Waits up to `ms` for the peer (the proxy) to close the connection; resolves with the
   * milliseconds it took, or null when it stayed open. Call after `readBody`.
   */
  peerClosed(ms: number): Promise<number | null>;
}

/** A behaviour: answers one request by hand. */
export type Behavior = (ex: Exchange, up: FaultUpstream) => Promise<Outcome>;

/** The misbehaving upstream server. */
export class FaultUpstream {
  readonly #listener: Deno.TcpListener;
  readonly port: number;
  readonly url: string;
  readonly behaviors: Map<string, Behavior>;
  /** Requests that reached each behaviour. */
  readonly requests: Map<string, number> = new Map();
  /** Milliseconds after which the proxy closed a stalled exchange, per behaviour. */
  readonly peerClosedAfter: Map<string, number[]> = new Map();
  /** Exchanges whose response is still being produced (a stall counts until it ends). */
  active = 0;
  /** Connections accepted / now open. */
  accepted = 0;
  open = 0;
  readonly #conns = new Set<Deno.Conn>();
  readonly #loops = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closed = false;
  /** Mutable knobs behaviours read (e.g. how many 5xx are left in a storm). */
  readonly knobs: Record<string, number> = {};

  constructor(behaviors: Record<string, Behavior>) {
    this.behaviors = new Map(Object.entries(behaviors));
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.#accepting = this.#accept();
  }

  /** Requests that reached `key` so far. */
  count(key: string): number {
    return this.requests.get(key) ?? 0;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#closed) {
          conn.close();
          continue;
        }
        this.accepted++;
        this.open++;
        this.#conns.add(conn);
        const loop = this.#serve(conn).catch(() => {}).finally(() => {
          this.open--;
          this.#conns.delete(conn);
          this.#loops.delete(loop);
          try {
            conn.close();
          } catch { /* closed by the behaviour */ }
        });
        this.#loops.add(loop);
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    for (;;) {
      const head = await readHead(conn);
      if (head === null) return;
      const [requestLine, ...lines] = head.split("\r\n");
      const [method = "", target = ""] = requestLine!.split(" ");
      const headers = new Map<string, string>();
      for (const l of lines) {
        const i = l.indexOf(":");
        if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      const path = target.split("?")[0]!;
      const segs = path.split("/").filter(Boolean);
      const two = segs.slice(0, 2).join("/");
      const key = this.behaviors.has(two) ? two : (segs[0] ?? "");
      const behavior = this.behaviors.get(key) ?? notFound;
      this.requests.set(key, this.count(key) + 1);
      let bodyRead = false;
      const ex: Exchange = {
        method,
        path,
        headers,
        key,
        readBody: async () => {
          bodyRead = true;
          return await readBody(conn, headers);
        },
        write: async (data) => {
          const bytes = typeof data === "string" ? enc.encode(data) : data;
          try {
            let off = 0;
            while (off < bytes.byteLength) off += await conn.write(bytes.subarray(off));
            return true;
          } catch {
            return false;
          }
        },
        peerClosed: (ms) => this.#peerClosed(conn, key, ms),
      };
      this.active++;
      let outcome: Outcome;
      try {
        outcome = await behavior(ex, this);
      } finally {
        this.active--;
      }
      if (outcome === "close" || this.#closed) {
        conn.close();
        return;
      }
      // Keep-alive needs the body consumed; a behaviour that answered without reading
      // it reads it now.
      if (!bodyRead) await readBody(conn, headers);
    }
  }

  async #peerClosed(conn: Deno.Conn, key: string, ms: number): Promise<number | null> {
    const t0 = performance.now();
    const buf = new Uint8Array(1024);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = (async () => {
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) return true;
        }
      } catch {
        return true;
      }
    })();
    const res = await Promise.race([
      closed,
      new Promise<false>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
    clearTimeout(timer);
    if (!res) return null;
    const took = performance.now() - t0;
    const list = this.peerClosedAfter.get(key) ?? [];
    list.push(took);
    this.peerClosedAfter.set(key, list);
    return took;
  }

  /** Closes the listener and every connection; waits (≤ 3 s) for the loops to end. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([this.#accepting, ...this.#loops]),
      new Promise((r) => timer = setTimeout(r, 3000)),
    ]);
    clearTimeout(timer);
  }
}

/** Reads a request head one byte at a time (≤ 64 KiB); null at EOF or on error. */
async function readHead(conn: Deno.Conn): Promise<string | null> {
  const one = new Uint8Array(1);
  const bytes: number[] = [];
  try {
    while (bytes.length < 65536) {
      const n = await conn.read(one);
      if (n === null) return null;
      bytes.push(one[0]!);
      const l = bytes.length;
      if (
        l >= 4 && bytes[l - 4] === 13 && bytes[l - 3] === 10 && bytes[l - 2] === 13 &&
        bytes[l - 1] === 10
      ) {
        return String.fromCharCode(...bytes.slice(0, l - 4));
      }
    }
  } catch {
    return null;
  }
  return null;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error("request body cut");
    off += got;
  }
  return out;
}

async function readLine(conn: Deno.Conn): Promise<string> {
  const one = new Uint8Array(1);
  let s = "";
  while (!s.endsWith("\r\n")) {
    const n = await conn.read(one);
    if (n === null) throw new Error("request body cut");
    s += String.fromCharCode(one[0]!);
    if (s.length > 4096) throw new Error("chunk line too long");
  }
  return s.slice(0, -2);
}

async function readBody(
  conn: Deno.Conn,
  headers: ReadonlyMap<string, string>,
): Promise<Uint8Array> {
  const work = async () => {
    if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
      const parts: Uint8Array[] = [];
      for (;;) {
        const size = parseInt((await readLine(conn)).split(";")[0]!, 16);
        if (!(size > 0)) {
          while ((await readLine(conn)) !== "") { /* trailers */ }
          break;
        }
        parts.push(await readExactly(conn, size));
        await readLine(conn);
      }
      const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.byteLength;
      }
      return out;
    }
    const n = Number(headers.get("content-length") ?? "0");
    return n > 0 ? await readExactly(conn, n) : new Uint8Array(0);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("request body not read within 5 s")), 5000)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const notFound: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write(response(404, { error: { message: `no fault at ${ex.path}` } }));
  return "keep";
};

// ---------------------------------------------------------------------------------------
// Building blocks for behaviours
// ---------------------------------------------------------------------------------------

/** A complete response with a JSON body and Content-Length. */
export function response(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): string {
  const text = JSON.stringify(body);
  const reason = { 200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Server Error" }[
    status as 200
  ] ?? "Status";
  const h = {
    "content-type": "application/json",
    "content-length": String(enc.encode(text).byteLength),
    ...headers,
  };
  return `HTTP/1.1 ${status} ${reason}\r\n${
    Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }\r\n${text}`;
}

/** One SSE event of a chat completion stream. */
export function sseEvent(content: string): string {
  return `data: ${
    JSON.stringify({
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    })
  }\n\n`;
}

/** A chunk of a chunked body. */
export function chunk(data: string): string {
  return `${enc.encode(data).byteLength.toString(16)}\r\n${data}\r\n`;
}

/** The head of an SSE response; `length` set: Content-Length framing, else chunked. */
export function sseHead(length?: number): string {
  return "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n" +
    (length !== undefined ? `content-length: ${length}\r\n` : "transfer-encoding: chunked\r\n") +
    "\r\n";
}

/** A healthy answer: 200 JSON naming what arrived; keeps the connection. */
export const ok: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write(response(200, {
    name: "fault-ok",
    key: ex.key,
    method: ex.method,
    path: ex.path,
    host: ex.headers.get("host") ?? null,
  }));
  return "keep";
};

/** Resets the connection before any response byte: the request body is left unread. */
export const resetBeforeHeaders: Behavior = async () => {
  await sleep(50); // let the body arrive, so the close finds it unread (RST)
  return "close";
};

/**
 * Sends 200, an SSE head and two events, then cuts the connection: `rst` leaves the
 * request body unread so the close is a reset, otherwise it reads it first (FIN).
 * `framing`: Content-Length (promising far more) or chunked (no final chunk).
 */
export function cutMidStream(framing: "length" | "chunked", how: "rst" | "fin"): Behavior {
  return async (ex) => {
    if (how === "fin") await ex.readBody();
    else await sleep(30);
    const events = sseEvent("first") + sseEvent("second");
    if (framing === "length") await ex.write(sseHead(4096) + events);
    else await ex.write(sseHead() + chunk(sseEvent("first")) + chunk(sseEvent("second")));
    // Long enough for the proxy to pass the events on before the cut.
    await sleep(150);
    return "close";
  };
}

/** Reads the request and never answers; closes once the proxy gives up (≤ 30 s). */
export const stallBeforeHeaders: Behavior = async (ex) => {
  await ex.readBody();
  await ex.peerClosed(30_000);
  return "close";
};

/** Sends 200, an SSE head and one event, then nothing; closes once the proxy gives up. */
export const stallAfterHeaders: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write(sseHead() + chunk(sseEvent("only")));
  await ex.peerClosed(30_000);
  return "close";
};

/** The body {@linkcode trickle} sends. */
export const TRICKLE_BODY: string = sseEvent("slow") + sseEvent("trickle") + "data: [DONE]\n\n";

/** A correct answer sent 8 bytes every 40 ms (Content-Length framing). */
export const trickle: Behavior = async (ex) => {
  await ex.readBody();
  const body = enc.encode(TRICKLE_BODY);
  if (!await ex.write(sseHead(body.byteLength))) return "close";
  for (let i = 0; i < body.byteLength; i += 8) {
    await sleep(40);
    if (!await ex.write(body.subarray(i, i + 8))) return "close";
  }
  return "keep";
};

/** 500 while `up.knobs[knob]` > 0 (decremented each time), then 200. */
export function storm(knob: string): Behavior {
  return async (ex, up) => {
    await ex.readBody();
    if ((up.knobs[knob] ?? 0) > 0) {
      up.knobs[knob]!--;
      await ex.write(response(500, { error: { message: "storm", type: "server_error" } }));
    } else {
      await ex.write(response(200, { name: "fault-ok", key: ex.key }));
    }
    return "keep";
  };
}

/** 429 with `Retry-After: 1` while `up.knobs[knob]` > 0 (decremented each time), then 200. */
export function tooManyRequests(knob: string): Behavior {
  return async (ex, up) => {
    await ex.readBody();
    if ((up.knobs[knob] ?? 0) > 0) {
      up.knobs[knob]!--;
      await ex.write(
        response(429, { error: { message: "slow down", type: "rate_limit" } }, {
          "retry-after": "1",
        }),
      );
    } else {
      await ex.write(response(200, { name: "fault-ok", key: ex.key }));
    }
    return "keep";
  };
}

/** A status line that is no HTTP at all. */
export const garbageStatus: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write("SPDY/9 banana\r\nnonsense here\r\n\r\n{}");
  await sleep(50);
  return "close";
};

/** 200 chunked with one good chunk, then a chunk size line that is not hex. */
export const badChunked: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write(sseHead() + chunk(sseEvent("good")));
  await sleep(100);
  await ex.write(`zz\r\n${sseEvent("bad")}\r\n`);
  await sleep(150);
  return "close";
};

/** Two Content-Length fields that disagree (5 and 12). */
export const duplicateContentLength: Behavior = async (ex) => {
  await ex.readBody();
  await ex.write(
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n" +
      'content-length: 12\r\n\r\n{"a":"1234"}',
  );
  await sleep(100);
  return "close";
};
