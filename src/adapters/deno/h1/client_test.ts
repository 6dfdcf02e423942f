import assert from "node:assert/strict";
import { TransportError } from "../../../core/proxy/transport.ts";
import { bodyBytesOf, hasBody, tappableBodyOf } from "../../../core/proxy/native_body.ts";
import { H1Client, type H1Request, parseTarget, type Target } from "./client.ts";
import { H1Pool, type PoolOptions } from "./pool.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every await on the network is bounded: no test may hang. */
const DEADLINE_MS = 5000;

function within<T>(p: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function latin1Text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// A raw TCP upstream whose every connection runs a script.

interface Received {
  readonly head: string;
  readonly body: Uint8Array;
}

/** The upstream's side of one accepted connection. */
class Peer {
  readonly conn: Deno.TcpConn;
  /** 0 for the first connection the upstream accepted, 1 for the next, … */
  readonly index: number;
  readonly requests: Received[] = [];
  /** Set once a read saw the end of the stream (or an error): the client closed. */
  eof = false;
  #buf = new Uint8Array(0);
  #closed = false;

  constructor(conn: Deno.TcpConn, index: number) {
    this.conn = conn;
    this.index = index;
  }

  async #more(): Promise<boolean> {
    if (this.eof) return false;
    const b = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.conn.read(b);
    } catch {
      n = null;
    }
    if (n === null) {
      this.eof = true;
      return false;
    }
    this.#buf = concat([this.#buf, b.subarray(0, n)]);
    return true;
  }

  /** The next request (head and Content-Length body), or null when the client closed. */
  async readRequest(): Promise<Received | null> {
    for (;;) {
      const text = latin1Text(this.#buf);
      const at = text.indexOf("\r\n\r\n");
      if (at !== -1) {
        const head = text.slice(0, at);
        const m = /\r\ncontent-length: (\d+)/i.exec(head);
        const need = at + 4 + (m ? Number(m[1]) : 0);
        while (this.#buf.length < need) if (!(await this.#more())) return null;
        const req = { head, body: this.#buf.slice(at + 4, need) };
        this.#buf = this.#buf.slice(need);
        this.requests.push(req);
        return req;
      }
      if (!(await this.#more())) return null;
    }
  }

  /** Writes all of `data` (a string is written one byte per char). */
  async send(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? latin1Bytes(data) : data;
    for (let w = 0; w < b.length;) w += await this.conn.write(b.subarray(w));
  }

  /** Writes each piece, `delayMs` apart. */
  async sendPieces(pieces: (string | Uint8Array)[], delayMs: number): Promise<void> {
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0) await sleep(delayMs);
      await this.send(pieces[i]!);
    }
  }

  /** Resolves once the client closed its side (reading and dropping whatever comes). */
  async waitClosed(): Promise<void> {
    while (await this.#more()) this.#buf = new Uint8Array(0);
  }

  /** Answers requests with `answer` until the client closes. */
  async serve(answer: (req: Received, n: number) => string | Uint8Array): Promise<void> {
    for (let n = 0;; n++) {
      const req = await this.readRequest();
      if (req === null) return;
      await this.send(answer(req, n));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

type Script = (peer: Peer) => Promise<void>;

/** The fixture upstream on 127.0.0.1; a connection is closed when its script ends. */
class Upstream {
  readonly listener: Deno.TcpListener;
  readonly port: number;
  readonly peers: Peer[] = [];
  readonly errors: unknown[] = [];
  readonly #tasks: Promise<void>[] = [];
  readonly #loop: Promise<void>;

  constructor(script: Script) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#loop = (async () => {
      try {
        for await (const c of listener) {
          const peer = new Peer(c, this.peers.length);
          this.peers.push(peer);
          this.#tasks.push(
            script(peer).catch((e) => void this.errors.push(e)).finally(() => peer.close()),
          );
        }
      } catch {
        // The listener was closed.
      }
    })();
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.peers.length;
  }

  target(path = "/"): Target {
    return parseTarget(`http://127.0.0.1:${this.port}${path}`)!;
  }

  async close(): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    await this.#loop;
    for (const p of this.peers) p.close();
    await Promise.allSettled(this.#tasks);
  }
}

function request(
  init: {
    method?: string;
    headers?: [string, string][];
    body?: string | Uint8Array;
    signal?: AbortSignal;
  } = {},
): H1Request {
  const body = init.body === undefined
    ? null
    : typeof init.body === "string"
    ? enc.encode(init.body)
    : init.body;
  return {
    method: init.method ?? "GET",
    headers: init.headers ?? [],
    body,
    signal: init.signal ?? new AbortController().signal,
  };
}

interface Ctx {
  up: Upstream;
  pool: H1Pool;
  client: H1Client;
}

/**
 * A test with its upstream and pool, the whole of it under a deadline, both closed
 * after it whatever happens.
 */
function h1Test(
  name: string,
  script: Script,
  body: (ctx: Ctx) => Promise<void>,
  options: { pool?: Partial<PoolOptions>; ignore?: boolean; deadlineMs?: number } = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore ?? false,
    async fn() {
      const up = new Upstream(script);
      const pool = new H1Pool({ idleMs: 5000, connectMs: 2000, keepAlive: false, ...options.pool });
      const client = new H1Client(pool);
      try {
        await within(body({ up, pool, client }), name, options.deadlineMs ?? DEADLINE_MS);
        assert.deepEqual(up.errors, [], "the upstream's scripts ran without error");
      } finally {
        pool.close();
        await within(up.close(), "closing the upstream");
      }
    },
  });
}

