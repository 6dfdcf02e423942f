/**
 * Bodies an adapter keeps in its runtime's own form until the core asks for a web
 * stream. On Node 20 every web `ReadableStream` costs about 11 µs to create and a
 * `Request` or `Response` around one 15 µs more (bench/PROFILE.md "Node"), so the Node
 * adapter builds the client's `Request` and the upstream's `Response` with no body and
 * gives each a `body` that makes the stream on first use (and the request an
 * `arrayBuffer()` that reads the bytes natively). The core never needs `.body` just to
 * know whether there is one: it asks {@linkcode hasBody}, which such an object answers
 * without making the stream.
 *
 * @module
 */

import type { BodyTap } from "./body_tap.ts";

// A mark on the object itself (see body_tap.ts for why not a WeakMap).
const HAS_BODY: unique symbol = Symbol("llmproxy.hasBody");

interface Marked {
  [HAS_BODY]?: boolean;
}

/** Adapter side: `message` has a body (or not), whatever its `body` getter would make. */
export function markHasBody(message: Request | Response, present: boolean): void {
  (message as Marked)[HAS_BODY] = present;
}

/** Whether `message` has a body: `message.body !== null`, without making a stream. */
export function hasBody(message: Request | Response): boolean {
  const marked = (message as Marked)[HAS_BODY];
  return marked !== undefined ? marked : message.body !== null;
}

const BYTES: unique symbol = Symbol("llmproxy.bodyBytes");

interface WithBytes {
  [BYTES]?: Uint8Array<ArrayBuffer>;
}

/**
 * Adapter side: the body of `response` is `bytes`, all of it, already in memory (an
 * answer a transport read whole with its head). An adapter that writes bodies itself
 * can then send and tap them without reading the body through a stream.
 */
export function markBodyBytes(response: Response, bytes: Uint8Array<ArrayBuffer>): void {
  (response as WithBytes)[BYTES] = bytes;
  (response as Marked)[HAS_BODY] = bytes.byteLength > 0;
}

/** The bytes {@linkcode markBodyBytes} set on `response`, if any. */
export function bodyBytesOf(response: Response): Uint8Array<ArrayBuffer> | undefined {
  return (response as WithBytes)[BYTES];
}

const PRODUCER: unique symbol = Symbol("llmproxy.bodyProducer");

interface WithProducer {
  [PRODUCER]?: (tap: BodyTap) => void;
}

/**
 * Adapter side: the body stream of `response` is the adapter's own, which calls the tap
 * handed to `setTap` with each chunk right after enqueueing it. A writer can then send
 * that stream as it is and still have it tapped, instead of wrapping it in a stream that
 * taps (one JavaScript stream less per chunk of an event stream).
 */
export function markTappableBody(response: Response, setTap: (tap: BodyTap) => void): void {
  (response as WithProducer)[PRODUCER] = setTap;
  (response as Marked)[HAS_BODY] = true;
}

/** The tap setter {@linkcode markTappableBody} put on `response`, if any. */
export function tappableBodyOf(response: Response): ((tap: BodyTap) => void) | undefined {
  return (response as WithProducer)[PRODUCER];
}

/**
 * `response` with other headers (and status text), around the same body: bytes a
 * transport read whole stay bytes, and the marks above carry over.
 */
export function withInit(response: Response, init: ResponseInit): Response {
  const bytes = (response as WithBytes)[BYTES];
  const out = new Response(bytes ?? response.body, init);
  if (bytes !== undefined) (out as WithBytes)[BYTES] = bytes;
  const producer = (response as WithProducer)[PRODUCER];
  if (producer !== undefined) (out as WithProducer)[PRODUCER] = producer;
  const has = (response as Marked)[HAS_BODY];
  if (has !== undefined) (out as Marked)[HAS_BODY] = has;
  return out;
}
