import type { BodyTap } from "../../core/proxy/body_tap.ts";
import { settledSoon } from "../../core/proxy/settled_soon.ts";
import { bodyBytesOf, tappableBodyOf } from "../../core/proxy/native_body.ts";

/**
 * How the Deno listener sends an answer that carries a body tap (usage accounting,
 * src/core/proxy/body_tap.ts). The bytes must pass through JavaScript for the tap to
 * see them, and `Deno.serveHttp` sends a JavaScript stream body with an awaited write
 * per chunk and a shutdown, but a `Uint8Array` body with the headers in one write.
 *
 * So a JSON body with a declared length of at most {@linkcode WHOLE_MAX} bytes is
 * collected whole with `Response.bytes()`, one native read: about 12 µs of
 * CPU per request less than reading it through a BYOB reader, and 25 µs less than a
 * default reader (bench/PROFILE.md "Round two"). When the runtime already holds it, as
 * it does for an answer that came in one piece with its headers, the answer goes out
 * with those bytes in one write and the tap sees them as they are handed over. When it
 * does not settle at once, the headers go out now and the body follows in one piece
 * when complete: a JSON body is of no use to a client before its end, and it is at most
 * 64 KiB. A client that leaves meanwhile aborts the upstream exchange (its signal),
 * which ends the read.
 *
 * Everything else (another type, even with a length: an event stream must pass event
 * by event; no or a larger length) streams through a
 * pull-through stream without a queue (the client's pace is the upstream's) that taps
 * each chunk right after enqueueing it.
 */

/** Largest declared length read in one piece for a single-write answer. */
export const WHOLE_MAX = 64 * 1024;

/** Reused read buffer of the pull-through stream (see observed_body.ts). */
const READ_BUFFER = 8 * 1024;

/** The answer to hand `respondWith`, and the bytes to tap once it has been handed over. */
export interface Tapped {
  readonly response: Response;
  /** A body sent whole: tap it right after calling `respondWith`. */
  readonly whole?: Uint8Array;
  /**
   * Why the body failed before anything of it was sent, once `respondWith` has settled
   * (the runtime may then report the answer as sent: the caller must treat it as cut).
   */
  readonly failure?: () => unknown;
}

/**
 * The response to send for `response` whose body `tap` must see. Never rejects: a
 * failing body fails the stream it is sent through, as it would have natively.
 */
export async function tappedResponse(response: Response, tap: BodyTap): Promise<Tapped> {
  // The transport read it whole with its head (h1/client.ts): sent as it is, one write.
  const known = bodyBytesOf(response);
  if (known !== undefined) return known.byteLength > 0 ? { response, whole: known } : { response };
  // A stream the transport produces taps itself (h1/client.ts): sent as it is.
  const producer = tappableBodyOf(response);
  if (producer !== undefined) {
    producer(tap);
    return { response };
  }
  const body = response.body;
  if (body === null) return { response };
  if (declaredLength(response.headers) === undefined || !isJson(response.headers)) {
    let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = body.getReader({ mode: "byob" });
    } catch {
      reader = body.getReader();
    }
    return { response: withBody(response, pullThrough(reader, tap)) };
  }
  const all = response.bytes();
  const here = await settledSoon(all);
  if (here !== undefined) return { response: withBody(response, here), whole: here };
  const failed: { error?: unknown } = {};
  all.catch((e) => failed.error = e ?? new Error("the upstream body failed"));
  return {
    response: withBody(response, whenComplete(all, tap)),
    failure: () => failed.error,
  };
}

/**
 * A stream of one chunk, `all` once it has come (tapped after it is enqueued); it fails
 * as `all` does.
 */
function whenComplete(all: Promise<Uint8Array>, tap: BodyTap): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const bytes = await all;
      if (bytes.byteLength > 0) {
        controller.enqueue(bytes);
        tap(bytes);
      }
      controller.close();
    },
  }, { highWaterMark: 0 });
}

/** `application/json` or a `+json` type: of no use to a client before its end. */
function isJson(headers: Headers): boolean {
  const type = headers.get("content-type");
  if (type === null) return false;
  const media = type.split(";", 1)[0]!.trim().toLowerCase();
  return media === "application/json" || media.endsWith("+json");
}

/** A declared `Content-Length` in 1..WHOLE_MAX, else undefined. */
function declaredLength(headers: Headers): number | undefined {
  const v = headers.get("content-length");
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 && n <= WHOLE_MAX ? n : undefined;
}

/**
 * `response` with another body. Its `statusText` is left out: `Deno.serveHttp` sends
 * the status code only (the reason phrase is the runtime's), and checking the text
 * costs a microsecond per answer.
 */
function withBody(response: Response, body: BodyInit): Response {
  return new Response(body, { status: response.status, headers: response.headers });
}

/**
 * Streams `reader`'s chunks on, tapping each once it is enqueued. A failing read fails
 * the stream (the runtime then cuts the client's connection); cancelling it cancels the
 * upstream body.
 */
function pullThrough(
  reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>,
  tap: BodyTap,
): ReadableStream<Uint8Array> {
  const byob = isByob(reader);
  let buffer: ArrayBuffer | undefined = byob ? new ArrayBuffer(READ_BUFFER) : undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array;
      if (byob) {
        const r = await (reader as ReadableStreamBYOBReader).read(new Uint8Array(buffer!));
        if (r.done || r.value === undefined) return controller.close();
        buffer = r.value.buffer as ArrayBuffer;
        chunk = r.value.slice();
      } else {
        const r = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (r.done) return controller.close();
        chunk = r.value;
      }
      controller.enqueue(chunk);
      tap(chunk);
    },
    cancel(reason) {
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

function isByob(
  reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>,
): reader is ReadableStreamBYOBReader {
  return reader instanceof ReadableStreamBYOBReader;
}