/** Reads a body to its end or its error. */
async function readAll(
  res: Response,
): Promise<{ chunks: Uint8Array[]; data: Uint8Array; error?: unknown }> {
  const chunks: Uint8Array[] = [];
  if (res.body === null) return { chunks, data: new Uint8Array(0) };
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await within(reader.read(), "reading the body");
      if (done) break;
      chunks.push(value);
    }
  } catch (error) {
    return { chunks, data: concat(chunks), error };
  } finally {
    reader.releaseLock();
  }
  return { chunks, data: concat(chunks) };
}

async function rejectsWith(
  p: Promise<unknown>,
  check: (e: unknown) => void,
  what: string,
): Promise<void> {
  let settled = false;
  try {
    await within(p, what);
    settled = true;
  } catch (e) {
    check(e);
  }
  if (settled) assert.fail(`${what}: resolved, expected a rejection`);
}

function isTransportError(kind: "unreachable" | "timeout") {
  return (e: unknown) => {
    assert.ok(e instanceof TransportError, `a TransportError, got ${e}`);
    assert.equal(e.kind, kind, e.message);
  };
}

const OK = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/** Serves OK on every connection until the client closes it. */
const keepServing: Script = (p) => p.serve(() => OK);

// ---------------------------------------------------------------------------------------
// parseTarget

Deno.test("parseTarget: http URLs give origin, hostname, port and path with query", () => {
  assert.deepEqual(parseTarget("http://api.example.com/v1/chat?x=1"), {
    origin: "api.example.com",
    hostname: "api.example.com",
    port: 80,
    target: "/v1/chat?x=1",
  });
  assert.deepEqual(parseTarget("http://127.0.0.1:8080"), {
    origin: "127.0.0.1:8080",
    hostname: "127.0.0.1",
    port: 8080,
    target: "/",
  });
  assert.deepEqual(parseTarget("http://h:81?q=1"), {
    origin: "h:81",
    hostname: "h",
    port: 81,
    target: "/?q=1",
  });
  assert.deepEqual(parseTarget("http://[::1]:9000/a"), {
    origin: "[::1]:9000",
    hostname: "::1",
    port: 9000,
    target: "/a",
  });
  assert.equal(parseTarget("http://[::1]/")?.port, 80);
});

Deno.test("parseTarget: other schemes, user info and bad ports are left to fetch", () => {
  for (
    const url of [
      "https://h/",
      "ws://h/",
      "http://",
      "http:///x",
      "http://user:pw@h/",
      "http://h:0/",
      "http://h:65536/",
      "http://h:/",
      "http://h:8a/",
      "http://h:123456/",
      "http://[::1/",
    ]
  ) assert.equal(parseTarget(url), undefined, url);
});

// ---------------------------------------------------------------------------------------
// Answers and their bodies

h1Test(
  "a Content-Length answer that came whole in the first packet; the request went out as written",
  (p) =>
    p.serve(() =>
      'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-up: 1\r\ncontent-length: 11\r\n\r\n{"ok":true}'
    ),
  async ({ up, client, pool }) => {
    const res = await client.send(
      up.target("/v1/chat?x=1"),
      request({
        method: "POST",
        headers: [["content-type", "application/json"], ["x-req", "a"]],
        body: '{"q":1}',
      }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.statusText, "Created");
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("x-up"), "1");
    assert.equal(res.headers.get("content-length"), "11");
    assert.equal(await res.text(), '{"ok":true}');
    const [req] = up.peers[0]!.requests;
    assert.equal(
      req!.head,
      `POST /v1/chat?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\n` +
        "content-type: application/json\r\nx-req: a\r\ncontent-length: 7",
    );
    assert.equal(dec.decode(req!.body), '{"q":1}');
    assert.equal(pool.idleCount, 1, "the connection went back to the pool");
  },
);

