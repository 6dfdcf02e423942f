/**
 * A built-in mock LLM upstream (`llmproxyd mock`), runtime-agnostic: one fetch handler.
 * Operators rehearse failover with it; tests and the demo use it.
 *
 * It speaks three API shapes, each as JSON and as SSE, with token usage
 * (docs/behaviour.md#token-usage): OpenAI Chat Completions (`POST …/chat/completions`), OpenAI
 * Responses (`POST …/responses`) and Anthropic Messages (`POST …/messages`); plus
 * `GET …/models`.
 *
 * Per-request overrides (headers), so one mock serves many test cases:
 * - `x-mock-latency` (ms before headers), `x-mock-status` (answer this status),
 *   `x-mock-retry-after` (seconds, with x-mock-status), `x-mock-chunks`,
 *   `x-mock-chunk-delay` (ms between SSE content events);
 * - `x-mock-model`: the answer's `model` (default: the request's `model`);
 * - `x-mock-input-tokens`, `x-mock-output-tokens`, `x-mock-cached-tokens`,
 *   `x-mock-reasoning-tokens`: the usage reported (defaults: input = ceil(request body
 *   bytes / 4), output = number of content chunks, cached = reasoning = 0);
 * - `x-mock-no-usage: 1`: answer without any usage;
 * - `x-mock-stream-usage: always | requested`: when a streamed chat completion ends
 *   with a usage chunk (see {@linkcode MockOptions.streamUsage}).
 *
 * Introspection (not counted as requests): `/__mock/stats` (counters),
 * `/__mock/requests` (the last {@linkcode MOCK_REQUEST_LOG} requests received, oldest
 * first), `/__mock/last` (the newest one; 404 before any), `/__mock/gzip` (a compressed
 * answer). `/__mock/echo` answers with what arrived.
 */

/** Behaviour of a mock upstream. */
export interface MockOptions {
  /** Reported in every answer (`x-mock-name`, model output, `/__mock/stats`). */
  readonly name: string;
  /** Milliseconds before response headers. */
  readonly latencyMs: number;
  /** SSE content chunks per streamed completion. */
  readonly chunks: number;
  /** Milliseconds between SSE chunks. */
  readonly chunkDelayMs: number;
  /** Probability 0–1 of answering `errorStatus` instead. */
  readonly errorRate: number;
  /** Status of injected errors. */
  readonly errorStatus: number;
  readonly random?: () => number;
  /** The answers' `model`; default: the request's `model` (else `mock-model`). */
  readonly model?: string;
  /** Input tokens reported; default ceil(request body bytes / 4). */
  readonly inputTokens?: number;
  /** Output tokens reported; default the number of content chunks. */
  readonly outputTokens?: number;
  /** Cached input tokens reported (a part of the input tokens); default 0. */
  readonly cachedTokens?: number;
  /** Reasoning tokens reported (a part of the output tokens); default 0. */
  readonly reasoningTokens?: number;
  /** `false`: answers carry no usage at all (as some backends do). Default `true`. */
  readonly usage?: boolean;
  /**
   * When a streamed chat completion ends with a usage chunk (empty `choices`):
   * `"always"` (the default, and what this mock always did) or `"requested"` (only when
   * the request has `stream_options.include_usage: true`, as OpenAI does; then the other
   * chunks carry `"usage": null`, as OpenAI's do).
   */
  readonly streamUsage?: "always" | "requested";
}

/** Defaults of `llmproxyd mock`. */
export const MOCK_DEFAULTS: MockOptions = {
  name: "mock",
  latencyMs: 0,
  chunks: 5,
  chunkDelayMs: 20,
  errorRate: 0,
  errorStatus: 500,
};

/** How many received requests the mock remembers for `/__mock/requests`. */
export const MOCK_REQUEST_LOG = 32;

/** Bodies longer than this are kept cut to it in the request log. */
const MAX_LOGGED_BODY = 1024 * 1024;

/** Counters a test or an operator can read from `/__mock/stats`. */
export interface MockStats {
  name: string;
  requests: number;
  /** Generations answered, of any API shape. */
  completions: number;
  /** Generations by API shape. */
  chat_completions: number;
  responses: number;
  messages: number;
  streams_started: number;
  streams_completed: number;
  streams_aborted: number;
  active_streams: number;
  last_abort_at: number | null;
  errors_injected: number;
  /** Answers (or finished streams) that reported usage, and the tokens they reported. */
  usage_reported: number;
  input_tokens: number;
  output_tokens: number;
  /** Answers (or finished streams) that carried no usage. */
  usage_omitted: number;
}

