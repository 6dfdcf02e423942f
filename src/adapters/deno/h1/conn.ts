/**
 * One pooled TCP connection to an upstream with its read buffer. While it waits in
 * the pool a read is already pending on it: an upstream that closes an idle connection
 * (or sends bytes nobody asked for) is noticed at once and the connection dropped, and
 * the next request's first read is that pending one, so waiting costs no extra read.
 *
 * @module
 */

import { MAX_HEAD_BYTES } from "./head.ts";

/** Read buffer size; a response head may grow it up to MAX_HEAD_BYTES. */
const BUFFER_BYTES = 16 * 1024;
/**
 * Read buffer of a streamed body waiting for its next piece (an event stream's next
 * event): an idle open stream then holds 4 KiB, not 16 (about 10 KiB of RSS per idle
 * stream, bench/PROFILE.md).
 */
const WAIT_BUFFER_BYTES = 4 * 1024;

/** A connection and the unread bytes `buf[start, end)`. */
export class H1Conn {
  readonly conn: Deno.TcpConn;
  /** `host:port` this connection goes to (the pool's key). */
  readonly origin: string;
  buf: Uint8Array = new Uint8Array(BUFFER_BYTES);
  start = 0;
  end = 0;
  /** When the pool may keep it until (gateway clock ms); set while idle. */
  idleUntil = 0;
  #pending: Promise<number | null> | undefined;
  #lastReadFilled = false;
  #idleGen = 0;
  #closed = false;

  constructor(conn: Deno.TcpConn, origin: string) {
    this.conn = conn;
    this.origin = origin;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads more bytes after `end`; returns false at the end of the stream. Compacts or
   * grows the buffer first when it is full (a head never grows it past MAX_HEAD_BYTES).
   */
  async fill(): Promise<boolean> {
    let n: number | null;
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#pending = undefined;
      n = await pending;
    } else {
      if (this.start === this.end) this.start = this.end = 0;
      else if (this.end === this.buf.length) this.#makeRoom();
      n = await this.conn.read(this.buf.subarray(this.end));
    }
    if (n === null) return false;
    this.end += n;
    this.#lastReadFilled = this.end === this.buf.length;
    return true;
  }

  /**
   * Before a read that may wait long (the next piece of a streamed body, nothing
   * unread): a small buffer, unless the last read filled its buffer (a large body
   * coming fast keeps the large one).
   */
  sizeForWait(): void {
    if (this.start !== this.end || this.#pending !== undefined) return;
    const want = this.#lastReadFilled ? BUFFER_BYTES : WAIT_BUFFER_BYTES;
    if (this.buf.length !== want) this.buf = new Uint8Array(want);
    this.start = this.end = 0;
  }

  #makeRoom(): void {
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      return;
    }
    if (this.buf.length >= MAX_HEAD_BYTES) return;
    const grown = new Uint8Array(Math.min(this.buf.length * 2, MAX_HEAD_BYTES));
    grown.set(this.buf.subarray(0, this.end));
    this.buf = grown;
  }

  /** Whether the buffer is full and cannot grow (a head over MAX_HEAD_BYTES). */
  get full(): boolean {
    return this.start === 0 && this.end === this.buf.length && this.buf.length >= MAX_HEAD_BYTES;
  }

  /**
   * Puts the connection in the pool's care: a read starts at once, and `onLost` runs if
   * it ends (closed, reset, unexpected bytes) before the connection is used again.
   */
  park(onLost: (c: H1Conn) => void): void {
    if (this.buf.length !== BUFFER_BYTES) this.buf = new Uint8Array(BUFFER_BYTES);
    this.start = this.end = 0;
    const gen = ++this.#idleGen;
    const pending = this.conn.read(this.buf);
    this.#pending = pending;
    const lost = () => {
      if (this.#idleGen === gen && this.#pending === pending) onLost(this);
    };
    pending.then(lost, lost);
  }

  /** Takes the connection out of the pool for a request. */
  unpark(): void {
    this.#idleGen++;
  }

  /** Closes the socket (a pending read then fails); safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#idleGen++;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}
