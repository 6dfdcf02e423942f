/**
 * Helpers of the fault suite, each with a deadline: a daemon runner that stops its
 * process by PID, a raw-socket HTTP/1.1 client (so a test can see exactly how a
 * connection ends), a small HTTP/1.1 response parser, a Prometheus text parser, and
 * bounded waits.
 *
 * Everything binds to and connects to 127.0.0.1 only.
 *
 * @module
 */
import type { DaemonCommand } from "../conformance/harness.ts";

export type { DaemonCommand };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sleeps (only to pace real sockets and processes). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A free TCP port on 127.0.0.1 (bound and released), never one this process already
 * handed out (the same harness rule as tests/conformance/harness.ts).
 */
export { freePort } from "../conformance/harness.ts";

/** Thrown when a bounded wait or a step runs past its deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Resolves with `p`, or rejects with a {@linkcode DeadlineError} after `ms` (then runs
 * `onTimeout`, which should release whatever `p` waits on, e.g. close sockets).
 */
export async function within<T>(
  ms: number,
  what: string,
  p: Promise<T>,
  onTimeout?: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.();
      } catch { /* best effort */ }
      reject(new DeadlineError(`${what}: still running after its ${ms} ms deadline`));
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` until it returns true (or a truthy value), for at most `ms`; then fails
 * with `describe()` (the last value seen), so the failure says what was observed.
 */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms: number,
  describe?: () => string | Promise<string>,
): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    let ok = false;
    try {
      ok = await within(Math.max(50, end - performance.now()), what, Promise.resolve(check()));
    } catch { /* counts as not yet */ }
    if (ok) return;
    if (performance.now() >= end) {
      const seen = describe ? await Promise.resolve(describe()).catch((e) => String(e)) : "";
      throw new DeadlineError(`${what}: not true within ${ms} ms${seen ? `; saw ${seen}` : ""}`);
    }
    await sleep(25);
  }
}

/** `fetch` with a deadline (AbortSignal.timeout) on 127.0.0.1. */
export function fetchT(url: string, init: RequestInit = {}, ms = 5000): Promise<Response> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`loopback only: ${url}`);
  return fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(ms) });
}

/** A chat completion body. */
export function chatBody(stream = false): string {
  return JSON.stringify({ model: "m", stream, messages: [{ role: "user", content: "hi" }] });
}

// ---------------------------------------------------------------------------------------
// The daemon under test
// ---------------------------------------------------------------------------------------

/** The daemon command run under `ulimit -n limit` (bash replaced by the daemon: same PID). */
export function withUlimit(cmd: DaemonCommand, limit: number): DaemonCommand {
  return {
    name: `${cmd.name} (ulimit -n ${limit})`,
    argv: ["bash", "-c", `ulimit -n ${limit} && exec "$@"`, "bash", ...cmd.argv],
  };
}

/** A running daemon process; every wait on it is bounded, `stop` kills it by PID. */
export class DaemonProc {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | undefined;
  readonly #pumps: Promise<void>[];

  readonly #dir: string;

  private constructor(cmd: DaemonCommand, dir: string, configPath: string) {
    this.#dir = dir;
    const [exe, ...args] = cmd.argv;
    this.child = new Deno.Command(exe!, {
      args: [...args, "-c", configPath],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.pid = this.child.pid;
    this.status = this.child.status.then((s) => (this.#exit = s));
    this.#pumps = [pump(this.child.stdout, this.lines), pump(this.child.stderr, this.errLines)];
  }

  /** Writes `yaml` to a temporary file, starts the daemon, waits for `/ready` (≤ 20 s). */
  static async start(cmd: DaemonCommand, yaml: string, adminPort: number): Promise<DaemonProc> {
    const dir = await Deno.makeTempDir({ prefix: "llmproxy-faults-" });
    const path = `${dir}/config.yaml`;
    await Deno.writeTextFile(path, yaml);
    const d = new DaemonProc(cmd, dir, path);
    const end = performance.now() + 20_000;
    while (performance.now() < end) {
      if (!d.alive) {
        await d.stop();
        throw new Error(`daemon exited during start-up (${d.exitText})\n${d.tail()}`);
      }
      try {
        const r = await fetchT(`http://127.0.0.1:${adminPort}/ready`, {}, 1000);
        await r.body?.cancel();
        if (r.status === 200) return d;
      } catch { /* not yet */ }
      await sleep(50);
    }
    await d.stop();
    throw new Error(`daemon not ready within 20 s\n${d.tail()}`);
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.#exit === undefined;
  }

  get exitText(): string {
    const s = this.#exit;
    return s ? `exit code ${s.code}${s.signal ? `, signal ${s.signal}` : ""}` : "running";
  }

  /** The last lines of its output, for failure messages. */
  tail(n = 30): string {
    return `--- stdout (last ${n}) ---\n${this.lines.slice(-n).join("\n")}\n` +
      `--- stderr (last ${n}) ---\n${this.errLines.slice(-n).join("\n")}`;
  }

  /** Throws (with its output) when the daemon has exited. */
  assertAlive(when: string): void {
    if (!this.alive) {
      throw new Error(`the daemon is gone ${when} (${this.exitText})\n${this.tail()}`);
    }
  }

  /** Parsed JSON log records. */
  records(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.lines) {
      if (!l.startsWith("{")) continue;
      try {
        out.push(JSON.parse(l));
      } catch { /* not a record */ }
    }
    return out;
  }

  /** Access records so far. */
  access(): Record<string, unknown>[] {
    return this.records().filter((r) => r.msg === "access");
  }

  /** Waits (≤ `ms`) for the access records of `path` after record number `from`. */
  async accessFor(
    path: string,
    from: number,
    count = 1,
    ms = 3000,
  ): Promise<Record<string, unknown>[]> {
    let hits: Record<string, unknown>[] = [];
    await eventually(
      `${count} access record(s) for ${path}`,
      () => {
        hits = this.access().slice(from).filter((r) => r.path === path);
        return hits.length >= count;
      },
      ms,
      () => JSON.stringify(hits),
    );
    return hits;
  }

  /** Number of open file descriptors (Linux /proc). */
  fdCount(): number {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${this.pid}/fd`)) n++;
    return n;
  }

  /** SIGKILL by PID; waits (bounded) for the exit and the end of its output. */
  async stop(): Promise<void> {
    if (this.alive) {
      try {
        Deno.kill(this.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await within(5000, `daemon ${this.pid} exit`, this.status).catch(() => {});
    await within(2000, "daemon output", Promise.all(this.#pumps)).catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

async function pump(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  const d = new TextDecoder();
  try {
    for await (const chunk of stream) {
      rest += d.decode(chunk, { stream: true });
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        into.push(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
    }
  } catch { /* the process is gone */ }
  if (rest) into.push(rest);
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

/** One Prometheus sample. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format 0.0.4 (enough for our own output). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(body)) !== null) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** The metrics of an admin listener, as a queryable set. */
export class Metrics {
  constructor(readonly samples: readonly Sample[]) {}

  /** Scrapes `/metrics` (≤ 3 s). */
  static async scrape(adminPort: number): Promise<Metrics> {
    const r = await fetchT(`http://127.0.0.1:${adminPort}/metrics`, {}, 3000);
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    return new Metrics(parseMetrics(await r.text()));
  }

  /** Sum of the samples of `name` whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    let s = 0;
    for (const x of this.samples) {
      if (x.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => x.labels[k] === v)) s += x.value;
    }
    return s;
  }

  /** The matching samples, printed (failure messages). */
  show(name: string, match: Record<string, string> = {}): string {
    return this.samples
      .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
      .map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`)
      .join("\n") || `(no ${name} series)`;
  }
}

/** Counter deltas between two scrapes. */
export function delta(
  before: Metrics,
  after: Metrics,
  name: string,
  match: Record<string, string> = {},
): number {
  return after.sum(name, match) - before.sum(name, match);
}

/** Waits (≤ `ms`) until every `llmproxy_upstream_in_flight` series is 0. */
export async function inFlightZero(adminPort: number, ms = 3000): Promise<void> {
  let last: Metrics | undefined;
  await eventually(
    "llmproxy_upstream_in_flight back to 0 in every series",
    async () => {
      last = await Metrics.scrape(adminPort);
      if (!last.samples.some((s) => s.name === "llmproxy_upstream_in_flight")) return false;
      return last.samples.every((s) => s.name !== "llmproxy_upstream_in_flight" || s.value === 0);
    },
    ms,
    () => last?.show("llmproxy_upstream_in_flight") ?? "no scrape",
  );
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------

/** How a raw connection ended, as its reader saw it. */
export type EndKind = "eof" | "reset" | "closed-here";

/**
 * A client TCP connection to 127.0.0.1 read by a background pump, so waits can be
 * bounded without cancelling reads: `waitFor(predicate, ms)`.
 */
export class RawConn {
  readonly conn: Deno.TcpConn;
  readonly openedAt: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #flat: Uint8Array = new Uint8Array(0);
  firstByteAt: number | undefined;
  lastByteAt: number | undefined;
  end: EndKind | undefined;
  endAt: number | undefined;
  endDetail = "";
  #closedHere = false;
  readonly #wake = new Set<() => void>();
  readonly done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.openedAt = performance.now();
    this.done = this.#pump();
  }

  /** Connects (≤ `ms`). */
  static async open(port: number, ms = 2000): Promise<RawConn> {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port,
      signal: AbortSignal.timeout(ms),
    });
    return new RawConn(conn);
  }

  async #pump(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) {
          this.#finish("eof");
          return;
        }
        const now = performance.now();
        this.firstByteAt ??= now;
        this.lastByteAt = now;
        this.#chunks.push(buf.slice(0, n));
        this.#size += n;
        this.#notify();
      }
    } catch (e) {
      this.endDetail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      this.#finish(this.#closedHere ? "closed-here" : "reset");
    }
  }

  #finish(kind: EndKind): void {
    this.end ??= kind;
    this.endAt ??= performance.now();
    this.#notify();
  }

  #notify(): void {
    for (const w of [...this.#wake]) w();
  }

  /** Everything received so far. */
  get bytes(): Uint8Array {
    if (this.#flat.byteLength !== this.#size) {
      const out = new Uint8Array(this.#size);
      let o = 0;
      for (const c of this.#chunks) {
        out.set(c, o);
        o += c.byteLength;
      }
      this.#chunks = [out];
      this.#flat = out;
    }
    return this.#flat;
  }

  /** Everything received so far, as text. */
  get text(): string {
    return dec.decode(this.bytes);
  }

  /** True once the peer closed (FIN or reset). */
  get ended(): boolean {
    return this.end !== undefined;
  }

  /** Waits (≤ `ms`) until `pred()` holds or the connection ended; returns `pred()`. */
  async waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (!pred() && !this.ended) {
      const left = end - performance.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const waiters = this.#wake;
        const wake = () => {
          clearTimeout(t);
          waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        waiters.add(wake);
      });
    }
    return pred();
  }

  /** Waits (≤ `ms`) for the peer to close; true when it did. */
  waitEnd(ms: number): Promise<boolean> {
    return this.waitFor(() => this.ended, ms);
  }

  /** Waits (≤ `ms`) for one whole response; undefined when none came in time. */
  async response(ms: number, opts: { head?: boolean } = {}): Promise<ParsedResponse | undefined> {
    let parsed: ParsedResponse | undefined;
    await this.waitFor(() => {
      parsed = parseResponse(this.bytes, { ...opts, eof: this.ended });
      return parsed !== undefined && parsed.complete;
    }, ms);
    return parseResponse(this.bytes, { ...opts, eof: this.ended });
  }

  /** Writes all of `data` (≤ `ms`); false when the connection refused it (peer gone). */
  async write(data: string | Uint8Array, ms = 2000): Promise<boolean> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    try {
      let off = 0;
      while (off < bytes.byteLength) {
        off += await within(ms, "socket write", this.conn.write(bytes.subarray(off)));
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Closes this side (a client that leaves). */
  close(): void {
    if (this.#closedHere) return;
    this.#closedHere = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A raw HTTP/1.1 request text. */
export function rawRequest(
  method: string,
  target: string,
  headers: Record<string, string>,
  body = "",
): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  const h = { ...headers };
  if (body && !Object.keys(h).some((k) => k.toLowerCase() === "content-length")) {
    h["content-length"] = String(enc.encode(body).byteLength);
  }
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** A chat completion POST as raw bytes. */
export function rawChat(
  path: string,
  opts: { stream?: boolean; host?: string; close?: boolean; extra?: Record<string, string> } = {},
): string {
  return rawRequest("POST", path, {
    host: opts.host ?? "127.0.0.1",
    "content-type": "application/json",
    ...(opts.close ? { connection: "close" } : {}),
    ...opts.extra,
  }, chatBody(opts.stream ?? false));
}

/** An HTTP/1.1 response as it arrived on the wire. */
export interface ParsedResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Header fields in order, names lower-cased. */
  readonly fields: readonly [string, string][];
  /** `content-length`, `chunked`, `close` (read to EOF) or `none` (no body by rule). */
  readonly framing: "length" | "chunked" | "close" | "none";
  /** The body (de-chunked), as far as it arrived. */
  readonly body: Uint8Array;
  /** True when the body arrived whole by its framing. */
  readonly complete: boolean;
  /** For `length`: the declared length. */
  readonly declared?: number;
  /** A framing error seen in a chunked body. */
  readonly framingError?: string;
  /** Bytes of the message (head and body) consumed so far. */
  readonly size: number;
}

/** Helpers on a parsed response. */
export function header(r: ParsedResponse, name: string): string | null {
  const hit = r.fields.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
  return hit.length ? hit.join(", ") : null;
}

/** The body as text. */
export function bodyText(r: ParsedResponse): string {
  return dec.decode(r.body);
}

/**
 * Parses one response from the start of `bytes`; undefined when its head has not fully
 * arrived. `eof`: the connection ended (completes a close-delimited body).
 */
export function parseResponse(
  bytes: Uint8Array,
  opts: { head?: boolean; eof?: boolean } = {},
): ParsedResponse | undefined {
  const text = latin1(bytes);
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, headEnd).split("\r\n");
  const status = Number(statusLine!.split(" ")[1]);
  const fields: [string, string][] = lines.map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  const get = (n: string) => fields.filter(([k]) => k === n).map(([, v]) => v);
  const start = headEnd + 4;
  const rest = bytes.subarray(start);
  const base = { status, statusLine: statusLine!, fields };
  if (opts.head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { ...base, framing: "none", body: new Uint8Array(0), complete: true, size: start };
  }
  const te = get("transfer-encoding").join(",").toLowerCase();
  if (te.includes("chunked")) {
    const chunks: Uint8Array[] = [];
    let off = 0;
    let complete = false;
    let framingError: string | undefined;
    for (;;) {
      const rt = latin1(rest.subarray(off));
      const eol = rt.indexOf("\r\n");
      if (eol < 0) break;
      const sizeText = rt.slice(0, eol).split(";")[0]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
        framingError = `bad chunk size line ${JSON.stringify(rt.slice(0, Math.min(eol, 40)))}`;
        break;
      }
      const n = parseInt(sizeText, 16);
      if (n === 0) {
        // Trailer section: ends with an empty line.
        const tEnd = rt.indexOf("\r\n\r\n", eol - 2 >= 0 ? eol - 2 : 0);
        if (tEnd >= 0) {
          complete = true;
          off += tEnd + 4;
        }
        break;
      }
      if (rest.byteLength - off < eol + 2 + n + 2) break;
      chunks.push(rest.subarray(off + eol + 2, off + eol + 2 + n));
      off += eol + 2 + n + 2;
    }
    return {
      ...base,
      framing: "chunked",
      body: concat(chunks),
      complete,
      ...(framingError ? { framingError } : {}),
      size: start + off,
    };
  }
  const cl = get("content-length");
  if (cl.length > 0) {
    const declared = Number(cl[0]);
    const body = rest.subarray(0, Math.min(declared, rest.byteLength));
    return {
      ...base,
      framing: "length",
      declared,
      body,
      complete: body.byteLength === declared,
      size: start + body.byteLength,
    };
  }
  return {
    ...base,
    framing: "close",
    body: rest,
    complete: opts.eof === true,
    size: start + rest.byteLength,
  };
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.byteLength; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
