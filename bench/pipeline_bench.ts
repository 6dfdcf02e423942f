/**
 * The proxy core's own CPU cost per request, without sockets: `deno bench bench/pipeline_bench.ts`.
 *
 * `Gateway.handle` runs the whole pipeline (route, body read, select, headers, transport,
 * response wrapping, metrics, access log) against an in-memory transport, and the body is
 * read to its end, so what is timed is JavaScript work on the request's critical path.
 * Much steadier than req/s on a shared machine, so it is the figure to watch when
 * changing src/core/proxy. "minimal passthrough" does what bench/ceiling_deno.ts does
 * in JavaScript (new Request, hand the answer back), as the floor.
 *
 * Not part of `deno task test` (it is not a *_test.ts file).
 *
 * @module
 */
import { loadConfig } from "../src/core/config/mod.ts";
import { JsonLogger, silentLogger } from "../src/core/log/logger.ts";
import { Gateway } from "../src/core/proxy/gateway.ts";
import type { Transport, UpstreamRequest } from "../src/core/proxy/transport.ts";

const CONFIG = `
http_server:
  forwards:
    - name: bench
      port: 3000
      address: 127.0.0.1
      default_group: bench
  admin:
    port: 9000
    address: 127.0.0.1
upstreams:
  - name: upstream
    url: http://127.0.0.1:8001
upstream_groups:
  - name: bench
    upstreams:
      - name: upstream
`;

const encoder = new TextEncoder();
const REQUEST = encoder.encode(JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Say hello." }],
}));
const COMPLETION = encoder.encode(JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1700000000,
  model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
}));
const EVENT = encoder.encode(
  `data: ${JSON.stringify({ choices: [{ delta: { content: " tok" } }] })}\n\n`,
);

/** Answers like the bench upstream: fixed JSON, or 20 SSE events when streaming. */
class MemoryTransport implements Transport {
  send(req: UpstreamRequest): Promise<Response> {
    if (req.headers.some(([n, v]) => n === "x-stream" && v === "1")) {
      let n = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (n++ < 20) c.enqueue(EVENT);
          else c.close();
        },
      });
      return Promise.resolve(
        new Response(body, { headers: { "content-type": "text/event-stream" } }),
      );
    }
    return Promise.resolve(
      new Response(COMPLETION, {
        headers: {
          "content-type": "application/json",
          "content-length": String(COMPLETION.byteLength),
        },
      }),
    );
  }
  close(): void {}
}

const loaded = loadConfig(CONFIG);
if (!loaded.ok) throw new Error("bench config is invalid");
const transports = () => new MemoryTransport();
let sink = 0;
const logged = new Gateway({
  config: loaded.config,
  transports,
  logger: new JsonLogger({ write: (line) => sink += line.length }),
});
const silent = new Gateway({ config: loaded.config, transports, logger: silentLogger });
const NEVER = new AbortController().signal;
const conn = { remoteAddr: "127.0.0.1", signal: NEVER };

function clientRequest(stream: boolean): Request {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(REQUEST.byteLength),
    "user-agent": "openai-node/4",
    "authorization": "Bearer sk-client",
    "accept": "application/json",
  };
  if (stream) headers["x-stream"] = "1";
  return new Request("http://127.0.0.1:3000/v1/chat/completions", {
    method: "POST",
    headers,
    body: REQUEST,
  });
}

Deno.bench("minimal passthrough (JS floor)", { group: "json", baseline: true }, async () => {
  const req = clientRequest(false);
  const t = new MemoryTransport();
  const res = await t.send({
    url: "http://127.0.0.1:8001" + new URL(req.url).pathname,
    method: req.method,
    headers: [...req.headers],
    body: new Uint8Array(await req.arrayBuffer()),
    signal: NEVER,
  });
  await new Response(res.body, res).arrayBuffer();
});

Deno.bench("llmproxy pipeline, access log on", { group: "json" }, async () => {
  const res = await logged.handle("bench", clientRequest(false), conn);
  await res.arrayBuffer();
});

Deno.bench("llmproxy pipeline, no access log", { group: "json" }, async () => {
  const res = await silent.handle("bench", clientRequest(false), conn);
  await res.arrayBuffer();
});

Deno.bench("minimal passthrough, 20-event stream", { group: "sse", baseline: true }, async () => {
  const req = clientRequest(true);
  const t = new MemoryTransport();
  const res = await t.send({
    url: "http://127.0.0.1:8001" + new URL(req.url).pathname,
    method: req.method,
    headers: [...req.headers],
    body: new Uint8Array(await req.arrayBuffer()),
    signal: NEVER,
  });
  await new Response(res.body, res).arrayBuffer();
});

Deno.bench("llmproxy pipeline, 20-event stream", { group: "sse" }, async () => {
  const res = await logged.handle("bench", clientRequest(true), conn);
  await res.arrayBuffer();
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