const BINARY = Uint8Array.from({ length: 3 * 4096 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

h1Test(
  "a Content-Length body arriving in pieces is streamed as it comes, bytes unchanged",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      `HTTP/1.1 200 OK\r\ncontent-length: ${BINARY.length}\r\n\r\n`,
      BINARY.subarray(0, 100),
      BINARY.subarray(100, 4096),
      BINARY.subarray(4096, 8000),
      BINARY.subarray(8000),
    ], 60);
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    const t0 = Date.now();
    const res = await client.send(up.target(), request());
    assert.ok(Date.now() - t0 < 200, "the answer is handed over once its head is read");
    const { chunks, data, error } = await readAll(res);
    assert.equal(error, undefined);
    assert.ok(chunks.length >= 3, `streamed in pieces (${chunks.length})`);
    assert.deepEqual(data, BINARY);
    assert.equal(pool.idleCount, 1);
    const again = await client.send(up.target(), request());
    assert.equal(await again.text(), "ok");
    assert.equal(up.accepted, 1, "the connection was reused after the streamed body");
  },
);

h1Test(
  "a chunked body in pieces (cut inside sizes, CRLFs, data) is decoded and the connection reused",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n5\r",
      "\nhel",
      "lo\r",
      "\n1",
      "0;name=value\r\n0123456789",
      "abcdef\r\n0\r\nx-trailer: 1\r",
      "\n\r\n",
    ], 30);
    await p.serve(() => OK);
  },
  async ({ up, client }) => {
    const res = await client.send(up.target(), request());
    assert.equal(res.headers.get("transfer-encoding"), null);
    assert.equal(res.headers.get("content-type"), "text/plain");
    const { chunks, data, error } = await readAll(res);
    assert.equal(error, undefined);
    assert.equal(dec.decode(data), "hello0123456789abcdef");
    assert.ok(chunks.length >= 2, "streamed");
    const again = await client.send(up.target(), request());
    assert.equal(await again.text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a streamed body taps each chunk right after it is enqueued, the same bytes in the same order",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n",
      "8\r\ndata: a\n\r\n",
      "8\r\ndata: b\n\r\n",
      "0\r\n\r\n",
    ], 30);
  },
  async ({ up, client }) => {
    const res = await client.send(up.target(), request());
    const setTap = tappableBodyOf(res);
    assert.ok(setTap !== undefined, "the stream offers a producer tap");
    assert.equal(hasBody(res), true);
    const tapped: string[] = [];
    let read = 0;
    setTap((chunk) => {
      // Called after the chunk was enqueued: the reader has not seen it yet.
      assert.equal(read, tapped.length);
      tapped.push(dec.decode(chunk));
    });
    const reader = res.body!.getReader();
    const got: string[] = [];
    for (;;) {
      const { done, value } = await within(reader.read(), "reading the body");
      if (done) break;
      read++;
      got.push(dec.decode(value));
    }
    assert.deepEqual(tapped, got);
    assert.equal(got.join(""), "data: a\ndata: b\n");
  },
);

h1Test(
  "an answer that came whole with its head is handed on as bytes, no stream made",
  (p) => p.serve(() => OK),
  async ({ up, client }) => {
    const res = await client.send(up.target(), request());
    assert.equal(dec.decode(bodyBytesOf(res)), "ok");
    assert.equal(hasBody(res), true);
    assert.equal(tappableBodyOf(res), undefined);
    assert.equal(await res.text(), "ok");
  },
);

