/**
 * Token usage accounting (docs/behaviour.md#token-usage): reads an upstream answer's token usage,
 * model and SSE event times while its bytes pass to the client, without changing, copying for
 * output or holding back any of them.
 *
 * @example
 * ```ts
 * import { createUsageScanner } from "./mod.ts";
 *
 * const res = new Response("data: {\"usage\":{\"prompt_tokens\":3}}\n\n", {
 *   headers: { "content-type": "text/event-stream" },
 * });
 * const scanner = createUsageScanner(res.headers, { now: Date.now });
 * for await (const chunk of res.body!) {
 *   // hand `chunk` on to the client first, then:
 *   scanner?.scan(chunk);
 * }
 * const report = scanner?.end(); // { input: 3, events: 1, found: true, ... }
 * ```
 *
 * @module
 */
export {
  createUsageScanner,
  type UsageMode,
  usageMode,
  type UsageScanner,
  type UsageScannerOptions,
} from "./usage_scanner.ts";
export { MAX_LINE_BYTES, type SseScannerOptions, SseUsageScanner } from "./sse_scanner.ts";
export {
  type JsonScannerOptions,
  type JsonUsage,
  JsonUsageScanner,
  MAX_JSON_BYTES,
  readJsonUsage,
} from "./json_usage.ts";
export { type ScanEnd, scanStream } from "./scan_stream.ts";
export {
  applySseEvent,
  hasTokens,
  modelOf,
  readUsage,
  type SseEventName,
  type TokenTally,
  type UsageReport,
} from "./usage_shapes.ts";
