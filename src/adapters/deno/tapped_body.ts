import type { BodyTap } from "../../core/proxy/body_tap.ts";

/**
 * How the Deno listener sends an answer that carries a body tap (usage accounting,
 * src/core/proxy/body_tap.ts). The bytes must pass through JavaScript for the tap to
 * see them, and `Deno.serveHttp` sends a JavaScript stream body with an awaited write
 * per chunk and a shutdown, but a `Uint8Array` body with the headers in one write (in
 * a minimal proxy: 71 µs of CPU per request passing a fetch body natively, 80 reading
 * it and answering with the bytes, 86 through a stream).
 *
 * So for a body with a declared length of at most {@linkcode WHOLE_MAX} bytes, one
 * read of that size is started; when it settles at once with all of it (the runtime
 * already holds the whole body, as it does for a JSON answer that came in one piece
 * with its headers), the answer goes out with those bytes in one write and the tap sees
 * them as they are handed over. Nothing waits for that: when the read does not settle
 * at once, or brings less, the answer is streamed as it comes, headers first.
 *
 * Everything else (no or a larger length, a body in pieces) streams through a
 * pull-through stream without a queue (the client's pace is the upstream's) that taps
 * each chunk right after enqueueing it.
 *
 * Measured in bench/PROFILE.md ("Usage accounting through body taps").
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
}

/**
 * The response to send for `response` whose body `tap` must see. Never rejects: a
 * failing body fails the stream it is sent through, as it would have natively.
 */
export async function tappedResponse(response: Response, tap: BodyTap): Promise<Tapped> {
  const body = response.body;
  if (body === null) return { response };
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    byob = undefined;
  }
  if (byob === undefined) {
    return { response: withBody(response, pullThrough(body.getReader(), tap)) };
  }
  const length = declaredLength(response.headers);
  if (length === undefined) return { response: withBody(response, pullThrough(byob, tap)) };
  const first = byob.read(new Uint8Array(length));
  const r = await ready(first);
  if (r !== undefined && !r.done && r.value !== undefined && r.value.byteLength === length) {
    // The whole body came in one piece. Its end-of-body is read after the answer is
    // on its way: the upstream connection goes back to the pool then.
    void byob.read(new Uint8Array(1)).then(
      (end) => end.done ? undefined : byob.cancel(),
      () => {},
    );
    return { response: withBody(response, r.value), whole: r.value };
  }
  return { response: withBody(response, pullThrough(byob, tap, first)) };
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
 * Streams `reader`'s chunks on, tapping each once it is enqueued. `first` is a read
 * already under way (into a buffer of its own). A failing read fails the stream (the
 * runtime then cuts the client's connection); cancelling it cancels the upstream body.
 */
function pullThrough(
  reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>,
  tap: BodyTap,
  first?: Promise<ReadableStreamReadResult<Uint8Array>>,
): ReadableStream<Uint8Array> {
  let pending = first;
  const byob = isByob(reader);
  let buffer: ArrayBuffer | undefined = byob ? new ArrayBuffer(READ_BUFFER) : undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array;
      if (pending !== undefined) {
        const r = await pending;
        pending = undefined;
        if (r.done || r.value === undefined) return controller.close();
        chunk = r.value; // its own buffer: no copy
      } else if (byob) {
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

/**
 * Microtask turns a read of bytes the runtime already holds takes to settle: Deno polls
 * an async op once as it starts, so such a read settles without waiting for the event
 * loop (2 turns on Deno 2.9.6, through the stream machinery).
 */
const READY_TURNS = 16;

/**
 * `p`'s value when it settles within {@linkcode READY_TURNS} microtask turns, i.e. when
 * what it reads is already here; else (or when it rejects) undefined, at once: no
 * timer, no event-loop turn.
 */
async function ready<T>(p: Promise<T>): Promise<T | undefined> {
  let settled = false;
  let value: T | undefined;
  p.then((v) => {
    settled = true;
    value = v;
  }, () => {
    settled = true;
  });
  for (let i = 0; i < READY_TURNS && !settled; i++) await null;
  return value;
}