h1Test(
  "a chunked answer that came whole, with extensions and trailers, is one body; connection reused",
  (p) =>
    p.serve((_, n) =>
      n === 0
        ? "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n"
        : OK
    ),
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    assert.equal(await res.text(), "abcde");
    assert.equal(pool.idleCount, 1);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a close-delimited body is read to the end of the stream; the connection is not reused",
  async (p) => {
    if (p.index === 0) {
      await p.readRequest();
      await p.sendPieces([
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst ",
        "second ",
        "third",
      ], 30);
      return; // closing ends the body
    }
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    const { data, error } = await readAll(res);
    assert.equal(error, undefined);
    assert.equal(dec.decode(data), "first second third");
    assert.equal(pool.idleCount, 0);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "an HTTP/1.0 answer without a length is read until close",
  async (p) => {
    await p.readRequest();
    await p.send("HTTP/1.0 200 OK\r\n\r\nold style body");
  },
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    assert.equal(await res.text(), "old style body");
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "an HTTP/1.0 answer with Content-Length is not kept; one saying keep-alive is",
  (p) =>
    p.serve((_, n) =>
      p.index === 0
        ? "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"
        : n === 0
        ? "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nka"
        : OK
    ),
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
    assert.equal(await (await client.send(up.target(), request())).text(), "ka");
    assert.equal(pool.idleCount, 1);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "a large Content-Length body (1 MiB) passes through byte for byte",
  async (p) => {
    await p.readRequest();
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i ^ (i >> 9)) & 0xff);
    await p.send(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
    await p.send(big);
    await p.serve(() => OK);
  },
  async ({ up, client }) => {
    const { data, error } = await readAll(await client.send(up.target(), request()));
    assert.equal(error, undefined);
    assert.equal(data.length, 1 << 20);
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== ((i ^ (i >> 9)) & 0xff)) assert.fail(`byte ${i} differs`);
    }
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a large chunked body (1 MiB in 100000-byte chunks) passes through byte for byte",
  async (p) => {
    await p.readRequest();
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 13) & 0xff);
    await p.send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    for (let at = 0; at < big.length; at += 100000) {
      const part = big.subarray(at, Math.min(big.length, at + 100000));
      await p.send(`${part.length.toString(16)}\r\n`);
      await p.send(part);
      await p.send("\r\n");
    }
    await p.send("0\r\n\r\n");
    await p.serve(() => OK);
  },
  async ({ up, client }) => {
    const { data, error } = await readAll(await client.send(up.target(), request()));
    assert.equal(error, undefined);
    assert.equal(data.length, 1 << 20);
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== ((i * 13) & 0xff)) assert.fail(`byte ${i} differs`);
    }
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a response head cut anywhere (even inside its final CRLF CRLF) is read whole",
  async (p) => {
    const answer = "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 4\r\n\r\nbody";
    for (let n = 0;; n++) {
      if ((await p.readRequest()) === null) return;
      const cut = Number(p.requests[n]!.head.match(/x-cut: (\d+)/)![1]);
      await p.sendPieces([answer.slice(0, cut), answer.slice(cut)], 20);
    }
  },
  async ({ up, client }) => {
    const answerHeadEnd = "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 4\r\n\r\n".length;
    for (
      const cut of [
        1,
        9,
        17,
        answerHeadEnd - 4,
        answerHeadEnd - 3,
        answerHeadEnd - 2,
        answerHeadEnd - 1,
        answerHeadEnd,
        answerHeadEnd + 2,
      ]
    ) {
      const res = await client.send(up.target(), request({ headers: [["x-cut", String(cut)]] }));
      assert.equal(res.headers.get("x-a"), "1", `cut at ${cut}`);
      assert.equal(await res.text(), "body", `cut at ${cut}`);
    }
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "hop-by-hop and Connection-named headers are not passed on; Latin-1 values are",
  (p) =>
    p.serve(() =>
      "HTTP/1.1 200 OK\r\nconnection: x-hop\r\nx-hop: secret\r\nkeep-alive: timeout=60\r\n" +
      "upgrade: h2c\r\nx-name: caf\xe9\r\ncontent-length: 2\r\n\r\nok"
    ),
  async ({ up, client }) => {
    const res = await client.send(up.target(), request());
    assert.equal(await res.text(), "ok");
    assert.equal(res.headers.get("connection"), null);
    assert.equal(res.headers.get("x-hop"), null);
    assert.equal(res.headers.get("keep-alive"), null);
    assert.equal(res.headers.get("upgrade"), null);
    assert.equal(res.headers.get("x-name"), "caf\xe9");
  },
);

// ---------------------------------------------------------------------------------------
// Keep-alive

h1Test(
  "two requests in a row go over one TCP connection",
  keepServing,
  async ({ up, client, pool }) => {
    for (let i = 0; i < 2; i++) {
      const res = await client.send(up.target(`/n/${i}`), request());
      assert.equal(await res.text(), "ok");
      assert.equal(pool.idleCount, 1);
    }
    assert.equal(up.accepted, 1);
    assert.deepEqual(up.peers[0]!.requests.map((r) => r.head.split("\r\n")[0]), [
      "GET /n/0 HTTP/1.1",
      "GET /n/1 HTTP/1.1",
    ]);
  },
);

h1Test(
  "two requests at once use two connections, both kept and then reused",
  async (p) => {
    const req = await p.readRequest();
    if (req === null) return;
    await sleep(50); // both requests are in flight at once
    await p.send(OK);
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    const [a, b] = await Promise.all([
      client.send(up.target(), request()),
      client.send(up.target(), request()),
    ]);
    assert.equal(await a.text(), "ok");
    assert.equal(await b.text(), "ok");
    assert.equal(up.accepted, 2);
    assert.equal(pool.idleCount, 2);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "an idle kept connection the upstream closes is dropped; the next request opens a new one",
  async (p) => {
    if (p.index === 0) {
      await p.readRequest();
      await p.send(OK);
      await sleep(50);
      return; // closes the kept connection
    }
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 1);
    await until(() => pool.idleCount === 0, "the pool dropping the closed connection");
    const res = await client.send(up.target(), request());
    assert.equal(await res.text(), "ok");
    assert.equal(up.accepted, 2);
    assert.equal(up.peers[0]!.requests.length, 1, "nothing more was sent on the closed one");
  },
);

