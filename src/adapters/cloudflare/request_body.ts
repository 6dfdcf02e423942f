/**
 * Reads what is left of a request body before the worker answers.
 *
 * workerd loses the connection a request came over when the worker answers before the
 * request body was read to its end (cloudflare/workerd#1741 and #960): the answer's
 * body may never arrive, so the client waits for ever, or the kept-alive connection is
 * reset under the next request (ECONNRESET). `request.body.cancel()` does not help;
 * only reading does. The proxy answers some requests without reading their body on
 * purpose (a rate-limit refusal, a request refused before routing, a body over
 * `max_body_size`, admin calls refused for their token), so on Workers the rest of the
 * body is read and dropped before the answer goes out: at most
 * {@linkcode DRAIN_MAX_BYTES} within {@linkcode DRAIN_MAX_MS}, then it is cancelled.
 *
 * @module
 */

/** Most bytes of an unread body that are read and dropped before answering. */
export const DRAIN_MAX_BYTES = 1024 * 1024;
/** Longest wait for the rest of an unread body before answering. */
export const DRAIN_MAX_MS = 2_000;

/** A request whose body the proxy may leave unread, and the means to finish it. */
export interface GuardedRequest {
  /** The request to hand to the proxy: same method, URL, headers and signal. */
  readonly request: Request;
  /** Reads and drops what the proxy left of the body (bounded); never rejects. */
  finish(): Promise<void>;
}

/**
 * Wraps `request` so that cancelling its body leaves the client's bytes in place for
 * {@linkcode GuardedRequest.finish}, which reads them before the answer is sent.
 *
 * @example
 * ```ts ignore
 * const guarded = guardRequestBody(request);
 * const response = await handle(guarded.request);
 * await guarded.finish();
 * return response;
 * ```
 */
export function guardRequestBody(request: Request): GuardedRequest {
  const source = request.body;
  if (source === null) return { request, finish: () => Promise.resolve() };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= source.getReader();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        // The client went away: nothing is left to read.
        ended = true;
        controller.error(e);
        return;
      }
      try {
        if (chunk.done) {
          ended = true;
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch {
        // Cancelled while the read was under way; finish() reads the rest.
      }
    },
    cancel() {
      // Left for finish(): cancelling the client's body is what breaks the connection.
    },
  }, { highWaterMark: 0 });
  const wrapped = new Request(request, { body, signal: request.signal });
  return {
    request: wrapped,
    async finish() {
      if (ended) return;
      const r = reader ??= source.getReader();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), DRAIN_MAX_MS);
      });
      let size = 0;
      try {
        while (size <= DRAIN_MAX_BYTES) {
          const chunk = await Promise.race([r.read(), late]);
          if (chunk === "late") break;
          if (chunk.done) {
            ended = true;
            return;
          }
          size += chunk.value.byteLength;
        }
        await r.cancel().catch(() => {});
      } catch {
        // The client went away: nothing is left to read.
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
