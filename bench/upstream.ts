/**
 * The benchmark's upstream: a minimal, fast OpenAI-shaped server, run as its own
 * process so its CPU time is not the runner's or the proxy's.
 *
 * `deno run --allow-net bench/upstream.ts PORT`
 *
 * - `POST /v1/chat/completions` answers a small fixed JSON completion with a `usage`
 *   object as OpenAI's carry it, or, when the body asks for `"stream": true`, an SSE
 *   stream of `x-chunks` events `x-chunk-delay` ms apart (defaults 20 and 20). The first
 *   event leaves with the headers. Every event carries `"t"`, the send time in ms
 *   (`performance.timeOrigin + performance.now()`), so a client can compute each event's
 *   transit; the clock offset between processes cancels out when two transits are
 *   compared. Content events also carry `"i"`, their index.
 * - As OpenAI does when the request has `"stream_options": {"include_usage": true}`: every
 *   content event carries `"usage": null`, and one more event, with empty `choices` and
 *   the stream's `usage` (and `"t"`, no `"i"`), comes after the last one, together with
 *   `data: [DONE]`. The benchmark's SSE client asks for it, so a proxy that accounts
 *   for usage has something to find.
 * - Anything else: 404 with a small JSON body.
 *
 * @module
 */

const encoder = new TextEncoder();

/** An OpenAI Chat Completions `usage` object (with the `*_details` it has today). */
function usage(prompt: number, completion: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** Prompt tokens the answers report (the benchmark's prompts are all alike). */
const PROMPT_TOKENS = 5;

const COMPLETION = encoder.encode(JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1700000000,
  model: "bench-model",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello from the benchmark upstream." },
    logprobs: null,
    finish_reason: "stop",
  }],
  usage: usage(PROMPT_TOKENS, 7),
  system_fingerprint: "fp_bench",
}));
const NOT_FOUND = encoder.encode('{"error":{"message":"not found","type":"bench"}}');
const DONE = encoder.encode("data: [DONE]\n\n");

const now = () => performance.timeOrigin + performance.now();

function event(i: number, last: boolean, withUsage: boolean): Uint8Array {
  const obj = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1700000000,
    model: "bench-model",
    system_fingerprint: "fp_bench",
    choices: [{ index: 0, delta: { content: ` token${i}` }, finish_reason: last ? "stop" : null }],
    ...(withUsage ? { usage: null } : {}),
    i,
    t: now(),
  };
  return encoder.encode(`data: ${JSON.stringify(obj)}\n\n`);
}

/** The final usage event of a stream of `chunks` content events (one token each). */
function usageEvent(chunks: number): Uint8Array {
  const obj = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1700000000,
    model: "bench-model",
    system_fingerprint: "fp_bench",
    choices: [],
    usage: usage(PROMPT_TOKENS, chunks),
    t: now(),
  };
  return encoder.encode(`data: ${JSON.stringify(obj)}\n\n`);
}

function num(v: string | null, fallback: number): number {
  if (v === null) return fallback;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

function stream(chunks: number, delayMs: number, withUsage: boolean): Response {
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(event(i++, chunks <= 1, withUsage));
    },
    pull(controller) {
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timer = undefined;
          if (i < chunks) {
            controller.enqueue(event(i, i === chunks - 1, withUsage));
            i++;
          } else {
            // As OpenAI: the usage event comes right before [DONE], both at once.
            if (withUsage) controller.enqueue(usageEvent(chunks));
            controller.enqueue(DONE);
            controller.close();
          }
          resolve();
        }, delayMs);
      });
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

async function handle(req: Request): Promise<Response> {
  const path = req.url.slice(req.url.indexOf("/", 8));
  if (req.method === "POST" && path.startsWith("/v1/chat/completions")) {
    const text = await req.text();
    if (/"stream"\s*:\s*true/.test(text)) {
      const h = req.headers;
      return stream(
        num(h.get("x-chunks") ?? h.get("x-mock-chunks"), 20),
        num(h.get("x-chunk-delay") ?? h.get("x-mock-chunk-delay"), 20),
        /"include_usage"\s*:\s*true/.test(text),
      );
    }
    return new Response(COMPLETION, { headers: { "content-type": "application/json" } });
  }
  if (req.body) await req.body.cancel();
  return new Response(NOT_FOUND, { status: 404, headers: { "content-type": "application/json" } });
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "18001");
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: (a) => console.log(`bench upstream listening on ${a.hostname}:${a.port}`),
  }, handle);
}
