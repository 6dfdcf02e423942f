/**
 * Picks how an answer is read for usage from its headers, and gives both readers one
 * face for the pipeline.
 *
 * @module
 */

import { JsonUsageScanner } from "./json_usage.ts";
import { SseUsageScanner } from "./sse_scanner.ts";
import type { UsageReport } from "./usage_shapes.ts";

/** How an answer is read: SSE events, one JSON document, or not at all. */
export type UsageMode = "sse" | "json" | "none";

/**
 * What the body observer calls: `scan` once per chunk, synchronously, as the chunk goes
 * to the client; `end` once when the body is over (completely or not).
 */
export interface UsageScanner {
  /** Reads one chunk. Never throws, never changes or keeps the chunk. */
  scan(chunk: Uint8Array): void;
  /** Ends the body and returns the report (the same one on later calls). */
  end(): UsageReport;
}

/** Options of {@linkcode createUsageScanner}. */
export interface UsageScannerOptions {
  /** Clock for the SSE event times (e.g. the gateway clock's `now`). */
  now: () => number;
  /** Bound on one SSE line and on a JSON answer, in bytes; default 1 MiB. */
  maxBytes?: number;
  /** The answer's `Content-Length` header when the caller has read it already. */
  contentLength?: string | null;
}

/**
 * The mode for an answer's `Content-Type` (docs/behaviour.md#token-usage): `text/event-stream` is
 * SSE, a type containing `json` is JSON, anything else is not read. A body with a
 * `Content-Encoding` other than `identity` is not read either: its bytes are compressed.
 */
export function usageMode(
  contentType: string | null | undefined,
  contentEncoding?: string | null,
): UsageMode {
  if (!contentType) return "none";
  if (contentEncoding && contentEncoding.trim().toLowerCase() !== "identity") return "none";
  const type = contentType.toLowerCase();
  if (type.includes("text/event-stream")) return "sse";
  if (type.includes("json")) return "json";
  return "none";
}

/**
 * A scanner for an answer with these headers, or undefined when the answer is not read
 * (then nothing at all is done per chunk).
 *
 * @example
 * ```ts
 * import { createUsageScanner } from "./usage_scanner.ts";
 * const headers = new Headers({ "content-type": "text/event-stream" });
 * const scanner = createUsageScanner(headers, { now: Date.now });
 * // per chunk, right after handing it on: scanner?.scan(chunk);
 * // at the end of the body:                const report = scanner?.end();
 * ```
 */
export function createUsageScanner(
  headers: Headers,
  options: UsageScannerOptions,
): UsageScanner | undefined {
  const mode = usageMode(headers.get("content-type"), headers.get("content-encoding"));
  if (mode === "none") return undefined;
  if (mode === "sse") {
    return new SseUsageScanner({
      now: options.now,
      ...(options.maxBytes !== undefined ? { maxLine: options.maxBytes } : {}),
    });
  }
  // Content-Length sizes the JSON copy once (and rules out an answer over the bound).
  const declared = options.contentLength !== undefined
    ? options.contentLength
    : headers.get("content-length");
  const length = declared !== null && /^\d+$/.test(declared.trim())
    ? Number(declared.trim())
    : undefined;
  return new JsonUsageScanner({
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    ...(length !== undefined ? { contentLength: length } : {}),
  });
}
