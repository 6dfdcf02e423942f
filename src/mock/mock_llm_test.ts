import assert from "node:assert/strict";
import { OpenAI } from "../../dev_deps.ts";
import { MOCK_REQUEST_LOG, MockLlm, type MockOptions } from "./mock_llm.ts";

const BASE = "http://mock.test";

function post(
  mock: MockLlm,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return mock.fetch(
    new Request(`${BASE}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

function mock(options: Partial<MockOptions> = {}): MockLlm {
  return new MockLlm({ name: "t", chunks: 3, chunkDelayMs: 0, ...options });
}

interface SseEvent {
  event: string | null;
  data: string;
}

/** Reads a whole SSE answer into events (`event:` name, or null, and the data text). */
async function events(res: Response): Promise<SseEvent[]> {
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const text = await res.text();
  assert.ok(text.endsWith("\n\n"), "the stream ends with a complete event");
  return text.slice(0, -2).split("\n\n").map((block) => {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
      else assert.fail(`unexpected SSE line ${JSON.stringify(line)}`);
    }
    return { event, data: data.join("\n") };
  });
}

// deno-lint-ignore no-explicit-any
type Json = any;

const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const chatBytes = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)).length;

Deno.test("chat JSON: usage derived from the request, model echoed", async () => {
  const m = mock();
  const res = await post(m, "/v1/chat/completions", CHAT);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-mock-name"), "t");
  const body: Json = await res.json();
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "gpt-4o");
  assert.equal(body.choices[0].message.content, "Hello from t. token1 token2");
  const input = Math.ceil(chatBytes(CHAT) / 4);
  assert.deepEqual(body.usage, {
    prompt_tokens: input,
    completion_tokens: 3,
    total_tokens: input + 3,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  });
  assert.equal(m.stats.completions, 1);
  assert.equal(m.stats.chat_completions, 1);
  assert.equal(m.stats.usage_reported, 1);
  assert.equal(m.stats.input_tokens, input);
  assert.equal(m.stats.output_tokens, 3);
});

Deno.test("chat JSON: token counts and model from headers, then options", async () => {
  const headers = {
    "x-mock-input-tokens": "100",
    "x-mock-output-tokens": "7",
    "x-mock-cached-tokens": "40",
    "x-mock-reasoning-tokens": "3",
    "x-mock-model": "gpt-4o-2024-08-06",
  };
  const body: Json = await (await post(mock(), "/v1/chat/completions", CHAT, headers)).json();
  assert.equal(body.model, "gpt-4o-2024-08-06");
  assert.deepEqual(body.usage, {
    prompt_tokens: 100,
    completion_tokens: 7,
    total_tokens: 107,
    prompt_tokens_details: { cached_tokens: 40 },
    completion_tokens_details: { reasoning_tokens: 3 },
  });
  const configured = mock({ model: "served", inputTokens: 11, outputTokens: 22, cachedTokens: 5 });
  const b2: Json = await (await post(configured, "/v1/chat/completions", CHAT)).json();
  assert.equal(b2.model, "served");
  assert.equal(b2.usage.prompt_tokens, 11);
  assert.equal(b2.usage.completion_tokens, 22);
  assert.equal(b2.usage.prompt_tokens_details.cached_tokens, 5);
  // A header still wins over an option; a bad number falls back.
  const b3: Json = await (await post(configured, "/v1/chat/completions", CHAT, {
    "x-mock-input-tokens": "-4",
    "x-mock-output-tokens": "9",
  })).json();
  assert.equal(b3.usage.prompt_tokens, 11);
  assert.equal(b3.usage.completion_tokens, 9);
  // No model in the request: a fixed name.
  const b4: Json = await (await post(mock(), "/v1/chat/completions", { messages: [] })).json();
  assert.equal(b4.model, "mock-model");
});

Deno.test("chat JSON: x-mock-no-usage and usage: false answer without usage", async () => {
  const m = mock();
  const body: Json = await (await post(m, "/v1/chat/completions", CHAT, {
    "x-mock-no-usage": "1",
  })).json();
  assert.equal("usage" in body, false);
  assert.equal(m.stats.usage_omitted, 1);
  assert.equal(m.stats.usage_reported, 0);
  const off = mock({ usage: false });
  const b2: Json = await (await post(off, "/v1/chat/completions", CHAT)).json();
  assert.equal("usage" in b2, false);
  // The header can also turn usage back on for one request.
  const b3: Json = await (await post(off, "/v1/chat/completions", CHAT, {
    "x-mock-no-usage": "0",
  })).json();
  assert.equal(typeof b3.usage.prompt_tokens, "number");
});

Deno.test("chat SSE: by default the stream ends with a usage chunk, as it always did", async () => {
  const m = mock();
  const ev = await events(await post(m, "/v1/chat/completions", { ...CHAT, stream: true }));
  assert.equal(ev.at(-1)!.data, "[DONE]");
  const chunks = ev.slice(0, -1).map((e) => JSON.parse(e.data));
  assert.equal(chunks.length, 1 + 3 + 1 + 1); // role, 3 contents, finish, usage
  assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
  assert.deepEqual(chunks.slice(1, 4).map((c: Json) => c.choices[0].delta.content), [
    "Hello from t.",
    " token1",
    " token2",
  ]);
  assert.equal(chunks[4].choices[0].finish_reason, "stop");
  const last = chunks[5];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 3);
  assert.equal(last.usage.prompt_tokens, Math.ceil(chatBytes({ ...CHAT, stream: true }) / 4));
  // Without include_usage the other chunks have no usage field at all.
  for (const c of chunks.slice(0, 5)) assert.equal("usage" in c, false);
  for (const c of chunks) assert.equal(c.model, "gpt-4o");
  assert.equal(m.stats.streams_started, 1);
  assert.equal(m.stats.streams_completed, 1);
  assert.equal(m.stats.active_streams, 0);
  assert.equal(m.stats.usage_reported, 1);
});

Deno.test("chat SSE, streamUsage requested: usage only with stream_options.include_usage", async () => {
  for (
    const [m, headers] of [
      [mock({ streamUsage: "requested" }), {}],
      [mock(), { "x-mock-stream-usage": "requested" }],
    ] as const
  ) {
    const plain = await events(
      await post(m, "/v1/chat/completions", { ...CHAT, stream: true }, headers),
    );
    const plainChunks = plain.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.equal(plainChunks.length, 5);
    for (const c of plainChunks) assert.equal("usage" in c, false);
    assert.equal(m.stats.usage_omitted, 1);

    const asked = await events(
      await post(m, "/v1/chat/completions", {
        ...CHAT,
        stream: true,
        stream_options: { include_usage: true },
      }, headers),
    );
    const chunks = asked.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.equal(chunks.length, 6);
    // As OpenAI does: `usage: null` on every chunk but the last, which has no choices.
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(chunks.at(-1).usage.completion_tokens, 3);
    assert.equal(m.stats.usage_reported, 1);
  }
});

Deno.test("chat SSE: x-mock-no-usage wins over include_usage", async () => {
  const m = mock();
  const ev = await events(
    await post(m, "/v1/chat/completions", {
      ...CHAT,
      stream: true,
      stream_options: { include_usage: true },
    }, { "x-mock-no-usage": "true" }),
  );
  assert.equal(ev.some((e) => e.data.includes('"usage"')), false);
  assert.equal(m.stats.usage_omitted, 1);
});

Deno.test("responses JSON: output text and usage", async () => {
  const m = mock();
  const req = { model: "gpt-4.1", input: "hi" };
  const body: Json = await (await post(m, "/v1/responses", req, {
    "x-mock-cached-tokens": "2",
    "x-mock-reasoning-tokens": "1",
  })).json();
  assert.equal(body.object, "response");
  assert.equal(body.status, "completed");
  assert.equal(body.model, "gpt-4.1");
  assert.equal(body.output[0].content[0].text, "Hello from t. token1 token2");
  const input = Math.ceil(chatBytes(req) / 4);
  assert.deepEqual(body.usage, {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 2 },
    output_tokens: 3,
    output_tokens_details: { reasoning_tokens: 1 },
    total_tokens: input + 3,
  });
  assert.equal(m.stats.responses, 1);
  assert.equal(m.stats.completions, 1);
  const none: Json = await (await post(m, "/v1/responses", req, { "x-mock-no-usage": "1" }))
    .json();
  assert.equal("usage" in none, false);
});

Deno.test("responses SSE: created, deltas, completed with response.usage", async () => {
  const m = mock();
  const ev = await events(
    await post(m, "/v1/responses", { model: "gpt-4.1", input: "hi", stream: true }, {
      "x-mock-output-tokens": "30",
    }),
  );
  const types = ev.map((e) => e.event);
  assert.deepEqual(types, [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
  ]);
  const data = ev.map((e) => JSON.parse(e.data));
  data.forEach((d: Json, i: number) => {
    assert.equal(d.type, types[i], "the data's type matches the event name");
    assert.equal(d.sequence_number, i);
  });
  assert.equal(data[0].response.usage, null);
  assert.equal(
    data.filter((d: Json) => d.type === "response.output_text.delta").map((d: Json) => d.delta)
      .join(""),
    "Hello from t. token1 token2",
  );
  const done = data.at(-1).response;
  assert.equal(done.status, "completed");
  assert.equal(done.model, "gpt-4.1");
  assert.equal(done.usage.output_tokens, 30);
  assert.equal(done.output[0].content[0].text, "Hello from t. token1 token2");
  assert.equal(m.stats.output_tokens, 30);

  const bare = await events(
    await post(m, "/v1/responses", { model: "x", input: "hi", stream: true }, {
      "x-mock-no-usage": "1",
    }),
  );
  assert.equal("usage" in JSON.parse(bare.at(-1)!.data).response, false);
});

Deno.test("messages JSON: Anthropic shape and usage", async () => {
  const m = mock();
  const req = {
    model: "claude-sonnet-4",
    max_tokens: 100,
    messages: [{ role: "user", content: "hi" }],
  };
  const body: Json = await (await post(m, "/v1/messages", req, {
    "x-mock-cached-tokens": "12",
  })).json();
  assert.equal(body.type, "message");
  assert.equal(body.model, "claude-sonnet-4");
  assert.deepEqual(body.content, [{ type: "text", text: "Hello from t. token1 token2" }]);
  assert.equal(body.stop_reason, "end_turn");
  assert.deepEqual(body.usage, {
    input_tokens: Math.ceil(chatBytes(req) / 4),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 12,
    output_tokens: 3,
  });
  assert.equal(m.stats.messages, 1);
  const none: Json = await (await post(m, "/v1/messages", req, { "x-mock-no-usage": "1" }))
    .json();
  assert.equal("usage" in none, false);
});

Deno.test("messages SSE: message_start input, cumulative message_delta output", async () => {
  const m = mock({ chunks: 4 });
  const ev = await events(
    await post(m, "/v1/messages", { model: "claude-sonnet-4", stream: true, messages: [] }, {
      "x-mock-input-tokens": "50",
    }),
  );
  assert.deepEqual(ev.map((e) => e.event), [
    "message_start",
    "content_block_start",
    "ping",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const data = ev.map((e) => JSON.parse(e.data));
  data.forEach((d: Json, i: number) => assert.equal(d.type, ev[i]!.event));
  assert.equal(data[0].message.model, "claude-sonnet-4");
  assert.equal(data[0].message.usage.input_tokens, 50);
  assert.equal(data[0].message.usage.output_tokens, 1);
  assert.deepEqual(data[8].usage, { output_tokens: 4 });
  assert.equal(data[8].delta.stop_reason, "end_turn");
  assert.equal(
    data.filter((d: Json) => d.type === "content_block_delta").map((d: Json) => d.delta.text)
      .join(""),
    "Hello from t. token1 token2 token3",
  );
  assert.equal(m.stats.input_tokens, 50);
  assert.equal(m.stats.output_tokens, 4);

  const bare = await events(
    await post(m, "/v1/messages", { model: "c", stream: true }, { "x-mock-no-usage": "1" }),
  );
  assert.equal(bare.some((e) => e.data.includes('"usage"')), false);
});

Deno.test("generation routes reject bodies that are not JSON objects", async () => {
  const m = mock();
  for (const path of ["/v1/chat/completions", "/v1/responses", "/v1/messages"]) {
    const bad = await post(m, path, "{nope");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /must be JSON/);
    const arr = await post(m, path, "[1]");
    assert.equal(arr.status, 400);
    assert.match((await arr.json()).error.message, /JSON object, got an array/);
  }
  assert.equal(m.stats.completions, 0);
});

Deno.test("request log: the last requests as received, bounded", async () => {
  const m = mock();
  const none = await m.fetch(new Request(`${BASE}/__mock/last`));
  assert.equal(none.status, 404);
  await none.body?.cancel();
  assert.equal(m.lastRequest, null);

  const text = '{"model":"llama","stream":true,"stream_options":{"include_usage":true}}';
  await (await post(m, "/up/v1/chat/completions?x=1", text, { "x-test": "yes" })).body?.cancel();
  const last: Json = await (await m.fetch(new Request(`${BASE}/__mock/last`))).json();
  assert.equal(last.seq, 1);
  assert.equal(last.method, "POST");
  assert.equal(last.path, "/up/v1/chat/completions");
  assert.equal(last.query, "?x=1");
  assert.equal(last.body, text);
  assert.equal(last.body_bytes, text.length);
  assert.equal(last.body_truncated, false);
  assert.equal(last.model, "llama");
  assert.deepEqual(last.json.stream_options, { include_usage: true });
  const headers = new Map(last.headers as Array<[string, string]>);
  assert.equal(headers.get("x-test"), "yes");
  assert.equal(headers.get("content-type"), "application/json");
  assert.deepEqual(m.lastRequest, last);

  // Errors, echoes and unknown routes are recorded too; introspection is not.
  await (await post(m, "/v1/chat/completions", CHAT, { "x-mock-status": "503" })).body?.cancel();
  await (await m.fetch(new Request(`${BASE}/nowhere`))).body?.cancel();
  await (await m.fetch(new Request(`${BASE}/__mock/stats`))).body?.cancel();
  const all: Json = await (await m.fetch(new Request(`${BASE}/__mock/requests`))).json();
  assert.deepEqual(all.requests.map((r: Json) => [r.seq, r.path, r.model]), [
    [1, "/up/v1/chat/completions", "llama"],
    [2, "/v1/chat/completions", "gpt-4o"],
    [3, "/nowhere", null],
  ]);
  assert.equal(all.requests[2].body, "");
  assert.equal(all.requests[2].json, null);
  assert.equal(m.stats.requests, 3);

  for (let i = 0; i < MOCK_REQUEST_LOG + 5; i++) {
    await (await m.fetch(new Request(`${BASE}/v1/models`))).body?.cancel();
  }
  assert.equal(m.requests.length, MOCK_REQUEST_LOG);
  assert.equal(m.requests[0]!.seq, 3 + 5 + 1);
  assert.equal(m.lastRequest!.seq, 3 + MOCK_REQUEST_LOG + 5);
});

Deno.test("request log: a large body is kept cut, and not parsed", async () => {
  const m = mock();
  const big = JSON.stringify({ model: "m", pad: "x".repeat(1024 * 1024) });
  await (await post(m, "/v1/chat/completions", big)).body?.cancel();
  const last = m.lastRequest!;
  assert.equal(last.body_bytes, big.length);
  assert.equal(last.body_truncated, true);
  assert.equal(last.body.length, 1024 * 1024);
  assert.equal(last.json, null);
  assert.equal(last.model, null);
});

Deno.test("existing behaviour: forced status, injected errors, echo, models, gzip", async () => {
  const m = mock({ errorRate: 0.5, errorStatus: 503, random: () => 0.1 });
  const injected = await post(m, "/v1/chat/completions", CHAT);
  assert.equal(injected.status, 503);
  assert.match((await injected.json()).error.message, /injected error from t/);
  assert.equal(m.stats.errors_injected, 1);

  const ok = mock();
  const forced = await post(ok, "/v1/chat/completions", CHAT, {
    "x-mock-status": "429",
    "x-mock-retry-after": "7",
  });
  assert.equal(forced.status, 429);
  assert.equal(forced.headers.get("retry-after"), "7");
  await forced.body?.cancel();

  const echo: Json = await (await post(ok, "/a/__mock/echo?q=1", "raw body", {
    authorization: "Bearer k",
  })).json();
  assert.equal(echo.path, "/a/__mock/echo");
  assert.equal(echo.query, "?q=1");
  assert.equal(echo.body, "raw body");
  assert.equal(echo.authorization, "Bearer k");

  const models: Json = await (await ok.fetch(new Request(`${BASE}/v1/models`))).json();
  assert.equal(models.data[0].id, "mock-model");

  const gz = await ok.fetch(new Request(`${BASE}/__mock/gzip`));
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  const plain = await new Response(gz.body!.pipeThrough(new DecompressionStream("gzip"))).json();
  assert.deepEqual(plain, { name: "t", gzip: true });

  const missing = await post(ok, "/v1/embeddings", {});
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("existing behaviour: latency, and an abandoned stream counts as aborted", async () => {
  const m = mock({ chunkDelayMs: 50, chunks: 10 });
  const t0 = performance.now();
  const res = await post(m, "/v1/messages", { model: "c", stream: true }, {
    "x-mock-latency": "60",
  });
  assert.ok(performance.now() - t0 >= 55, "latency before headers");
  const reader = res.body!.getReader();
  await reader.read();
  assert.equal(m.stats.active_streams, 1);
  await reader.cancel();
  assert.equal(m.stats.active_streams, 0);
  assert.equal(m.stats.streams_aborted, 1);
  assert.equal(m.stats.streams_completed, 0);
  assert.notEqual(m.stats.last_abort_at, null);
  // An abandoned stream reported no usage: nothing is counted either way.
  assert.equal(m.stats.usage_reported + m.stats.usage_omitted, 0);

  const ctl = new AbortController();
  const pending = m.fetch(
    new Request(`${BASE}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify(CHAT),
      headers: { "x-mock-latency": "5000" },
      signal: ctl.signal,
    }),
  );
  ctl.abort();
  assert.equal((await pending).status, 499);
});

