/**
 * What the request pipeline needs from its host, and what the adapter tells it about a
 * connection. The pipeline depends on these interfaces only, never on the
 * {@linkcode Gateway} class that implements them, so the dependency points one way
 * (gateway → pipeline) and a test can hand the pipeline a plain object.
 *
 * The upstream transport is not here: it comes with the configuration snapshot's group
 * (one per group, kept across reloads when the group's transport settings are unchanged).
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { ModelLabels, ProxyMetrics } from "../metrics/mod.ts";
import type { StateStore } from "../state/types.ts";
import type { Deadlines } from "../deadlines.ts";

/** The services one proxied request uses. */
export interface ProxyDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  /** Rate limits, breakers, member selection and client limits. */
  readonly store: StateStore;
  /** The randomness of backoff jitter. */
  readonly random: () => number;
  /** The bounded `model` label values of the token metrics. */
  readonly modelLabels: ModelLabels;
  /** Whether answers are read for token usage. */
  readonly usageAccounting: boolean;
  /** Abort controllers of the attempts now running, so a shutdown drain can end them. */
  readonly running: Set<AbortController>;
  /** The request deadlines of running attempts, on one timer of `clock`. */
  readonly deadlines: Deadlines;
}

/** What the adapter knows about the client connection. */
export interface ConnInfo {
  /** The peer's IP address. */
  readonly remoteAddr: string;
  /** Fires when the client disconnects before the response is complete. */
  readonly signal?: AbortSignal;
  /** `http` or `https` as the client spoke to us. */
  readonly proto?: string;
  /**
   * Keeps work that ends after the response alive (Workers' `ctx.waitUntil`): the
   * state-store calls that give back an upstream slot once the body is over.
   */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * Settles when the runtime has finished sending the response (rejects when the
   * client went away first), as the Deno adapter's `info.completed` does. When given, a body
   * of known length is handed to the runtime untouched (it can splice it natively)
   * instead of being observed chunk by chunk.
   */
  readonly completed?: Promise<void>;
}
