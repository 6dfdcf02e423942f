/**
 * The CPU cost of client keys and limits per request, without sockets:
 * `deno bench bench/clients_bench.ts`.
 *
 * The same pipeline as bench/pipeline_bench.ts (`Gateway.handle` with an in-memory
 * transport, access log on, body read to its end), once on a forward without clients
 * and once with `client_auth: required` and a client with all three limits (sized never
 * to refuse), each request sending its Bearer key. The difference is what the gate
 * costs: the key's SHA-256 (Web Crypto), the admission and the settle in the memory
 * limiter, the client metrics. Steadier than req/s on a shared machine; the socket-level
 * pair is `deno run -A bench/run.ts --only=llmproxy-deno,llmproxy-deno-clients`.
 *
 * Not part of `deno task test` (it is not a *_test.ts file).
 *
 * @module
 */
import { loadConfig } from "../src/core/config/mod.ts";
import { JsonLogger } from "../src/core/log/logger.ts";
import { Gateway } from "../src/core/proxy/gateway.ts";
import type { Transport } from "../src/core/proxy/transport.ts";

const KEY = "sk-bench-0123456789abcdef0123456789abcdef";

function config(clients: boolean): string {
  return `
http_server:
  forwards:
    - name: bench
      port: 3000
      address: 127.0.0.1
      default_group: bench${clients ? "\n      client_auth: required" : ""}
upstreams:
  - { name: upstream, url: "http://127.0.0.1:8001" }
upstream_groups:
  - { name: bench, upstreams: [{ name: upstream }] }
${
    clients
      ? `clients:
  - name: bench
    key: ${KEY}
    limits: { requests_per_minute: 1000000, tokens_per_minute: 1000000000, tokens_per_day: 1000000000000 }
`
      : ""
  }`;
}

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

/** Answers like the bench upstream: a fixed JSON completion with usage. */
class MemoryTransport implements Transport {
  send(): Promise<Response> {
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

let sink = 0;
function gateway(clients: boolean): Gateway {
  const loaded = loadConfig(config(clients));
  if (!loaded.ok) throw new Error(`bench config is invalid: ${JSON.stringify(loaded.errors)}`);
  return new Gateway({
    config: loaded.config,
    transports: () => new MemoryTransport(),
    logger: new JsonLogger({ write: (line) => sink += line.length }),
  });
}

const plain = gateway(false);
const gated = gateway(true);
const conn = { remoteAddr: "127.0.0.1", signal: new AbortController().signal };

function request(): Request {
  return new Request("http://127.0.0.1:3000/v1/chat/completions", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(REQUEST.byteLength),
      "user-agent": "openai-node/4",
      "authorization": `Bearer ${KEY}`,
      "accept": "application/json",
    },
    body: REQUEST,
  });
}

Deno.bench("no clients (client_auth: off)", { group: "clients", baseline: true }, async () => {
  const res = await plain.handle("bench", request(), conn);
  await res.arrayBuffer();
});

Deno.bench("client_auth: required, all three limits", { group: "clients" }, async () => {
  const res = await gated.handle("bench", request(), conn);
  await res.arrayBuffer();
});

Deno.bench("the key's SHA-256 alone (Web Crypto)", { group: "parts" }, async () => {
  await crypto.subtle.digest("SHA-256", encoder.encode(KEY));
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
