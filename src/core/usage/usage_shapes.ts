/**
 * What an answer says about its token usage, and where each API writes it
 * (docs/behaviour.md#token-usage). These functions read already-parsed JSON values; finding the
 * bytes worth parsing is the scanners' job.
 *
 * @module
 */

/** What a scanner learned from one answer. */
export interface UsageReport {
  /** Prompt tokens: `prompt_tokens` (OpenAI Chat) or `input_tokens` (Responses, Anthropic). */
  input?: number;
  /** Generated tokens: `completion_tokens` or `output_tokens`. */
  output?: number;
  /** Prompt tokens read from the provider's cache (`cached_tokens`, `cache_read_input_tokens`). */
  cachedInput?: number;
  /** Reasoning tokens (`reasoning_tokens`), part of `output` on the OpenAI APIs. */
  reasoning?: number;
  /** The answer's own `model` (top level, `response.model` or `message.model`). */
  model?: string;
  /** `now()` when the first SSE event went through (SSE only). */
  firstEventAt?: number;
  /** `now()` when the last SSE event went through (SSE only). */
  lastEventAt?: number;
  /** SSE events seen (events with data, not counting OpenAI's `[DONE]`); 0 for JSON. */
  events: number;
  /** Whether any token count was read. `false` means "no usage", never "zero tokens". */
  found: boolean;
  /** A line (SSE) or the body (JSON) was over the size bound and was not read. */
  oversize: boolean;
}

/** Token counts gathered so far; a field stays undefined until the answer states it. */
export interface TokenTally {
  /** See {@linkcode UsageReport.input}. */
  input?: number;
  /** See {@linkcode UsageReport.output}. */
  output?: number;
  /** See {@linkcode UsageReport.cachedInput}. */
  cachedInput?: number;
  /** See {@linkcode UsageReport.reasoning}. */
  reasoning?: number;
}

/** Whether the tally holds at least one count. */
export function hasTokens(t: TokenTally): boolean {
  return t.input !== undefined || t.output !== undefined || t.cachedInput !== undefined ||
    t.reasoning !== undefined;
}

/**
 * Copies into `into` every count that a `usage` object states, whichever API's names it
 * uses: OpenAI Chat/Completions (`prompt_tokens`, `completion_tokens`, `*_details`),
 * Responses (`input_tokens`, `output_tokens`, `*_details`) and Anthropic
 * (`input_tokens`, `output_tokens`, `cache_read_input_tokens`). Counts the object does
 * not state keep their earlier value, so a later, cumulative report overrides an earlier
 * one field by field. Returns whether it read anything.
 */
export function readUsage(usage: unknown, into: TokenTally): boolean {
  if (!isRecord(usage)) return false;
  const input = count(usage, "prompt_tokens") ?? count(usage, "input_tokens");
  const output = count(usage, "completion_tokens") ?? count(usage, "output_tokens");
  const cached = count(field(usage, "prompt_tokens_details"), "cached_tokens") ??
    count(field(usage, "input_tokens_details"), "cached_tokens") ??
    count(usage, "cache_read_input_tokens");
  const reasoning = count(field(usage, "completion_tokens_details"), "reasoning_tokens") ??
    count(field(usage, "output_tokens_details"), "reasoning_tokens");
  if (input !== undefined) into.input = input;
  if (output !== undefined) into.output = output;
  if (cached !== undefined) into.cachedInput = cached;
  if (reasoning !== undefined) into.reasoning = reasoning;
  return input !== undefined || output !== undefined || cached !== undefined ||
    reasoning !== undefined;
}

/** Event names (SSE `event:` field) that matter when the data lacks its own `type`. */
export type SseEventName =
  | "message_start"
  | "message_delta"
  | "response.completed"
  | "response.incomplete"
  | undefined;

/**
 * Applies one parsed SSE event to the tally. `eventName` is the event's `event:` field,
 * used only when the data has no string `type` (Anthropic and Responses repeat it there).
 *
 * - Anthropic `message_start`: `message.usage.input_tokens` and
 *   `cache_read_input_tokens`; `message_delta`: `usage.output_tokens` (cumulative: the
 *   last one wins), plus input counts when a newer API version repeats them there.
 * - Responses `response.completed`: `response.usage`. `response.incomplete` (the answer
 *   hit `max_output_tokens`) carries the same, billed, usage and counts too.
 * - Anything else with a non-null top-level `usage` (OpenAI Chat/Completions chunks;
 *   providers that report cumulative usage on every chunk): that `usage`, last one wins.
 *   Other `response.*` events carry an unfinished `response.usage` and are ignored.
 */
export function applySseEvent(
  data: unknown,
  eventName: SseEventName,
  into: TokenTally,
): void {
  if (!isRecord(data)) return;
  const t = field(data, "type");
  const type = typeof t === "string" ? t : eventName;
  if (type === "message_start") {
    const usage = field(field(data, "message"), "usage");
    if (!isRecord(usage)) return;
    const input = count(usage, "input_tokens");
    const cached = count(usage, "cache_read_input_tokens");
    if (input !== undefined) into.input = input;
    if (cached !== undefined) into.cachedInput = cached;
    return;
  }
  if (type === "message_delta") {
    const usage = field(data, "usage");
    if (!isRecord(usage)) return;
    const output = count(usage, "output_tokens");
    const input = count(usage, "input_tokens");
    const cached = count(usage, "cache_read_input_tokens");
    if (output !== undefined) into.output = output;
    if (input !== undefined) into.input = input;
    if (cached !== undefined) into.cachedInput = cached;
    return;
  }
  if (type === "response.completed" || type === "response.incomplete") {
    readUsage(field(field(data, "response"), "usage"), into);
    return;
  }
  readUsage(field(data, "usage"), into);
}

/**
 * The answer's own model from a parsed JSON answer or SSE event: top-level `model`
 * (OpenAI Chat/Completions, Anthropic and Responses JSON), `response.model` (Responses
 * events) or `message.model` (Anthropic `message_start`).
 */
export function modelOf(data: unknown): string | undefined {
  if (!isRecord(data)) return undefined;
  const top = field(data, "model");
  if (typeof top === "string") return top;
  const response = field(field(data, "response"), "model");
  if (typeof response === "string") return response;
  const message = field(field(data, "message"), "model");
  return typeof message === "string" ? message : undefined;
}

/** A plain object (not null, not an array). */
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An own property only: JSON from outside may name anything, `constructor` included. */
function field(o: unknown, key: string): unknown {
  return isRecord(o) && Object.hasOwn(o, key) ? o[key] : undefined;
}

/** A token count: a non-negative safe integer, else nothing (never a guess). */
function count(o: unknown, key: string): number | undefined {
  const v = field(o, key);
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}