Deno.test("the openai SDK reads every shape, usage included", async () => {
  const m = mock({ streamUsage: "requested" });
  const ai = new OpenAI({
    baseURL: `${BASE}/v1`,
    apiKey: "k",
    maxRetries: 0,
    fetch: (input: string | URL | Request, init?: RequestInit) => m.fetch(new Request(input, init)),
  });
  const done = await ai.chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(done.usage?.completion_tokens, 3);

  const stream = await ai.chat.completions.create({
    model: "gpt-4o",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "hi" }],
  });
  let text = "";
  let usage: { completion_tokens: number } | undefined;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? "";
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, "Hello from t. token1 token2");
  assert.equal(usage?.completion_tokens, 3);
  const sent: Json = m.lastRequest!.json;
  assert.deepEqual(sent.stream_options, { include_usage: true });

  const response = await ai.responses.create({ model: "gpt-4.1", input: "hi" });
  assert.equal(response.output_text, "Hello from t. token1 token2");
  assert.equal(response.usage?.output_tokens, 3);

  const rs = await ai.responses.create({ model: "gpt-4.1", input: "hi", stream: true });
  let completed: Json;
  let deltas = "";
  for await (const e of rs) {
    if (e.type === "response.output_text.delta") deltas += e.delta;
    if (e.type === "response.completed") completed = e.response;
  }
  assert.equal(deltas, "Hello from t. token1 token2");
  assert.equal(completed.usage.output_tokens, 3);
});

Deno.test("existing behaviour: content events are paced, in every shape", async () => {
  const shapes: Array<[string, string]> = [
    ["/v1/chat/completions", '"delta":{"content":'],
    ["/v1/responses", "event: response.output_text.delta"],
    ["/v1/messages", '"type":"text_delta"'],
  ];
  for (const [path, marker] of shapes) {
    const m = mock({ chunks: 4, chunkDelayMs: 40 });
    const res = await post(m, path, { model: "x", stream: true });
    const reader = res.body!.getReader();
    const times: number[] = [];
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (dec.decode(value).includes(marker)) times.push(performance.now());
    }
    assert.equal(times.length, 4, path);
    const spread = times.at(-1)! - times[0]!;
    assert.ok(spread >= 100, `${path}: content spread over ${spread} ms, expected about 120`);
  }
});
