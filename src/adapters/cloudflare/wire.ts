/**
 * What the worker and its Durable Objects send each other over RPC: plain data only
 * (structured clone), never class instances.
 *
 * @module
 */

import type { BreakerConfig, Strategy } from "../../core/config/types.ts";
import type { MemberStatus } from "../../core/state/types.ts";

/**
 * The part of one group's configuration that its state depends on: members and
 * weights, strategy, and per upstream a hash of its URL and its breaker settings.
 * Secrets never leave the worker: auth, headers and the URL itself stay behind.
 */
export interface GroupSpec {
  readonly name: string;
  readonly strategy: Strategy;
  readonly members: readonly { readonly name: string; readonly weight: number }[];
  readonly upstreams: readonly {
    readonly name: string;
    /** A hash of the upstream URL: state starts afresh when the URL changes. */
    readonly url: string;
    readonly breaker?: BreakerConfig;
  }[];
}

/** A selection as it crosses the wire. */
export type WireSelect =
  | {
    readonly ok: true;
    readonly id: number;
    readonly upstream: string;
    readonly probe: boolean;
    /** The group object's instance: a selection made before it restarted is void. */
    readonly epoch: string;
  }
  | { readonly ok: false; readonly retryAfterMs: number };

/** What a settle carries (the core's `AttemptOutcome`, as plain data). */
export interface WireOutcome {
  readonly kind: "success" | "failure" | "cancelled";
  readonly latencyMs?: number;
  readonly unavailableForMs?: number;
}

/** Member states for the admin view. */
export type WireStatus = readonly MemberStatus[];

/** The live configuration as the config object answers a version check. */
export interface ConfigRead {
  /** 0: no change was made through the admin API on top of this base. */
  readonly version: number;
  /** Present when `version` differs from the one the caller already has. */
  readonly config?: unknown;
}

/** Outcome of a compare-and-swap write of the live configuration. */
export interface ConfigWrite {
  readonly ok: boolean;
  /** The version now stored (the new one, or the one that won the race). */
  readonly version: number;
}

/**
 * A short, stable, non-cryptographic hash (FNV-1a, 2×32 bit) for equality checks:
 * upstream URLs (which may carry keys) and configuration texts.
 */
export function fnv1a(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
}

/**
 * Awaits a Durable Object RPC and disposes its result. workerd keeps the RPC session
 * of an undisposed result open for the rest of the request, and while it is open the
 * request never sees its client disconnect (`request.signal` stays quiet, so neither
 * the upstream abort nor the pipeline's clean-up run).
 */
export async function rpc<T>(call: Promise<T>): Promise<T> {
  try {
    const result = await call;
    dispose(result);
    return result;
  } finally {
    dispose(call);
  }
}

function dispose(value: unknown): void {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return;
  const fn = (value as { [Symbol.dispose]?: () => void })[Symbol.dispose];
  if (typeof fn !== "function") return;
  try {
    fn.call(value);
  } catch {
    // Already disposed, or nothing to release.
  }
}