/** One request as the mock received it (`/__mock/requests`, `/__mock/last`). */
export interface MockRequestRecord {
  /** 1 for the first request this mock received. */
  readonly seq: number;
  /** When it arrived (ms since the epoch). */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Header names lower-cased, in arrival order (`content-length` included). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body's size in bytes. */
  readonly body_bytes: number;
  /** The body as text (cut at 1 MiB, see `body_truncated`). */
  readonly body: string;
  readonly body_truncated: boolean;
  /** The body parsed as JSON, or `null` when it is not JSON. */
  readonly json: unknown;
  /** The body's top-level string `model`, or `null`. */
  readonly model: string | null;
}

type Api = "chat" | "responses" | "messages";

/** The usage an answer reports. */
interface Usage {
  readonly input: number;
  readonly output: number;
  readonly cached: number;
  readonly reasoning: number;
}

/** What one generation answers, settled from the request, its headers and the options. */
interface Turn {
  readonly api: Api;
  readonly model: string;
  readonly chunks: number;
  readonly paceMs: number;
  /** `null`: the answer carries no usage. */
  readonly usage: Usage | null;
  /** Chat SSE only: `stream_options.include_usage` was `true`. */
  readonly includeUsage: boolean;
  /** Chat SSE only: the stream ends with a usage chunk. */
  readonly streamUsage: boolean;
}

/** A received request as kept in the log: the body is decoded only when asked. */
interface LoggedRequest {
  readonly seq: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bytes: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array();

/** A mock upstream: `fetch` handles one request; `stats` are live counters. */
export class MockLlm {
  readonly options: MockOptions;
  readonly stats: MockStats;
  readonly #random: () => number;
  readonly #log: LoggedRequest[] = [];
  #seq = 0;
  #received = 0;

  constructor(options: Partial<MockOptions> = {}) {
    this.options = { ...MOCK_DEFAULTS, ...options };
    this.#random = options.random ?? Math.random;
    this.stats = {
      name: this.options.name,
      requests: 0,
      completions: 0,
      chat_completions: 0,
      responses: 0,
      messages: 0,
      streams_started: 0,
      streams_completed: 0,
      streams_aborted: 0,
      active_streams: 0,
      last_abort_at: null,
      errors_injected: 0,
      usage_reported: 0,
      input_tokens: 0,
      output_tokens: 0,
      usage_omitted: 0,
    };
  }

  /** The last {@linkcode MOCK_REQUEST_LOG} requests received, oldest first. */
  get requests(): MockRequestRecord[] {
    return this.#log.map(record);
  }

  /** The newest request received, or `null` before any. */
  get lastRequest(): MockRequestRecord | null {
    const last = this.#log[this.#log.length - 1];
    return last === undefined ? null : record(last);
  }

  /** Handles one request. */
  fetch = async (req: Request): Promise<Response> => {
    const res = await this.#handle(req);
    if (!res.headers.has("x-mock-name")) res.headers.set("x-mock-name", this.options.name);
    return res;
  };

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/__mock/stats") return json(this.stats);
    if (url.pathname === "/__mock/requests") return json({ requests: this.requests });
    if (url.pathname === "/__mock/last") {
      return json(
        this.lastRequest ?? errorBody("no request received yet"),
        this.#log.length ? 200 : 404,
      );
    }
    if (url.pathname === "/__mock/gzip") {
      // A compressed answer, to check that bytes and Content-Encoding stay consistent.
      const raw = new Blob([JSON.stringify({ name: this.options.name, gzip: true })]).stream();
      return new Response(raw.pipeThrough(new CompressionStream("gzip")), {
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
    }
    this.stats.requests++;
    let bytes = EMPTY;
    if (req.body) {
      try {
        bytes = new Uint8Array(await req.arrayBuffer());
      } catch {
        // The client went away while sending: nobody is left to answer.
        return new Response(null, { status: 499 });
      }
    }
    this.#remember(req, url, bytes);
    const h = req.headers;
    const latency = num(h.get("x-mock-latency"), this.options.latencyMs);
    if (url.pathname === "/__mock/echo" || url.pathname.endsWith("/__mock/echo")) {
      await delay(latency, req.signal);
      return json({
        name: this.options.name,
        method: req.method,
        url: req.url,
        path: url.pathname,
        query: url.search,
        headers: [...h],
        authorization: h.get("authorization"),
        body: decoder.decode(bytes),
      });
    }
    if (latency > 0 && !(await delay(latency, req.signal))) {
      return new Response(null, { status: 499 });
    }

    const forced = num(h.get("x-mock-status"), 0);
    if (forced > 0) {
      const headers: Record<string, string> = {};
      const ra = h.get("x-mock-retry-after");
      if (ra) headers["retry-after"] = ra;
      return json(errorBody(`forced status ${forced} from ${this.options.name}`), forced, headers);
    }
    if (this.options.errorRate > 0 && this.#random() < this.options.errorRate) {
      this.stats.errors_injected++;
      return json(
        errorBody(`injected error from ${this.options.name}`),
        this.options.errorStatus,
      );
    }

    if (url.pathname.endsWith("/models") && req.method === "GET") {
      return json({
        object: "list",
        data: [{
          id: "mock-model",
          object: "model",
          created: 1700000000,
          owned_by: this.options.name,
        }],
      });
    }
    const api = req.method === "POST" ? apiOf(url.pathname) : undefined;
    if (api === undefined) {
      return json(errorBody(`no mock route for ${req.method} ${url.pathname}`), 404);
    }
    let payload: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(decoder.decode(bytes));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return json(errorBody("request body must be a JSON object, got " + kindOf(parsed)), 400);
      }
      payload = parsed as Record<string, unknown>;
    } catch {
      return json(errorBody("request body must be JSON"), 400);
    }
    const turn = this.#turn(api, payload, h, bytes.length);
    this.stats.completions++;
    this.stats[api === "chat" ? "chat_completions" : api]++;
    const streaming = api === "chat" ? Boolean(payload.stream) : payload.stream === true;
    if (!streaming) {
      this.#account(turn.usage);
      const id = this.#id(api);
      return json(
        api === "chat"
          ? chatJson(id, turn, this.options.name)
          : api === "responses"
          ? responsesJson(id, turn, this.options.name)
          : messagesJson(id, turn, this.options.name),
      );
    }
    return this.#stream(turn);
  }

