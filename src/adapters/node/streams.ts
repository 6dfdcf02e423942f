import type { Readable } from "node:stream";

/**
 * A web `ReadableStream` over a Node `Readable` (a request body, an undici response
 * body). Chunks pass through as they come, without copies; back-pressure is
 * pause/resume, so at most one chunk waits here while the reader is busy.
 *
 * `onCancel` runs when the reader cancels (the consumer does not want the rest):
 * the caller decides whether that destroys the source (an upstream body: aborts the
 * exchange) or only drains it (a client's request body: the response still goes out
 * on that connection).
 *
 * A source that closes before its end errors the stream, so a cut upstream body or a
 * client that left mid-upload never looks like a complete one.
 */
export function readableToWeb(
  src: Readable,
  onCancel: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      src.on("data", (chunk: Uint8Array) => {
        if (settled) return;
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) src.pause();
      });
      src.once("end", () => {
        if (settled) return;
        settled = true;
        controller.close();
      });
      // `on`, not `once`: a second "error" without a listener would crash the process.
      src.on("error", (e) => {
        if (settled) return;
        settled = true;
        controller.error(e);
      });
      src.once("close", () => {
        if (settled) return;
        settled = true;
        controller.error(new Error("the stream closed before its end"));
      });
    },
    pull() {
      src.resume();
    },
    cancel(reason) {
      settled = true;
      onCancel(reason);
    },
  }, { highWaterMark: 1 });
}
