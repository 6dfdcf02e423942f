/**
 * A built-in OpenAI-compatible mock LLM upstream (`llmproxyd mock`), runtime-agnostic:
 * one fetch handler. Operators rehearse failover with it; tests and the demo use it.
 *
 * Per-request overrides, so one mock serves many test cases:
 * `x-mock-latency` (ms before headers), `x-mock-status` (answer this status),
 * `x-mock-chunks`, `x-mock-chunk-delay` (ms), `x-mock-retry-after` (seconds, with
 * x-mock-status). `/__mock/echo` answers with what arrived; `/__mock/stats` counts.
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

/** Counters a test or an operator can read from `/__mock/stats`. */
export interface MockStats {
  name: string;
  requests: number;
  completions: number;
  streams_started: number;
  streams_completed: number;
  streams_aborted: number;
  active_streams: number;
  last_abort_at: number | null;
  errors_injected: number;
}

const encoder = new TextEncoder();

/** A mock upstream: `fetch` handles one request; `stats` are live counters. */
export class MockLlm {
  readonly options: MockOptions;
  readonly stats: MockStats;
  readonly #random: () => number;
  #seq = 0;

  constructor(options: Partial<MockOptions> = {}) {
    this.options = { ...MOCK_DEFAULTS, ...options };
    this.#random = options.random ?? Math.random;
    this.stats = {
      name: this.options.name,
      requests: 0,
      completions: 0,
      streams_started: 0,
      streams_completed: 0,
      streams_aborted: 0,
      active_streams: 0,
      last_abort_at: null,
      errors_injected: 0,
    };
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
    if (url.pathname === "/__mock/gzip") {
      // A compressed answer, to check that bytes and Content-Encoding stay consistent.
      const raw = new Blob([JSON.stringify({ name: this.options.name, gzip: true })]).stream();
      return new Response(raw.pipeThrough(new CompressionStream("gzip")), {
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
    }
    this.stats.requests++;
    const h = req.headers;
    const latency = num(h.get("x-mock-latency"), this.options.latencyMs);
    if (url.pathname === "/__mock/echo" || url.pathname.endsWith("/__mock/echo")) {
      const body = req.body ? await req.text() : "";
      await delay(latency, req.signal);
      return json({
        name: this.options.name,
        method: req.method,
        url: req.url,
        path: url.pathname,
        query: url.search,
        headers: [...h],
        authorization: h.get("authorization"),
        body,
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
    if (url.pathname.endsWith("/chat/completions") && req.method === "POST") {
      let payload: { stream?: boolean; model?: string; messages?: unknown[] };
      try {
        payload = await req.json();
      } catch {
        return json(errorBody("request body must be JSON"), 400);
      }
      const chunks = num(h.get("x-mock-chunks"), this.options.chunks);
      const pace = num(h.get("x-mock-chunk-delay"), this.options.chunkDelayMs);
      this.stats.completions++;
      return payload.stream
        ? this.#stream(payload.model ?? "mock-model", chunks, pace)
        : this.#complete(payload.model ?? "mock-model", chunks);
    }
    return json(errorBody(`no mock route for ${req.method} ${url.pathname}`), 404);
  }

  #complete(model: string, chunks: number): Response {
    const text = words(this.options.name, chunks).join("");
    return json({
      id: `chatcmpl-${this.options.name}-${++this.#seq}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{
        index: 0,
        message: { role: "assistant", content: text },
        finish_reason: "stop",
      }],
      usage: { prompt_tokens: 5, completion_tokens: chunks, total_tokens: 5 + chunks },
    });
  }

  #stream(model: string, chunks: number, paceMs: number): Response {
    const id = `chatcmpl-${this.options.name}-${++this.#seq}`;
    const created = Math.floor(Date.now() / 1000);
    const parts = words(this.options.name, chunks);
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
      } else stats.streams_completed++;
    };
    const event = (obj: unknown) => encoder.encode(`data: ${JSON.stringify(obj)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      event({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk({ role: "assistant", content: "" }, null));
      },
      pull(controller) {
        return new Promise<void>((resolve) => {
          const step = () => {
            if (finished) return resolve();
            if (i < parts.length) {
              controller.enqueue(chunk({ content: parts[i++] }, null));
            } else {
              controller.enqueue(chunk({}, "stop"));
              controller.enqueue(event({
                id,
                object: "chat.completion.chunk",
                created,
                model,
                choices: [],
                usage: {
                  prompt_tokens: 5,
                  completion_tokens: parts.length,
                  total_tokens: 5 + parts.length,
                },
              }));
              controller.enqueue(encoder.encode("data: [DONE]\n\n"));
              controller.close();
              end(false);
            }
            resolve();
          };
          if (i === 0 || paceMs <= 0) step();
          else timer = setTimeout(step, paceMs);
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
        "x-mock-name": this.options.name,
      },
    });
  }
}

function words(name: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(i === 0 ? `Hello from ${name}.` : ` token${i}`);
  return out;
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

function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!signal.aborted);
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
