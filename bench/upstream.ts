/**
 * The benchmark's upstream: a minimal, fast OpenAI-shaped server, run as its own
 * process so its CPU time is not the runner's or the proxy's.
 *
 * `deno run --allow-net bench/upstream.ts PORT`
 *
 * - `POST /v1/chat/completions` answers a small fixed JSON completion, or, when the body
 *   asks for `"stream": true`, an SSE stream of `x-chunks` events `x-chunk-delay` ms
 *   apart (defaults 20 and 20). The first event leaves with the headers. Every event
 *   carries `"t"`, the send time in ms (`performance.timeOrigin + performance.now()`),
 *   so a client can compute each event's transit; the clock offset between processes
 *   cancels out when two transits are compared.
 * - Anything else: 404 with a small JSON body.
 *
 * @module
 */

const encoder = new TextEncoder();
const COMPLETION = encoder.encode(JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1700000000,
  model: "bench-model",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello from the benchmark upstream." },
    finish_reason: "stop",
  }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
}));
const NOT_FOUND = encoder.encode('{"error":{"message":"not found","type":"bench"}}');
const DONE = encoder.encode("data: [DONE]\n\n");

const now = () => performance.timeOrigin + performance.now();

function event(i: number, last: boolean): Uint8Array {
  const obj = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    model: "bench-model",
    choices: [{ index: 0, delta: { content: ` token${i}` }, finish_reason: last ? "stop" : null }],
    i,
    t: now(),
  };
  return encoder.encode(`data: ${JSON.stringify(obj)}\n\n`);
}

function num(v: string | null, fallback: number): number {
  if (v === null) return fallback;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

function stream(chunks: number, delayMs: number): Response {
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(event(i++, chunks <= 1));
    },
    pull(controller) {
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timer = undefined;
          if (i < chunks) {
            controller.enqueue(event(i, i === chunks - 1));
            i++;
          } else {
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
