/**
 * Keep-alive connections of one group's upstream client, by origin: the most recently
 * used first, each kept for the idle timeout (or the upstream's shorter `Keep-Alive:
 * timeout=`), at most MAX_IDLE per origin. One timer per pool, running only while
 * something is idle and never keeping the process alive.
 *
 * @module
 */

import { H1Conn } from "./conn.ts";

/** Idle connections kept per origin. */
export const MAX_IDLE = 512;

/** Options of {@linkcode H1Pool}. */
export interface PoolOptions {
  /** How long an idle connection is kept, in ms. */
  idleMs: number;
  /** How long a connect may take, in ms. */
  connectMs: number;
  /** Whether TCP keep-alive probes are on. */
  keepAlive: boolean;
}

/** Why a connect did not complete in time. */
export class ConnectTimeout extends Error {
  constructor(origin: string, ms: number) {
    super(`connect to ${origin} did not complete within ${ms} ms`);
    this.name = "ConnectTimeout";
  }
}

/**
 * A TCP connection that completes within `ms`, else a {@linkcode ConnectTimeout} (named
 * after `origin`); `signal`, when given, ends the wait with its reason. A connect that
 * completes after either is closed at once.
 */
export async function connectWithin(
  hostname: string,
  port: number,
  ms: number,
  origin: string,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  signal?.throwIfAborted();
  const connecting = Deno.connect({ hostname, port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConnectTimeout(origin, ms)), ms);
        if (signal === undefined) return;
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } catch (e) {
    connecting.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}

/** The pool. */
export class H1Pool {
  readonly #idle = new Map<string, H1Conn[]>();
  readonly #options: PoolOptions;
  #idleCount = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** Idle connections now held. */
  get idleCount(): number {
    return this.#idleCount;
  }

  /** An idle connection to `origin`, most recently used first. */
  take(origin: string): H1Conn | undefined {
    const list = this.#idle.get(origin);
    const conn = list?.pop();
    if (conn === undefined) return undefined;
    this.#idleCount--;
    conn.unpark();
    return conn;
  }

  /** A new connection; rejects with ConnectTimeout, the signal's reason, or the error. */
  async connect(
    origin: string,
    hostname: string,
    port: number,
    signal: AbortSignal,
  ): Promise<H1Conn> {
    const tcp = await connectWithin(hostname, port, this.#options.connectMs, origin, signal);
    tcp.setNoDelay(true);
    if (this.#options.keepAlive) tcp.setKeepAlive(true);
    return new H1Conn(tcp, origin);
  }

  /** Returns a connection after a complete exchange; it is closed when not kept. */
  release(conn: H1Conn, keepAliveMs: number | undefined): void {
    if (this.#closed || conn.closed) {
      conn.close();
      return;
    }
    let list = this.#idle.get(conn.origin);
    if (list === undefined) {
      list = [];
      this.#idle.set(conn.origin, list);
    }
    if (list.length >= MAX_IDLE) {
      conn.close();
      return;
    }
    // Kept a second less than the upstream says it keeps it, so it is not closed under us.
    const ms = keepAliveMs === undefined
      ? this.#options.idleMs
      : Math.min(this.#options.idleMs, keepAliveMs - 1000);
    if (ms <= 0) {
      conn.close();
      return;
    }
    conn.idleUntil = Date.now() + ms;
    list.push(conn);
    this.#idleCount++;
    conn.park((lost) => this.#drop(lost));
    this.#startTimer();
  }

  /** Closes every idle connection; connections in use are closed when released. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
    this.#idleCount = 0;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #drop(conn: H1Conn): void {
    const list = this.#idle.get(conn.origin);
    const at = list?.indexOf(conn) ?? -1;
    if (at !== -1) {
      list!.splice(at, 1);
      this.#idleCount--;
    }
    conn.close();
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    const every = Math.max(250, Math.min(5000, this.#options.idleMs / 4));
    const timer = setInterval(() => this.#sweep(), every);
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [origin, list] of this.#idle) {
      const kept = list.filter((c) => c.idleUntil > now);
      if (kept.length !== list.length) {
        for (const c of list) if (c.idleUntil <= now) c.close();
        this.#idleCount -= list.length - kept.length;
        list.length = 0;
        list.push(...kept);
      }
      if (list.length === 0) this.#idle.delete(origin);
    }
    if (this.#idleCount === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