  #remember(req: Request, url: URL, bytes: Uint8Array): void {
    this.#log.push({
      seq: ++this.#received,
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      query: url.search,
      headers: [...req.headers],
      bytes,
    });
    if (this.#log.length > MOCK_REQUEST_LOG) this.#log.shift();
  }

  /** Settles what a generation answers: headers win over options, options over defaults. */
  #turn(api: Api, payload: Record<string, unknown>, h: Headers, bodyBytes: number): Turn {
    const o = this.options;
    // Content chunks actually sent (a fractional count rounds up, as it always did).
    const chunks = Math.max(0, Math.ceil(num(h.get("x-mock-chunks"), o.chunks)));
    const noUsage = flag(h.get("x-mock-no-usage")) ?? (o.usage === false);
    const usage: Usage | null = noUsage ? null : {
      input: count(h.get("x-mock-input-tokens"), o.inputTokens ?? Math.ceil(bodyBytes / 4)),
      output: count(h.get("x-mock-output-tokens"), o.outputTokens ?? chunks),
      cached: count(h.get("x-mock-cached-tokens"), o.cachedTokens ?? 0),
      reasoning: count(h.get("x-mock-reasoning-tokens"), o.reasoningTokens ?? 0),
    };
    const options = payload.stream_options;
    const includeUsage = api === "chat" && options !== null && typeof options === "object" &&
      (options as Record<string, unknown>).include_usage === true;
    const modeHeader = h.get("x-mock-stream-usage");
    const mode = modeHeader === "always" || modeHeader === "requested"
      ? modeHeader
      : o.streamUsage ?? "always";
    return {
      api,
      model: h.get("x-mock-model") ?? o.model ??
        (typeof payload.model === "string" ? payload.model : "mock-model"),
      chunks,
      paceMs: num(h.get("x-mock-chunk-delay"), o.chunkDelayMs),
      usage,
      includeUsage: includeUsage && usage !== null,
      streamUsage: usage !== null && (mode === "always" || includeUsage),
    };
  }

  #id(api: Api): string {
    const n = ++this.#seq;
    const name = this.options.name;
    return api === "chat"
      ? `chatcmpl-${name}-${n}`
      : api === "responses"
      ? `resp_${name}_${n}`
      : `msg_${name}_${n}`;
  }

  #account(usage: Usage | null): void {
    if (usage === null) {
      this.stats.usage_omitted++;
      return;
    }
    this.stats.usage_reported++;
    this.stats.input_tokens += usage.input;
    this.stats.output_tokens += usage.output;
  }

  #stream(turn: Turn): Response {
    const id = this.#id(turn.api);
    const name = this.options.name;
    const plan = turn.api === "chat"
      ? chatEvents(id, turn, name)
      : turn.api === "responses"
      ? responsesEvents(id, turn, name)
      : messagesEvents(id, turn, name);
    const reported = turn.api === "chat" && !turn.streamUsage ? null : turn.usage;
    const stats = this.stats;
    stats.streams_started++;
    stats.active_streams++;
    let i = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const end = (aborted: boolean) => {
      if (finished) return;
      finished = true;
      stats.active_streams--;
      if (aborted) {
        stats.streams_aborted++;
        stats.last_abort_at = Date.now();
      } else {
        stats.streams_completed++;
        this.#account(reported);
      }
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const e of plan.head()) controller.enqueue(e);
      },
      pull(controller) {
        return new Promise<void>((resolve) => {
          const step = () => {
            if (finished) return resolve();
            if (i < turn.chunks) {
              controller.enqueue(plan.part(i++));
            } else {
              for (const e of plan.tail()) controller.enqueue(e);
              controller.close();
              end(false);
            }
            resolve();
          };
          if (i === 0 || turn.paceMs <= 0) step();
          else timer = setTimeout(step, turn.paceMs);
        });
      },
      cancel() {
        if (timer !== undefined) clearTimeout(timer);
        end(true);
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-mock-name": name,
      },
    });
  }
}

