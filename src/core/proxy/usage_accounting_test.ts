import assert from "node:assert/strict";
import { replyGateway } from "./_test_helpers.ts";
import { markBodyBytes } from "./native_body.ts";

const gateway = replyGateway;

const post = (body: unknown) =>
  new Request("http://p.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const SSE = [
  `data: {"id":"1","model":"gpt-4o-2024","choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n`,
  `data: {"id":"1","model":"gpt-4o-2024","choices":[{"delta":{"content":"!"}}],"usage":null}\n\n`,
  `data: {"id":"1","model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,` +
  `"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}}\n\n`,
  "data: [DONE]\n\n",
];

Deno.test("a streamed answer's usage is counted, bytes unchanged, and logged", async () => {
  const { gw, lines } = gateway(() =>
    new Response(SSE.join(""), { headers: { "content-type": "text/event-stream" } })
  );
  const res = await gw.handle("f", post({ model: "gpt-4o", stream: true }), {
    remoteAddr: "1.2.3.4",
  });
  assert.equal(await res.text(), SSE.join(""));
  const text = gw.metrics.encode();
  const tok = (type: string) =>
    text.match(
      new RegExp(
        `llmproxy_tokens_total\\{group="g",upstream="u",model="gpt-4o-2024",type="${type}"\\} (\\d+)`,
      ),
    )?.[1];
  assert.equal(tok("input"), "11");
  assert.equal(tok("output"), "7");
  assert.equal(tok("cached_input"), "3");
  assert.equal(tok("reasoning"), "2");
  assert.match(text, /llmproxy_time_to_first_token_seconds_count\{[^}]*model="gpt-4o-2024"\} 1/);
  const access = lines.find((l) => l.msg === "access")!;
  assert.equal(access.model, "gpt-4o-2024");
  assert.equal(access.input_tokens, 11);
  assert.equal(access.output_tokens, 7);
  assert.equal(typeof access.ttft_ms, "number");
});

Deno.test("a JSON answer without usage counts nothing and usage_missing once", async () => {
  const { gw, lines } = gateway(() =>
    Response.json({ id: "x", choices: [] }, { headers: { "content-length": "26" } })
  );
  const res = await gw.handle("f", post({ model: "m1" }), { remoteAddr: "1.2.3.4" });
  await res.text();
  const text = gw.metrics.encode();
  assert.doesNotMatch(text, /^llmproxy_tokens_total\{/m);
  assert.match(text, /^llmproxy_usage_missing_total\{group="g",upstream="u"\} 1$/m);
  const access = lines.find((l) => l.msg === "access")!;
  assert.equal(access.model, "m1");
  assert.equal(access.input_tokens, null);
  assert.equal(access.ttft_ms, null);
});

Deno.test("Anthropic JSON usage; the request's model labels an answer without one", async () => {
  const { gw } = gateway(() =>
    Response.json({ type: "message", usage: { input_tokens: 5, output_tokens: 9 } })
  );
  const res = await gw.handle("f", post({ model: "claude-x" }), { remoteAddr: "1.2.3.4" });
  await res.text();
  const text = gw.metrics.encode();
  assert.match(text, /llmproxy_tokens_total\{[^}]*model="claude-x",type="output"\} 9/);
  assert.match(text, /llmproxy_tokens_total\{[^}]*model="claude-x",type="input"\} 5/);
});

Deno.test("GET answers and error answers are not counted as missing usage", async () => {
  const { gw } = gateway(() => Response.json({ error: "no" }, { status: 400 }));
  await (await gw.handle("f", post({ model: "m" }), { remoteAddr: "1.2.3.4" })).text();
  await (await gw.handle("f", new Request("http://p.test/v1/models"), { remoteAddr: "1.2.3.4" }))
    .text();
  assert.doesNotMatch(gw.metrics.encode(), /^llmproxy_usage_missing_total\{/m);
});

Deno.test("an answer the client left before reading is not counted as missing usage", async () => {
  const json = JSON.stringify({ id: "x", usage: { prompt_tokens: 3, completion_tokens: 4 } });
  const { gw, lines } = gateway(() =>
    new Response(
      new ReadableStream({ pull: () => new Promise(() => {}) }),
      { headers: { "content-type": "application/json", "content-length": String(json.length) } },
    )
  );
  const gone = new AbortController();
  const res = await gw.handle("f", post({ model: "m" }), {
    remoteAddr: "1.2.3.4",
    signal: gone.signal,
  });
  gone.abort(new DOMException("client gone", "AbortError"));
  await res.body!.cancel();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(lines.find((l) => l.msg === "access")?.error, "client_gone");
  assert.doesNotMatch(gw.metrics.encode(), /^llmproxy_usage_missing_total\{/m);
});

Deno.test("an answer the transport read whole (its bytes marked) is counted once, bytes unchanged", async () => {
  const json = JSON.stringify({
    model: "gpt-4o-2024",
    choices: [],
    usage: { prompt_tokens: 5, completion_tokens: 9 },
  });
  for (
    const [body, type] of [[SSE.join(""), "text/event-stream"], [json, "application/json"]] as const
  ) {
    const bytes = new TextEncoder().encode(body);
    const { gw } = gateway(() => {
      const r = new Response(bytes, {
        headers: { "content-type": type, "content-length": String(bytes.length) },
      });
      markBodyBytes(r, bytes);
      return r;
    });
    const res = await gw.handle("f", post({ model: "gpt-4o" }), { remoteAddr: "1.2.3.4" });
    assert.equal(await res.text(), body);
    const text = gw.metrics.encode();
    const input = text.match(/llmproxy_tokens_total\{[^}]*type="input"\} (\d+)/)?.[1];
    assert.equal(input, type === "application/json" ? "5" : "11", type);
    assert.match(text, /llmproxy_upstream_requests_total\{group="g",upstream="u"\} 1/);
  }
});
