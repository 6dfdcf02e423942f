/**
 * A `redis-server` of the test's own, on a free loopback port, without persistence
 * (`--save "" --appendonly no`), stopped by its PID. Every wait has a deadline.
 *
 * @module
 */

import { delay, freePort } from "../conformance/harness.ts";
import { killChild, waitChild, withDeadline } from "../deadline.ts";

/** Where the Debian package puts it; `PATH` otherwise. */
const REDIS_SERVER = (() => {
  try {
    Deno.statSync("/usr/bin/redis-server");
    return "/usr/bin/redis-server";
  } catch {
    return "redis-server";
  }
})();

/** A running redis-server. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  #child: Deno.ChildProcess | undefined;
  #password: string | undefined;

  private constructor(port: number, password?: string) {
    this.port = port;
    this.#password = password;
    const auth = password === undefined ? "" : `:${encodeURIComponent(password)}@`;
    this.url = `redis://${auth}127.0.0.1:${port}`;
  }

  /** Starts one on a free port (`password`: with `requirepass`); ready when it answers. */
  static async start(options: { password?: string; port?: number } = {}): Promise<RedisServer> {
    const s = new RedisServer(options.port ?? freePort(), options.password);
    await s.restart();
    return s;
  }

  /** The process id (the server is stopped by it). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether a server process of ours is running. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server (again) on the same port, empty; resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error("redis-server is already running");
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
      "--loglevel",
      "warning",
    ];
    if (this.#password !== undefined) args.push("--requirepass", this.#password);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(REDIS_SERVER, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (e) {
      throw new Error(
        `cannot start redis-server (${e instanceof Error ? e.message : e}); ` +
          "install it: apt-get install redis-server",
      );
    }
    this.#child = child;
    const end = Date.now() + 10_000;
    let exited = false;
    child.status.then(() => exited = true);
    while (Date.now() < end && !exited) {
      if (await this.#pingOnce()) return;
      await delay(20);
    }
    await this.stop();
    throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
  }

  /** Stops it by its PID (SIGKILL: as a crash looks) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    killChild(child, "SIGKILL");
    await waitChild(child, 10_000, `redis-server ${child.pid} after SIGKILL`).catch(() => {});
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) it: a Redis that stops answering. */
  pause(paused: boolean): void {
    killChild(this.#child!, paused ? "SIGSTOP" : "SIGCONT");
  }

  /** Sends one command over a fresh connection (RESP), within 2 s; the raw reply. */
  async command(...args: string[]): Promise<string> {
    return await withDeadline(
      async (signal) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        const close = () => {
          try {
            conn.close();
          } catch { /* closed */ }
        };
        signal.addEventListener("abort", close);
        try {
          const all = this.#password === undefined ? [args] : [["AUTH", this.#password], args];
          const enc = new TextEncoder();
          for (const a of all) {
            const body = a.map((x) => `$${enc.encode(x).length}\r\n${x}\r\n`).join("");
            await conn.write(enc.encode(`*${a.length}\r\n${body}`));
          }
          let text = "";
          const buf = new Uint8Array(65536);
          const dec = new TextDecoder();
          // Enough for the short replies tests read; the last reply is returned.
          while (countReplies(text) < all.length) {
            const n = await conn.read(buf);
            if (n === null) break;
            text += dec.decode(buf.subarray(0, n), { stream: true });
          }
          return lastReply(text, all.length);
        } finally {
          signal.removeEventListener("abort", close);
          close();
        }
      },
      2_000,
      `redis ${args[0]}`,
    );
  }

  async #pingOnce(): Promise<boolean> {
    try {
      return (await this.command("PING")).startsWith("+PONG");
    } catch {
      return false;
    }
  }
}

/** How many complete top-level replies `text` holds (simple types and arrays of them). */
function countReplies(text: string): number {
  let i = 0;
  let n = 0;
  const one = (): boolean => {
    const eol = text.indexOf("\r\n", i);
    if (eol < 0) return false;
    const type = text[i];
    const head = text.slice(i + 1, eol);
    i = eol + 2;
    if (type === "$") {
      const len = Number(head);
      if (len < 0) return true;
      if (text.length < i + len + 2) return false;
      i += len + 2;
      return true;
    }
    if (type === "*") {
      const len = Number(head);
      for (let k = 0; k < len; k++) if (!one()) return false;
      return true;
    }
    return true;
  };
  while (i < text.length && one()) n++;
  return n;
}

function lastReply(text: string, count: number): string {
  // Good enough for tests: the text after the first (count - 1) lines of AUTH replies.
  if (count === 1) return text;
  const first = text.indexOf("\r\n");
  return text.slice(first + 2);
}