h1Test(
  "a reused connection closed right after the request was written: sent once more on a new one",
  async (p) => {
    if (p.index === 0) {
      await p.readRequest();
      await p.send(OK);
      await p.readRequest(); // reads the second request, then closes without a word
      return;
    }
    await p.serve((req) =>
      `HTTP/1.1 200 OK\r\ncontent-length: ${req.body.length}\r\n\r\n${dec.decode(req.body)}`
    );
  },
  async ({ up, client }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    const res = await client.send(up.target(), request({ method: "POST", body: "again" }));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "again");
    assert.equal(up.accepted, 2);
    assert.equal(up.peers[0]!.requests.length, 2);
    assert.equal(dec.decode(up.peers[1]!.requests[0]!.body), "again");
  },
);

h1Test(
  "a reused connection reset by the upstream before any answer: sent once more on a new one",
  async (p) => {
    if (p.index === 0) {
      await p.readRequest();
      await p.send(OK);
      // The upstream times the connection out just as the next request arrives: it closes
      // with that request unread, so the kernel answers with a reset (the keep-alive race).
      await sleep(150);
      return;
    }
    await p.serve(() => OK);
  },
  async ({ up, client }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    const res = await client.send(up.target(), request());
    assert.equal(await res.text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "a new connection closed without an answer is not retried: unreachable",
  async (p) => {
    await p.readRequest();
  },
  async ({ up, client }) => {
    await rejectsWith(client.send(up.target(), request()), isTransportError("unreachable"), "send");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a reused connection closed after part of an answer is not retried: unreachable",
  async (p) => {
    await p.readRequest();
    await p.send(OK);
    await p.readRequest();
    await p.send("HTTP/1.1 200 OK\r\ncontent-");
  },
  async ({ up, client }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    await rejectsWith(client.send(up.target(), request()), isTransportError("unreachable"), "send");
    assert.equal(up.accepted, 1, "not sent a second time");
  },
);

h1Test(
  "idle connections are closed after the idle timeout",
  keepServing,
  async ({ up, client, pool }) => {
    const t0 = Date.now();
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 1);
    await until(() => pool.idleCount === 0, "the idle timeout", 2000);
    assert.ok(Date.now() - t0 >= 250, "not before the idle timeout");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
  },
  { pool: { idleMs: 300 } },
);

h1Test(
  "an upstream's Keep-Alive timeout of 1 s keeps nothing; 2 s keeps the connection about 1 s",
  (p) =>
    p.serve(() =>
      p.index === 0
        ? "HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 2\r\n\r\nok"
        : "HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-length: 2\r\n\r\nok"
    ),
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 1);
    await until(() => pool.idleCount === 0, "the upstream's keep-alive timeout", 3000);
  },
);

h1Test(
  "extra bytes after a Content-Length body: the connection is not reused",
  (p) => p.serve(() => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA"),
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "extra bytes after a streamed Content-Length body: the connection is not reused",
  async (p) => {
    await p.readRequest();
    await p.sendPieces(["HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab", "cdEXTRA"], 30);
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    const { data } = await readAll(await client.send(up.target(), request()));
    assert.equal(dec.decode(data), "abcd");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
  },
);

h1Test(
  "bytes an idle connection receives unasked drop it; the next answer is not read from them",
  async (p) => {
    if (p.index === 0) {
      await p.readRequest();
      await p.send(OK);
      await sleep(50);
      await p.send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale");
      await p.waitClosed();
      return;
    }
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    await until(() => pool.idleCount === 0, "the pool dropping the connection");
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 2);
  },
);

h1Test(
  "extra bytes after a chunked body: the connection is not reused",
  (p) =>
    p.serve(() => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nJUNK"),
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
  },
);

