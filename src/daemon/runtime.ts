import type { Logger } from "../core/log/logger.ts";
import type { TransportFactory } from "../core/proxy/transport.ts";

/** What a listener's handler learns about the connection. */
export interface ServeConn {
  readonly remoteAddr: string;
  /** Fires when the client goes away before the response is complete. */
  readonly signal: AbortSignal;
  /** Settles once the response is fully sent (rejects when it was not), if known. */
  readonly completed?: Promise<void>;
}

/** A request handler as the runtime calls it. */
export type ServeHandler = (request: Request, conn: ServeConn) => Response | Promise<Response>;

/** A bound listener. */
export interface Listener {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting at once; resolves when the running exchanges are over. */
  shutdown(): Promise<void>;
  /** Stops at once, cutting what is running. */
  close(): Promise<void>;
}

/** Options of one listener. */
export interface ServeOptions {
  readonly hostname: string;
  readonly port: number;
  /**
   * The time limits now in force, read for every connection and request so a reload
   * changes them for what comes next: `headMs` is how long a connection may wait for
   * its (next) request head before it is closed (a forward's `timeout.connect`).
   */
  readonly timeouts?: () => { readonly headMs: number };
  /** Most client connections held at once (default: from the descriptor limit). */
  readonly maxConnections?: number;
  readonly handler: ServeHandler;
}

/**
 * Everything the daemon needs from a runtime (Deno, Node). Adapters implement this in
 * a few dozen lines; the daemon logic is shared.
 */
export interface DaemonRuntime {
  /** `deno` or `node`, for logs. */
  readonly name: string;
  env(name: string): string | undefined;
  readTextFile(path: string): Promise<string>;
  serve(options: ServeOptions): Promise<Listener>;
  /** The outbound transports for the gateway. */
  transports(logger: Logger): TransportFactory;
  /** Registers a signal handler; false when the platform has no such signal. */
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", fn: () => void): boolean;
  /** Writes one line to stdout / stderr. */
  stdout(line: string): void;
  stderr(line: string): void;
  exit(code: number): never;
}
