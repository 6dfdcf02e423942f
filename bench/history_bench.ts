/**
 * What the dashboard's history costs the request path: `deno bench -A
 * src/core/metrics/history_bench.ts`. The same gateway handles the same request (a
 * JSON answer with usage from an in-memory transport, read to its end) with the
 * history recording as usual, and with `TrafficHistory.prototype.record` replaced by a
 * no-op, side by side in one run (on a busy machine, run each alone with `--filter` and
 * alternate: the first bench of a group also pays for warming up); plus `record` and
 * `snapshot` on their own.
 *
 * @module
 */

import { loadConfig } from "../src/core/config/mod.ts";
import { Gateway } from "../src/core/proxy/gateway.ts";
import type { Transport } from "../src/core/proxy/transport.ts";
import { TrafficHistory } from "../src/core/metrics/history.ts";

const loaded = loadConfig(`
http_server:
  forwards: [{ name: main, port: 3000, default_group: g }]
upstreams: [{ name: u, url: "http://u.test" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const answer = JSON.stringify({
  model: "gpt-4o",
  choices: [{ message: { content: "hi" } }],
  usage: { prompt_tokens: 12, completion_tokens: 40 },
});
const transport: Transport = {
  send: () =>
    Promise.resolve(new Response(answer, { headers: { "content-type": "application/json" } })),
  close() {},
};
const gateway = new Gateway({ config: loaded.config, transports: () => transport });
const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });

async function one(): Promise<void> {
  const res = await gateway.handle(
    "main",
    new Request("http://proxy.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    }),
    { remoteAddr: "10.0.0.1" },
  );
  await res.arrayBuffer();
}

const record = TrafficHistory.prototype.record;
const noop: typeof record = () => {};

Deno.bench("gateway request, history recording", { group: "request", baseline: true }, async () => {
  TrafficHistory.prototype.record = record;
  await one();
});

Deno.bench("gateway request, history off (no-op)", { group: "request" }, async () => {
  TrafficHistory.prototype.record = noop;
  await one();
  TrafficHistory.prototype.record = record;
});

const h = new TrafficHistory();
let t = Date.now();
const usage = { model: "gpt-4o", input: 12, output: 40 };
Deno.bench("TrafficHistory.record", { group: "history" }, () => {
  t += 0.05;
  h.record(t, "main", 200, 420, undefined, usage, "team-a");
});
Deno.bench("TrafficHistory.snapshot (what /api/v1/stats reads)", { group: "history" }, () => {
  h.snapshot(t);
});