h1Test(
  "Transfer-Encoding chunked with Content-Length: decoded as chunked, connection not reused",
  (p) =>
    p.serve(() =>
      "HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    ),
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    assert.equal(res.headers.get("content-length"), null);
    assert.equal(await res.text(), "ok");
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "HEAD answered with a Content-Length: no body is read and the connection is reused",
  (p) =>
    p.serve((req) =>
      req.head.startsWith("HEAD ")
        ? "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\n"
        : OK
    ),
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request({ method: "HEAD" }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), "1000");
    assert.equal(res.body, null);
    assert.equal(pool.idleCount, 1);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "204 and 304 answers have no body and keep the connection",
  (p) =>
    p.serve((_, n) =>
      n === 0
        ? "HTTP/1.1 204 No Content\r\n\r\n"
        : n === 1
        ? 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\ncontent-length: 50\r\n\r\n'
        : OK
    ),
  async ({ up, client }) => {
    const a = await client.send(up.target(), request());
    assert.equal(a.status, 204);
    assert.equal(a.body, null);
    const b = await client.send(up.target(), request());
    assert.equal(b.status, 304);
    assert.equal(b.headers.get("etag"), '"x"');
    assert.equal(b.body, null);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

// ---------------------------------------------------------------------------------------
// Interim answers

h1Test(
  "100 Continue and 103 Early Hints before the final answer are skipped",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n",
      "x-final: 1\r\ncontent-length: 5\r\n\r\nfinal",
    ], 30);
    await p.serve(() => "HTTP/1.1 100 Continue\r\n\r\n" + OK);
  },
  async ({ up, client }) => {
    const res = await client.send(up.target(), request({ method: "POST", body: "x" }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-final"), "1");
    assert.equal(res.headers.get("link"), null);
    assert.equal(await res.text(), "final");
    const again = await client.send(up.target(), request());
    assert.equal(again.status, 200);
    assert.equal(await again.text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

// ---------------------------------------------------------------------------------------
// Hostile answers

const BAD_ANSWERS = [
  "SSH-2.0-OpenSSH_9.6\r\n\r\n",
  "HTTP/2 200\r\n\r\n",
  "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx",
  "HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok",
  "HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 2\r\n\r\nok",
  "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
  "garbage that never ends a head",
  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n",
];

h1Test(
  "an answer that is not clean HTTP/1.1 rejects with TransportError unreachable",
  async (p) => {
    await p.readRequest();
    await p.send(BAD_ANSWERS[p.index]!);
    // The ones that end their head early leave the closing to the client.
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    for (const [i, bad] of BAD_ANSWERS.entries()) {
      // The last two never end their head: the upstream has to close.
      const p = client.send(up.target(), request());
      if (i >= BAD_ANSWERS.length - 2) {
        await until(() => up.peers[i]?.requests.length === 1, "the request");
        await sleep(20);
        up.peers[i]!.close();
      }
      await rejectsWith(p, isTransportError("unreachable"), JSON.stringify(bad));
      assert.equal(pool.idleCount, 0, JSON.stringify(bad));
    }
    assert.equal(up.accepted, BAD_ANSWERS.length);
  },
);

h1Test(
  "a status Response cannot carry (600) rejects unreachable and leaves no closed connection in the pool",
  (p) => p.serve(() => "HTTP/1.1 600 Odd\r\ncontent-length: 0\r\n\r\n"),
  async ({ up, client, pool }) => {
    await rejectsWith(client.send(up.target(), request()), isTransportError("unreachable"), "send");
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "a response head over 64 KiB rejects with TransportError unreachable",
  async (p) => {
    await p.readRequest();
    const line = `x-pad: ${"a".repeat(1000)}\r\n`;
    try {
      await p.send("HTTP/1.1 200 OK\r\n" + line.repeat(70)); // 70 KB, no end of head
    } catch {
      // The client may close while this is written.
    }
    await p.waitClosed();
  },
  async ({ up, client }) => {
    await rejectsWith(client.send(up.target(), request()), isTransportError("unreachable"), "send");
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
  },
);

h1Test(
  "a response head just under 64 KiB, in pieces, is read",
  async (p) => {
    await p.readRequest();
    const line = `x-pad: ${"a".repeat(1000)}\r\n`;
    const head = "HTTP/1.1 200 OK\r\n" + line.repeat(60) + "content-length: 2\r\n\r\nok";
    await p.sendPieces([head.slice(0, 10000), head.slice(10000, 40000), head.slice(40000)], 20);
    await p.serve(() => OK);
  },
  async ({ up, client }) => {
    const res = await client.send(up.target(), request());
    assert.equal(res.headers.get("x-pad")?.length, 60 * 1000 + 59 * 2);
    assert.equal(await res.text(), "ok");
    // The grown buffer does not disturb the next exchange.
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "a body cut short (Content-Length 100, 10 bytes, close) errors the body stream",
  async (p) => {
    await p.readRequest();
    await p.sendPieces(["HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", "0123456789"], 20);
    await sleep(20);
  },
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    assert.equal(res.status, 200);
    const { data, error } = await readAll(res);
    assert.equal(dec.decode(data), "0123456789");
    isTransportError("unreachable")(error);
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "a whole-looking short answer (Content-Length 100, 10 bytes in the first packet, close) errors",
  async (p) => {
    await p.readRequest();
    await p.send("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
  },
  async ({ up, client }) => {
    const { error } = await readAll(await client.send(up.target(), request()));
    isTransportError("unreachable")(error);
  },
);

h1Test(
  "a chunked body cut short (close inside a chunk) errors the body stream",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
      "a\r\n01234",
    ], 20);
    await sleep(20);
  },
  async ({ up, client }) => {
    const { data, error } = await readAll(await client.send(up.target(), request()));
    assert.equal(dec.decode(data), "01234");
    isTransportError("unreachable")(error);
  },
);

h1Test(
  "a chunked body cut before its last chunk errors the body stream",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
      "2\r\nok\r\n",
    ], 20);
    await sleep(20);
  },
  async ({ up, client }) => {
    const { data, error } = await readAll(await client.send(up.target(), request()));
    assert.equal(dec.decode(data), "ok");
    isTransportError("unreachable")(error);
  },
);

h1Test(
  "invalid chunked coding in the middle of a body errors the stream and closes the connection",
  async (p) => {
    await p.readRequest();
    await p.sendPieces([
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n",
      "2\r\nokX\r\n0\r\n\r\n",
    ], 30);
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    const { error } = await readAll(await client.send(up.target(), request()));
    isTransportError("unreachable")(error);
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the client closing"), "close");
  },
);

// ---------------------------------------------------------------------------------------
// Abort

h1Test(
  "a signal aborted before the answer's head rejects with its reason and closes the connection",
  async (p) => {
    await p.readRequest();
    await p.waitClosed(); // never answers
  },
  async ({ up, client, pool }) => {
    const ac = new AbortController();
    const reason = new Error("client went away");
    const sent = client.send(up.target(), request({ signal: ac.signal }));
    await until(() => up.peers[0]?.requests.length === 1, "the request");
    ac.abort(reason);
    await rejectsWith(sent, (e) => assert.equal(e, reason), "send");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "a signal aborted before the head on a reused connection: rejects with its reason, not retried",
  async (p) => {
    await p.readRequest();
    await p.send(OK);
    await p.readRequest();
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    const ac = new AbortController();
    const sent = client.send(up.target(), request({ signal: ac.signal }));
    await until(() => up.peers[0]!.requests.length === 2, "the second request");
    ac.abort("deadline");
    await rejectsWith(sent, (e) => assert.equal(e, "deadline"), "send");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    assert.equal(up.accepted, 1);
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "an already aborted signal rejects with its reason without connecting",
  keepServing,
  async ({ up, client }) => {
    const reason = new Error("already gone");
    await rejectsWith(
      client.send(up.target(), request({ signal: AbortSignal.abort(reason) })),
      (e) => assert.equal(e, reason),
      "send",
    );
    await sleep(50);
    assert.equal(up.accepted, 0);
  },
);

h1Test(
  "an abort in the middle of the body errors the stream with the reason and closes the connection",
  async (p) => {
    await p.readRequest();
    await p.send("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789");
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    const ac = new AbortController();
    const reason = new Error("stop");
    const res = await client.send(up.target(), request({ signal: ac.signal }));
    const reader = res.body!.getReader();
    const first = await within(reader.read(), "first read");
    assert.equal(dec.decode(first.value), "0123456789");
    const next = reader.read(); // waits on the socket
    await sleep(20);
    ac.abort(reason);
    await rejectsWith(next, (e) => assert.equal(e, reason), "the pending read");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    assert.equal(pool.idleCount, 0);
  },
);

h1Test(
  "an abort while nobody reads the body errors the next read with the reason",
  async (p) => {
    await p.readRequest();
    await p.send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n");
    await p.waitClosed();
  },
  async ({ up, client }) => {
    const ac = new AbortController();
    const res = await client.send(up.target(), request({ signal: ac.signal }));
    const reader = res.body!.getReader();
    assert.equal(dec.decode((await within(reader.read(), "first read")).value), "ok");
    ac.abort("late");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    await rejectsWith(reader.read(), (e) => assert.equal(e, "late"), "the read after the abort");
  },
);

h1Test(
  "cancelling the body closes the connection instead of keeping it",
  async (p) => {
    await p.readRequest();
    await p.send("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789");
    await p.waitClosed();
  },
  async ({ up, client, pool }) => {
    const res = await client.send(up.target(), request());
    const reader = res.body!.getReader();
    await within(reader.read(), "first read");
    await within(reader.cancel(), "cancel");
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    assert.equal(pool.idleCount, 0);
  },
);

// ---------------------------------------------------------------------------------------
// Requests that cannot be written, upstreams that cannot be reached

h1Test(
  "a request with an invalid header value is a TypeError and opens no connection",
  keepServing,
  async ({ up, client }) => {
    await rejectsWith(
      client.send(up.target(), request({ headers: [["x-a", "b\r\nx-injected: 1"]] })),
      (e) => assert.ok(e instanceof TypeError, String(e)),
      "send",
    );
    await sleep(50);
    assert.equal(up.accepted, 0);
  },
);

Deno.test("a connect to a closed port rejects with TransportError unreachable", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const pool = new H1Pool({ idleMs: 5000, connectMs: 2000, keepAlive: true });
  try {
    const client = new H1Client(pool);
    await rejectsWith(
      client.send(parseTarget(`http://127.0.0.1:${port}/`)!, request()),
      isTransportError("unreachable"),
      "send",
    );
  } finally {
    pool.close();
  }
});

Deno.test("a connect that does not complete in time rejects with TransportError timeout", async () => {
  // 10.255.255.1 is not a blackhole on every machine (a sandbox may accept any connect),
  // so the stalled connect is made locally: a listener that never accepts, its backlog
  // filled, drops further SYNs.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const fillers: Deno.TcpConn[] = [];
  let stalled: Promise<unknown> | undefined;
  const pool = new H1Pool({ idleMs: 5000, connectMs: 200, keepAlive: false });
  try {
    for (let i = 0; i < 5000 && stalled === undefined; i++) {
      const c = Deno.connect({ hostname: "127.0.0.1", port });
      const r = await Promise.race([c, sleep(100).then(() => null)]);
      if (r === null) stalled = c.then((x) => x.close(), () => {});
      else fillers.push(r);
    }
    assert.ok(stalled !== undefined, "the backlog filled up");
    // An abort while connecting ends the wait at once, with the signal's reason.
    const slow = new H1Pool({ idleMs: 5000, connectMs: 3000, keepAlive: false });
    try {
      const ac = new AbortController();
      const reason = new Error("gave up");
      const sent = new H1Client(slow).send(
        parseTarget(`http://127.0.0.1:${port}/`)!,
        request({ signal: ac.signal }),
      );
      await sleep(100);
      ac.abort(reason);
      await rejectsWith(sent, (e) => assert.equal(e, reason), "send while connecting");
    } finally {
      slow.close();
    }
    const client = new H1Client(pool);
    const t0 = Date.now();
    await rejectsWith(
      client.send(parseTarget(`http://127.0.0.1:${port}/`)!, request()),
      isTransportError("timeout"),
      "send",
    );
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 2000, `took ${took} ms`);
  } finally {
    pool.close();
    for (const c of fillers) c.close();
    l.close();
    // The stalled connects end with a refusal at their next SYN retry (about 1 s).
    await within(stalled ?? Promise.resolve(), "the stalled connect", 5000);
    await sleep(700);
  }
});

h1Test(
  "an early answer to a large upload (413 sent without reading the body) is passed on",
  async (p) => {
    // Reads only the head, answers at once, stops reading, closes a moment later.
    for (;;) {
      const b = new Uint8Array(64 * 1024);
      const n = await p.conn.read(b);
      if (n === null || latin1Text(b.subarray(0, n)).includes("\r\n\r\n")) break;
    }
    await p.send(
      "HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 8\r\n\r\ntoo big!",
    );
    await sleep(300);
  },
  async ({ up, client }) => {
    const body = new Uint8Array(32 << 20); // more than the socket buffers take
    const res = await client.send(up.target(), request({ method: "POST", body }));
    assert.equal(res.status, 413);
    assert.equal(await res.text(), "too big!");
  },
);

h1Test(
  "an abort after the exchange ended does not touch the connection kept in the pool",
  keepServing,
  async ({ up, client, pool }) => {
    const ac = new AbortController();
    const res = await client.send(up.target(), request({ signal: ac.signal }));
    assert.equal(await res.text(), "ok");
    assert.equal(pool.idleCount, 1);
    ac.abort("deadline fired later");
    await sleep(20);
    assert.equal(pool.idleCount, 1);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
    assert.equal(up.peers[0]!.eof, false);
  },
);

h1Test(
  "an abort after a streamed body ended does not touch the connection kept in the pool",
  async (p) => {
    await p.readRequest();
    await p.sendPieces(["HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab", "cd"], 30);
    await p.serve(() => OK);
  },
  async ({ up, client, pool }) => {
    const ac = new AbortController();
    const res = await client.send(up.target(), request({ signal: ac.signal }));
    assert.equal(await res.text(), "abcd");
    assert.equal(pool.idleCount, 1);
    ac.abort("deadline fired later");
    await sleep(20);
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(up.accepted, 1);
  },
);

h1Test(
  "after pool.close() idle connections are closed and new answers are not kept",
  keepServing,
  async ({ up, client, pool }) => {
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 1);
    pool.close();
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[0]!.eof, "the upstream seeing the close"), "close");
    assert.equal(await (await client.send(up.target(), request())).text(), "ok");
    assert.equal(pool.idleCount, 0);
    await within(until(() => up.peers[1]?.eof === true, "the second close"), "close");
  },
);