// ---------------------------------------------------------------------------------------
// The three API shapes. Each has a JSON answer and an SSE plan: events sent at once
// (`head`), one event per content chunk (`part`, paced), and the closing events (`tail`).
// Events are built lazily: `--chunks` may be large.

interface SsePlan {
  head(): Uint8Array[];
  part(i: number): Uint8Array;
  tail(): Uint8Array[];
}

function apiOf(path: string): Api | undefined {
  if (path.endsWith("/chat/completions")) return "chat";
  if (path.endsWith("/responses")) return "responses";
  if (path.endsWith("/messages")) return "messages";
  return undefined;
}

function word(name: string, i: number): string {
  return i === 0 ? `Hello from ${name}.` : ` token${i}`;
}

function text(name: string, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += word(name, i);
  return out;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** An SSE event: `data:` only (Chat Completions), or with an `event:` line. */
function sse(data: unknown, event?: string): Uint8Array {
  const head = event === undefined ? "" : `event: ${event}\n`;
  return encoder.encode(`${head}data: ${JSON.stringify(data)}\n\n`);
}

// OpenAI Chat Completions -----------------------------------------------------------------

function chatUsage(u: Usage) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
  };
}

function chatJson(id: string, turn: Turn, name: string) {
  return {
    id,
    object: "chat.completion",
    created: now(),
    model: turn.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: text(name, turn.chunks) },
      finish_reason: "stop",
    }],
    ...(turn.usage === null ? {} : { usage: chatUsage(turn.usage) }),
  };
}

function chatEvents(id: string, turn: Turn, name: string): SsePlan {
  const created = now();
  // With include_usage, OpenAI puts `"usage": null` on every chunk but the last.
  const extra = turn.includeUsage && turn.streamUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    sse({
      id,
      object: "chat.completion.chunk",
      created,
      model: turn.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...extra,
    });
  return {
    head: () => [chunk({ role: "assistant", content: "" }, null)],
    part: (i) => chunk({ content: word(name, i) }, null),
    tail: () => {
      const out = [chunk({}, "stop")];
      if (turn.streamUsage && turn.usage !== null) {
        out.push(sse({
          id,
          object: "chat.completion.chunk",
          created,
          model: turn.model,
          choices: [],
          usage: chatUsage(turn.usage),
        }));
      }
      out.push(encoder.encode("data: [DONE]\n\n"));
      return out;
    },
  };
}

// OpenAI Responses ------------------------------------------------------------------------

function responsesUsage(u: Usage) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  };
}

function responseObject(
  id: string,
  created: number,
  turn: Turn,
  status: "in_progress" | "completed",
  output: unknown[],
) {
  const base = {
    id,
    object: "response",
    created_at: created,
    status,
    model: turn.model,
    output,
  };
  if (status === "in_progress") return { ...base, usage: null };
  return turn.usage === null ? base : { ...base, usage: responsesUsage(turn.usage) };
}

function outputMessage(id: string, content: string, status: "in_progress" | "completed") {
  return {
    id: `msg_${id}`,
    type: "message",
    status,
    role: "assistant",
    content: status === "in_progress"
      ? []
      : [{ type: "output_text", text: content, annotations: [] }],
  };
}

function responsesJson(id: string, turn: Turn, name: string) {
  const content = text(name, turn.chunks);
  return responseObject(id, now(), turn, "completed", [outputMessage(id, content, "completed")]);
}

