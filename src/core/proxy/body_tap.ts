/**
 * Body taps: how the core reads an answer's bytes as the adapter writes them, without
 * a JavaScript stream of its own in between (docs/behaviour.md#token-usage).
 *
 * An adapter that writes response bodies itself (the Node writer, the Deno listener)
 * offers to call taps for a request ({@linkcode offerTaps}). For such a request the core
 * may hand back the upstream answer as it is, with a tap set on it
 * ({@linkcode setBodyTap}); the adapter then calls that tap with every chunk of the
 * body it sends, in order, each right after the chunk is handed to the socket (never
 * before), and never with a chunk it did not send. The end of the body is told by the
 * connection's `completed` promise, as for any body the runtime sends itself.
 *
 * Where no adapter offers taps (Workers, tests, a library user's own server), the core
 * observes the body through a JavaScript stream instead (`observeBody`).
 *
 * @example
 * ```ts
 * import { bodyTapOf, offerTaps } from "./body_tap.ts";
 *
 * // In an adapter, for each request:
 * const request = new Request("http://x.test/", { method: "POST", body: "{}" });
 * offerTaps(request);
 * const response = new Response("{}"); // what the core answered
 * const tap = bodyTapOf(response);
 * // For each chunk written: socket.write(chunk); tap?.(chunk);
 * ```
 *
 * @module
 */

/** Reads one chunk of a body as it leaves. Never throws, never keeps or changes it. */
export type BodyTap = (chunk: Uint8Array) => void;

// Marks on the request and response objects themselves, not entries in a WeakSet or
// WeakMap: weak tables of short-lived keys cost V8 about 5 µs of garbage collection per
// request under load (measured with --trace-gc, bench/PROFILE.md).
const OFFERED: unique symbol = Symbol("llmproxy.offersTaps");
const TAP: unique symbol = Symbol("llmproxy.bodyTap");

/** What a writer offers to tap: bodies of declared length, or every body. */
export type TapOffer = "declared" | "all";

interface Offering {
  [OFFERED]?: TapOffer;
}
interface Tapped {
  [TAP]?: BodyTap;
}

/**
 * Adapter side: the answer to `request` is written by a writer that calls
 * {@linkcode bodyTapOf}'s tap with every chunk it sends: for answers with a
 * `Content-Length` only (`declared`: a writer that sends a stream of unknown length
 * through JavaScript anyway, where the core's own observation costs no more), or for
 * every answer (`all`: a writer that pipes streams natively).
 */
export function offerTaps(request: Request, offer: TapOffer = "declared"): void {
  (request as Offering)[OFFERED] = offer;
}

/**
 * Core side: whether the answer to `request` may carry a tap, for a body with a
 * declared length (`declared`) or without one.
 */
export function takesTaps(request: Request, declared = true): boolean {
  const offer = (request as Offering)[OFFERED];
  return offer === "all" || (declared && offer === "declared");
}

/** Core side: `tap` is to see every chunk of `response`'s body as it is sent. */
export function setBodyTap(response: Response, tap: BodyTap): void {
  (response as Tapped)[TAP] = tap;
}

/** Adapter side: the tap to call with each chunk of `response`'s body, if any. */
export function bodyTapOf(response: Response): BodyTap | undefined {
  return (response as Tapped)[TAP];
}
