/** How a response body ended. */
export type BodyEnd = "complete" | "cancelled" | "error";

/**
 * Passes a body through untouched (same chunks, no buffering: highWaterMark 0 keeps
 * the client's back-pressure on the upstream) and reports once how it ended and how
 * many bytes went out. Cancelling it (the client left) cancels the upstream body.
 * `onChunk` sees each chunk (synchronously, once it has been handed on): usage
 * accounting reads the answer there.
 */
export function observeBody(
  body: ReadableStream<Uint8Array>,
  onEnd: (end: BodyEnd, bytes: number) => void,
  onChunk?: (chunk: Uint8Array) => void,
): ReadableStream<Uint8Array> {
  const read = chunkReader(body);
  let bytes = 0;
  let ended = false;
  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    onEnd(how, bytes);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await read.next();
      } catch (e) {
        end("error");
        controller.error(e);
        return;
      }
      if (chunk === undefined) {
        end("complete");
        controller.close();
        return;
      }
      bytes += chunk.byteLength;
      controller.enqueue(chunk);
      // After the enqueue: the chunk is on its way before it is looked at.
      onChunk?.(chunk);
    },
    cancel(reason) {
      end("cancelled");
      return read.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Size of the buffer a byte stream is read into (see {@linkcode chunkReader}). */
const READ_BUFFER = 8 * 1024;

interface ChunkReader {
  /** The next chunk, or undefined at the end. */
  next(): Promise<Uint8Array | undefined>;
  cancel(reason: unknown): Promise<void>;
}

/**
 * Reads a body chunk by chunk. A byte stream (a runtime's fetch body) is read through a
 * BYOB reader into one small reused buffer, and each chunk is copied out at its exact
 * size: a default reader would pin a large read buffer (64 KiB on Deno) for every open
 * stream, which is most of an idle SSE stream's memory.
 */
function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    byob = undefined;
  }
  if (byob) {
    const reader = byob;
    let buffer: ArrayBuffer = new ArrayBuffer(READ_BUFFER);
    return {
      async next() {
        const r = await reader.read(new Uint8Array(buffer));
        if (r.done || r.value === undefined) return undefined;
        buffer = r.value.buffer as ArrayBuffer;
        return r.value.slice();
      },
      cancel: (reason) => reader.cancel(reason).catch(() => {}),
    };
  }
  const reader = body.getReader();
  return {
    async next() {
      const r = await reader.read();
      return r.done ? undefined : r.value;
    },
    cancel: (reason) => reader.cancel(reason).catch(() => {}),
  };
}
