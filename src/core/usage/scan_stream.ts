/**
 * A pass-through body that feeds a usage scanner, for paths without the pipeline's own
 * body observer. Where `observeBody` (proxy/observed_body.ts) already wraps the body,
 * call `scanner.scan(chunk)` from it instead: one wrapper, not two.
 *
 * @module
 */

import type { UsageScanner } from "./usage_scanner.ts";
import type { UsageReport } from "./usage_shapes.ts";

/** How a scanned body ended. */
export type ScanEnd = "complete" | "cancelled" | "error";

/**
 * Passes `body` through chunk for chunk (no copy, no buffering: highWaterMark 0 keeps
 * the client's back-pressure on the upstream), calls `scanner.scan` on each chunk right
 * after handing it on, and reports once, with the scanner's report, how the body ended.
 * Cancelling it cancels `body`.
 */
export function scanStream(
  body: ReadableStream<Uint8Array>,
  scanner: UsageScanner,
  onEnd: (report: UsageReport, end: ScanEnd) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const end = (how: ScanEnd) => {
    if (ended) return;
    ended = true;
    onEnd(scanner.end(), how);
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
      controller.enqueue(r.value);
      scanner.scan(r.value);
    },
    cancel(reason) {
      end("cancelled");
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
