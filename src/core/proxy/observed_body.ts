/** How a response body ended. */
export type BodyEnd = "complete" | "cancelled" | "error";

/**
 * Passes a body through untouched (same chunks, no buffering: highWaterMark 0 keeps
 * the client's back-pressure on the upstream) and reports once how it ended and how
 * many bytes went out. Cancelling it (the client left) cancels the upstream body.
 */
export function observeBody(
  body: ReadableStream<Uint8Array>,
  onEnd: (end: BodyEnd, bytes: number) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  let ended = false;
  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how, bytes);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        end("error");
        controller.error(e);
        return;
      }
      if (r.done) {
        end("complete");
        controller.close();
        return;
      }
      bytes += r.value.byteLength;
      controller.enqueue(r.value);
    },
    cancel(reason) {
      end("cancelled");
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
