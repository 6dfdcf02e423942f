/**
 * `deno task demo`: the proxy with an embedded configuration in front of four built-in
 * mock upstreams (fast, slow, flaky, claude), all on 127.0.0.1, so it works offline; it
 * sends some opening traffic and says what it showed (src/adapters/deno/demo_traffic.ts).
 *
 * @module
 */
import { serveConfig } from "../../daemon/daemon.ts";
import { loadConfig } from "../../core/config/mod.ts";
import { JsonLogger } from "../../core/log/logger.ts";
import { MockLlm } from "../../mock/mock_llm.ts";
import { describeDemoTraffic, runDemoTraffic } from "./demo_traffic.ts";
import { denoRuntime } from "./runtime.ts";
import { seededRandom } from "../../core/seeded_random.ts";

const port = Number(Deno.env.get("LLMPROXY_DEMO_PORT") ?? 3000);
const adminPort = Number(Deno.env.get("LLMPROXY_DEMO_ADMIN_PORT") ?? 9000);

const mocks = {
  fast: new MockLlm({ name: "fast", chunks: 12, chunkDelayMs: 40 }),
  slow: new MockLlm({ name: "slow", latencyMs: 700, chunks: 12, chunkDelayMs: 150 }),
  flaky: new MockLlm({
    name: "flaky",
    chunks: 12,
    chunkDelayMs: 40,
    errorRate: 0.8,
    errorStatus: 503,
    // Seeded, so the opening traffic shows the same thing every time: five 503s in a
    // row from flaky's first attempts, which open its breaker.
    random: seededRandom(2026),
  }),
  // Answers as an Anthropic-style backend would name its model; speaks /v1/messages too.
  claude: new MockLlm({ name: "claude", model: "claude-demo-1", chunks: 8, chunkDelayMs: 60 }),
};

const mockPorts: Record<string, number> = {};
for (const [name, mock] of Object.entries(mocks)) {
  const l = await denoRuntime.serve({
    hostname: "127.0.0.1",
    port: 0,
    handler: (r) => mock.fetch(r),
  });
  mockPorts[name] = l.port;
}

const yaml = `
http_server:
  forwards:
    - name: demo
      address: 127.0.0.1
      port: ${port}
      default_group: chat
      ratelimit: { per_second: 20, burst: 40 }
      routing:
        - { path: /v1/models, target_group: fast_only }
      model_routing:
        - { model: "claude-*", target_group: claude }
  admin:
    address: 127.0.0.1
    port: ${adminPort}
upstreams:
  - { name: fast, url: "http://127.0.0.1:${mockPorts.fast}", auth: { type: bearer, token: demo-key } }
  - { name: slow, url: "http://127.0.0.1:${mockPorts.slow}" }
  - name: flaky
    url: "http://127.0.0.1:${mockPorts.flaky}"
    breaker: { threshold: 0.5, cooldown: 10 }
  - { name: claude, url: "http://127.0.0.1:${mockPorts.claude}" }
upstream_groups:
  - name: chat
    upstreams: [{ name: fast }, { name: slow }, { name: flaky }]
    balance: { strategy: roundrobin }
    http_client:
      retry: { attempts: 2, initial: 100 }
  - name: fast_only
    upstreams: [{ name: fast }]
  - name: claude
    upstreams: [{ name: claude }]
`;

const loaded = loadConfig(yaml, { file: "<demo>" });
if (!loaded.ok) throw new Error(`demo config invalid: ${JSON.stringify(loaded.errors)}`);

const base = `http://127.0.0.1:${port}`;
console.log(`
llmproxy demo: proxy on ${base}, admin on http://127.0.0.1:${adminPort}
dashboard: open http://127.0.0.1:${adminPort}/ui in a browser (live traffic, breakers, tokens)
upstreams (built-in mocks): fast :${mockPorts.fast}, slow :${mockPorts.slow} (700 ms), flaky :${mockPorts.flaky} (80% 503, breaker), claude :${mockPorts.claude}
group "chat" balances round robin with retries, so flaky errors never reach you;
models "claude-*" go to group "claude" (a model rule), whatever the path.

Try (another terminal):
  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"demo","messages":[{"role":"user","content":"hi"}]}'
  curl -N ${base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"hi"}]}'
  curl -s ${base}/v1/models
  curl -s ${base}/v1/messages -H 'content-type: application/json' \\
    -d '{"model":"claude-3-haiku","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'

With the openai SDK (npm i openai), streaming:
  import OpenAI from "openai";
  const ai = new OpenAI({ baseURL: "${base}/v1", apiKey: "unused" });
  const s = await ai.chat.completions.create({ model: "demo", stream: true, messages: [{ role: "user", content: "hi" }] });
  for await (const c of s) process.stdout.write(c.choices[0]?.delta?.content ?? "");
  console.log();

Health and metrics:
  curl -s http://127.0.0.1:${adminPort}/health
  curl -s http://127.0.0.1:${adminPort}/ready
  curl -s http://127.0.0.1:${adminPort}/metrics | grep llmproxy_upstream_requests_total
  curl -s http://127.0.0.1:${adminPort}/metrics | grep '^llmproxy_tokens_total'   # tokens by model
  curl -s http://127.0.0.1:${adminPort}/metrics | grep -E '^llmproxy_(upstream_retries_total|circuitbreaker_state)'

The demo sends some opening traffic now and prints what it showed (one line, below).

Ctrl-C drains and stops. Ports busy? Set LLMPROXY_DEMO_PORT / LLMPROXY_DEMO_ADMIN_PORT.
`);

const serving = serveConfig(denoRuntime, loaded.config, new JsonLogger(), {
  configPath: "<demo>",
  debug: false,
  shutdownTimeout: 5,
});
runDemoTraffic(base, `http://127.0.0.1:${adminPort}`).then(
  (t) => console.log(`\n${describeDemoTraffic(t)}\n`),
  (e) => console.log(`\nopening traffic failed: ${e instanceof Error ? e.message : e}\n`),
);
Deno.exit(await serving);
