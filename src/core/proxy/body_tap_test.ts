import assert from "node:assert/strict";
import { replyGateway } from "./_test_helpers.ts";
import { bodyTapOf, offerTaps } from "./body_tap.ts";
import type { Gateway } from "./gateway.ts";

const JSON_ANSWER = JSON.stringify({
  id: "c1",
  model: "gpt-4o-2024",
  choices: [{ message: { content: "Hi" } }],
  usage: { prompt_tokens: 11, completion_tokens: 7 },
});

const gateway = replyGateway;

const post = () =>
  new Request("http://p.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o" }),
  });

const json = () =>
  new Response(JSON_ANSWER, {
    headers: {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(JSON_ANSWER).byteLength),
    },
  });

/** The runtime side of a connection: `completed` settles when told. */
function conn() {
  let sent!: () => void;
  let lost!: (e: unknown) => void;
  const completed = new Promise<void>((resolve, reject) => {
    sent = resolve;
    lost = reject;
  });
  completed.catch(() => {});
  const ac = new AbortController();
  return { info: { remoteAddr: "1.2.3.4", signal: ac.signal, completed }, sent, lost, ac };
}

const tokens = (gw: Gateway, type: string) =>
  gw.metrics.encode().match(
    new RegExp(`llmproxy_tokens_total\\{[^}]*type="${type}"\\} (\\d+)`),
  )?.[1];

/** What an adapter's writer does: every chunk out, each tapped right after. */
async function write(res: Response): Promise<string> {
  const tap = bodyTapOf(res);
  let out = "";
  const dec = new TextDecoder();
  for await (const chunk of res.body!) {
    out += dec.decode(chunk, { stream: true });
    tap?.(chunk);
  }
  return out + dec.decode();
}

Deno.test("a writer that takes taps gets the upstream answer as it is, with a tap", async () => {
  const upstream = json();
  const { gw, lines } = gateway(() => upstream);
  const c = conn();
  const req = post();
  offerTaps(req);
  const res = await gw.handle("f", req, c.info);
  assert.equal(res, upstream, "the upstream Response itself: the runtime can send it natively");
  assert.ok(bodyTapOf(res), "with a tap");
  assert.equal(await write(res), JSON_ANSWER);
  assert.equal(lines.find((l) => l.msg === "access"), undefined, "not over before it is sent");
  c.sent();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(tokens(gw, "input"), "11");
  assert.equal(tokens(gw, "output"), "7");
  const access = lines.find((l) => l.msg === "access")!;
  assert.equal(access.bytes, new TextEncoder().encode(JSON_ANSWER).byteLength);
  assert.equal(access.input_tokens, 11);
  assert.equal(access.error, undefined);
});

Deno.test("tapped: a failed send is a cut body, or the client gone when its signal fired", async () => {
  for (const gone of [false, true]) {
    const { gw, lines } = gateway(json);
    const c = conn();
    const req = post();
    offerTaps(req);
    const res = await gw.handle("f", req, c.info);
    const tap = bodyTapOf(res)!;
    const reader = res.body!.getReader();
    const first = await reader.read();
    tap(first.value!.subarray(0, 10));
    if (gone) c.ac.abort();
    c.lost(new Error("send failed"));
    await new Promise((r) => setTimeout(r, 0));
    const access = lines.find((l) => l.msg === "access")!;
    assert.equal(access.error, gone ? "client_gone" : "upstream_body_cut");
    assert.equal(access.bytes, 10, "the bytes the writer tapped");
    assert.equal(tokens(gw, "input"), undefined, "a partial JSON answer reports nothing");
  }
});

Deno.test("no tap where the writer takes none, for streams it does not take, or with accounting off", async () => {
  // No offer (Workers, a library user's own server): the body is observed in JavaScript.
  {
    const upstream = json();
    const { gw } = gateway(() => upstream);
    const res = await gw.handle("f", post(), conn().info);
    assert.notEqual(res, upstream);
    assert.equal(bodyTapOf(res), undefined);
    assert.equal(await res.text(), JSON_ANSWER);
    assert.equal(tokens(gw, "output"), "7");
  }
  // SSE (no length) without an offer for streams: observed in JavaScript.
  const sse = `data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n`;
  for (const offered of [false, true]) {
    const { gw } = gateway(() =>
      new Response(sse, { headers: { "content-type": "text/event-stream" } })
    );
    const req = post();
    if (offered) offerTaps(req);
    const res = await gw.handle("f", req, conn().info);
    assert.equal(bodyTapOf(res), undefined);
    assert.equal(await res.text(), sse);
    assert.equal(tokens(gw, "output"), "3");
  }
  // Accounting off: passed through, nothing to tap.
  {
    const upstream = json();
    const { gw } = gateway(() => upstream, false);
    const req = post();
    offerTaps(req);
    const res = await gw.handle("f", req, conn().info);
    assert.equal(res, upstream);
    assert.equal(bodyTapOf(res), undefined);
    await res.body!.cancel();
  }
});

Deno.test("an event stream (no length) goes as it is to a writer that taps all; the tap counts it", async () => {
  const sse = `data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n`;
  for (const accounting of [true, false]) {
    const upstream = new Response(sse, { headers: { "content-type": "text/event-stream" } });
    const { gw, lines } = gateway(() => upstream, accounting);
    const c = conn();
    const req = post();
    offerTaps(req, "all");
    const res = await gw.handle("f", req, c.info);
    assert.equal(res, upstream, "passed on untouched");
    assert.ok(bodyTapOf(res), "with a tap, for the byte count at least");
    assert.equal(await write(res), sse);
    c.sent();
    await new Promise((r) => setTimeout(r, 0));
    const access = lines.find((l) => l.msg === "access")!;
    assert.equal(access.bytes, new TextEncoder().encode(sse).byteLength, "bytes from the tap");
    assert.equal(tokens(gw, "output"), accounting ? "3" : undefined);
  }
});
