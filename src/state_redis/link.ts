/**
 * One connection to Redis through node-redis (`@redis/client`), the same code on Deno
 * and Node: commands with a deadline, scripts by SHA, and a connection that reconnects
 * by itself (at most a second between tries) while commands fail at once when it is
 * down instead of queueing.
 *
 * @module
 */

import { createClient } from "@redis/client";
import { systemClock } from "../core/clock.ts";
import { Deadlines } from "../core/deadlines.ts";
import type { Script } from "./scripts.ts";

/** A command that ran past its deadline (the reply, if any, comes later). */
export class RedisTimeoutError extends Error {
  override name = "RedisTimeoutError";
}

/** A reply as the scripts return it: integers, strings and arrays of them. */
export type Reply = number | string | null | readonly Reply[];

/** Settings of a {@linkcode RedisLink}. */
export interface RedisLinkOptions {
  /** `redis://` or `rediss://` (a secret: never logged by this class). */
  readonly url: string;
  /** Called with every connection error (the client retries by itself). */
  readonly onError?: (error: Error) => void;
  /** Called each time the connection is (again) ready for commands. */
  readonly onReady?: () => void;
  /** Longest pause between reconnect tries (default 1000 ms). */
  readonly maxReconnectDelayMs?: number;
}

/**
 * A Redis connection for the state store.
 *
 * @example
 * ```ts ignore
 * const link = new RedisLink({ url: "redis://127.0.0.1:6379" });
 * link.start();
 * const pong = await link.send(["PING"], 250);
 * await link.close();
 * ```
 */
export class RedisLink {
  readonly #client: ReturnType<typeof createClient>;
  readonly #onError: ((error: Error) => void) | undefined;
  /** The per-command timeouts, on one timer: no `setTimeout` per command. */
  readonly #deadlines = new Deadlines(systemClock);
  #subscriber: ReturnType<typeof createClient> | undefined;
  #closed = false;

  constructor(options: RedisLinkOptions) {
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    this.#client = createClient({
      url: options.url,
      // Fail fast while disconnected: the store then decides locally.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 2_000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), maxDelay),
      },
    });
    // Without a listener node-redis would throw connection errors as unhandled.
    this.#client.on("error", (e: unknown) => {
      options.onError?.(e instanceof Error ? e : new Error(String(e)));
    });
    this.#client.on("ready", () => options.onReady?.());
    this.#onError = options.onError;
  }

  /**
   * Listens to `channel` on a second connection (a subscribed connection takes no
   * other commands); it reconnects and subscribes again by itself. Never rejects:
   * messages missed while it is away are what the callers' periodic checks are for.
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    if (this.#closed || this.#subscriber !== undefined) return Promise.resolve();
    const sub = this.#client.duplicate();
    this.#subscriber = sub;
    sub.on("error", (e: unknown) => {
      this.#onError?.(e instanceof Error ? e : new Error(String(e)));
    });
    return sub.connect()
      .then(() => sub.subscribe(channel, (message: unknown) => onMessage(String(message))))
      .then(() => {}, () => {
        // Tried again by the next call (the store calls this each time Redis is back).
        if (this.#subscriber === sub) this.#subscriber = undefined;
        try {
          sub.destroy();
        } catch { /* never connected */ }
      });
  }

  /** Starts connecting (and reconnecting, until {@linkcode close}); never rejects. */
  start(): Promise<void> {
    return this.#client.connect().then(() => {}, () => {});
  }

  /** Connected and ready for commands. */
  get ready(): boolean {
    return !this.#closed && this.#client.isReady;
  }

  /**
   * Sends one command; rejects with a {@linkcode RedisTimeoutError} after `timeoutMs`.
   * `onLate` gets the reply of a command that timed out but was answered later.
   */
  send(
    args: readonly string[],
    timeoutMs: number,
    onLate?: (reply: Reply) => void,
  ): Promise<Reply> {
    if (this.#closed) return Promise.reject(new Error("the Redis connection is closed"));
    const pending = this.#client.sendCommand(args) as Promise<Reply>;
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const deadline = this.#deadlines.add(timeoutMs, () => {
        if (settled) return;
        settled = true;
        reject(new RedisTimeoutError(`no answer from Redis within ${timeoutMs} ms`));
      });
      pending.then((reply) => {
        if (settled) return onLate?.(reply);
        settled = true;
        this.#deadlines.cancel(deadline);
        resolve(reply);
      }, (e) => {
        if (settled) return;
        settled = true;
        this.#deadlines.cancel(deadline);
        reject(e);
      });
    });
  }

  /**
   * Runs a script by its SHA; when Redis does not know it (a restart, `SCRIPT FLUSH`)
   * it is sent whole once, which also loads it again. Both tries share one deadline.
   */
  async run(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    timeoutMs: number,
    onLate?: (reply: Reply) => void,
  ): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    const start = performance.now();
    try {
      return await this.send(["EVALSHA", script.sha, ...tail], timeoutMs, onLate);
    } catch (e) {
      if (!isNoScript(e)) throw e;
      const left = Math.max(1, timeoutMs - (performance.now() - start));
      return await this.send(["EVAL", script.source, ...tail], left, onLate);
    }
  }

  /** Loads the scripts (so the first EVALSHA finds them). */
  async load(scripts: readonly Script[], timeoutMs: number): Promise<void> {
    for (const s of scripts) await this.send(["SCRIPT", "LOAD", s.source], timeoutMs);
  }

  /**
   * Closes the connection for good (stops reconnecting). Commands still waiting are
   * rejected at once: a Redis that stopped answering cannot hold up a shutdown.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    try {
      this.#client.destroy();
    } catch { /* already gone */ }
    try {
      this.#subscriber?.destroy();
    } catch { /* already gone */ }
    return Promise.resolve();
  }
}

function isNoScript(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith("NOSCRIPT");
}