function responsesEvents(id: string, turn: Turn, name: string): SsePlan {
  const created = now();
  const itemId = `msg_${id}`;
  const at = { output_index: 0, content_index: 0, item_id: itemId };
  let seq = 0;
  const event = (type: string, data: Record<string, unknown>) =>
    sse({ type, sequence_number: seq++, ...data }, type);
  return {
    head: () => [
      event("response.created", {
        response: responseObject(id, created, turn, "in_progress", []),
      }),
      event("response.in_progress", {
        response: responseObject(id, created, turn, "in_progress", []),
      }),
      event("response.output_item.added", {
        output_index: 0,
        item: outputMessage(id, "", "in_progress"),
      }),
      event("response.content_part.added", {
        ...at,
        part: { type: "output_text", text: "", annotations: [] },
      }),
    ],
    part: (i) => event("response.output_text.delta", { ...at, delta: word(name, i) }),
    tail: () => {
      const content = text(name, turn.chunks);
      const item = outputMessage(id, content, "completed");
      return [
        event("response.output_text.done", { ...at, text: content }),
        event("response.content_part.done", {
          ...at,
          part: { type: "output_text", text: content, annotations: [] },
        }),
        event("response.output_item.done", { output_index: 0, item }),
        event("response.completed", {
          response: responseObject(id, created, turn, "completed", [item]),
        }),
      ];
    },
  };
}

// Anthropic Messages ----------------------------------------------------------------------

function messagesUsage(u: Usage, output: number) {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cached,
    output_tokens: output,
  };
}

function messagesJson(id: string, turn: Turn, name: string) {
  return {
    id,
    type: "message",
    role: "assistant",
    model: turn.model,
    content: [{ type: "text", text: text(name, turn.chunks) }],
    stop_reason: "end_turn",
    stop_sequence: null,
    ...(turn.usage === null ? {} : { usage: messagesUsage(turn.usage, turn.usage.output) }),
  };
}

function messagesEvents(id: string, turn: Turn, name: string): SsePlan {
  const event = (type: string, data: Record<string, unknown>) => sse({ type, ...data }, type);
  const usage = turn.usage;
  return {
    head: () => [
      event("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          content: [],
          model: turn.model,
          stop_reason: null,
          stop_sequence: null,
          // Anthropic reports a first, small output count here; message_delta has the
          // final (cumulative) one.
          ...(usage === null ? {} : { usage: messagesUsage(usage, Math.min(1, usage.output)) }),
        },
      }),
      event("content_block_start", {
        index: 0,
        content_block: { type: "text", text: "" },
      }),
      event("ping", {}),
    ],
    part: (i) =>
      event("content_block_delta", {
        index: 0,
        delta: { type: "text_delta", text: word(name, i) },
      }),
    tail: () => [
      event("content_block_stop", { index: 0 }),
      event("message_delta", {
        delta: { stop_reason: "end_turn", stop_sequence: null },
        ...(usage === null ? {} : { usage: { output_tokens: usage.output } }),
      }),
      event("message_stop", {}),
    ],
  };
}

// Helpers -------------------------------------------------------------------------------

function record(r: LoggedRequest): MockRequestRecord {
  const truncated = r.bytes.length > MAX_LOGGED_BODY;
  const body = decoder.decode(truncated ? r.bytes.subarray(0, MAX_LOGGED_BODY) : r.bytes);
  let parsed: unknown = null;
  if (!truncated && body.length > 0) {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = null;
    }
  }
  const model = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) &&
      typeof (parsed as Record<string, unknown>).model === "string"
    ? (parsed as Record<string, string>).model!
    : null;
  return {
    seq: r.seq,
    at: r.at,
    method: r.method,
    path: r.path,
    query: r.query,
    headers: r.headers,
    body_bytes: r.bytes.length,
    body,
    body_truncated: truncated,
    json: parsed,
    model,
  };
}

function kindOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function errorBody(message: string) {
  return { error: { message, type: "mock_error", code: "mock_error" } };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function num(v: string | null, fallback: number): number {
  if (v === null) return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}

/** A token count from a header: a non-negative integer, else `fallback`. */
function count(v: string | null, fallback: number): number {
  const n = num(v, fallback);
  return n >= 0 ? Math.floor(n) : fallback;
}

/** A yes/no header: `undefined` when absent. */
function flag(v: string | null): boolean | undefined {
  if (v === null) return undefined;
  const s = v.trim().toLowerCase();
  return s !== "" && s !== "0" && s !== "false" && s !== "no";
}

function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  // Already aborted (e.g. while the body was read): no abort event will come.
  if (ms <= 0 || signal.aborted) return Promise.resolve(!signal.aborted);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
