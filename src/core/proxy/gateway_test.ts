import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { loadConfig } from "../config/mod.ts";
import { Gateway } from "./gateway.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";

type Reply = (req: UpstreamRequest) => Promise<Response>;

function setup(groupExtra: string, reply: Reply, members = "[{ name: a }, { name: b }]") {
  const yaml = `
http_server:
  forwards: [{ name: f, port: 3000, default_group: g }]
upstreams:
  - { name: a, url: "http://a.test", breaker: { threshold: 0.5, cooldown: 7 } }
  - { name: b, url: "http://b.test" }
upstream_groups:
  - name: g
    upstreams: ${members}
    ${groupExtra}
`;
  const loaded = loadConfig(yaml);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const clock = new ManualClock();
  const calls: UpstreamRequest[] = [];
  const transport: Transport = {
    send(req) {
      calls.push(req);
      return reply(req);
    },
    close() {},
  };
  const gw = new Gateway({
    config: loaded.config,
    transports: () => transport,
    clock,
    random: () => 0.5,
  });
  return { gw, clock, calls };
}

const req = (body = "{}") =>
  new Request("http://proxy.test/v1/chat/completions", { method: "POST", body });

/** Drives the manual clock until `p` settles (the pipeline awaits microtasks between timers). */
async function run<T>(clock: ManualClock, p: Promise<T>, stepMs = 10, maxMs = 60_000): Promise<T> {
  let done = false;
  p.finally(() => done = true).catch(() => {});
  for (let t = 0; t <= maxMs && !done; t += stepMs) {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    if (!done) clock.advance(stepMs);
  }
  return await p;
}

function inFlight(gw: Gateway, upstream: string): number {
  const text = gw.metrics.encode();
  const m = text.match(
    new RegExp(`llmproxy_upstream_in_flight\\{group="g",upstream="${upstream}"\\} (\\S+)`),
  );
  return Number(m?.[1]);
}

Deno.test("a transport error is retried on the other member after a jittered backoff", async () => {
  const { gw, clock, calls } = setup(
    "http_client: { retry: { attempts: 2, initial: 500 } }",
    (r) =>
      r.url.startsWith("http://a.test")
        ? Promise.reject(new TypeError("refused"))
        : Promise.resolve(new Response("ok")),
    "[{ name: a }, { name: b }]",
  );
  const t0 = clock.now();
  const res = await run(clock, gw.handle("f", req(), { remoteAddr: "10.0.0.1" }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "ok");
  assert.deepEqual(calls.map((c) => new URL(c.url).host), ["a.test", "b.test"]);
  // Full jitter with random() = 0.5 over initial 500 ms: 250 ms.
  assert.ok(clock.now() - t0 >= 250 && clock.now() - t0 < 300, `waited ${clock.now() - t0}`);
  assert.equal(inFlight(gw, "a"), 0);
  assert.equal(inFlight(gw, "b"), 0);
});

Deno.test("a Retry-After of at most 30 s is honoured instead of the backoff", async () => {
  let n = 0;
  const { gw, clock } = setup(
    "http_client: { retry: { attempts: 1, initial: 100 } }",
    () =>
      Promise.resolve(
        n++ === 0
          ? new Response("slow down", { status: 429, headers: { "retry-after": "2" } })
          : new Response("ok"),
      ),
    "[{ name: b }]",
  );
  const t0 = clock.now();
  const res = await run(clock, gw.handle("f", req(), { remoteAddr: "10.0.0.1" }));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(clock.now() - t0 >= 2000, `waited ${clock.now() - t0}`);
});

Deno.test("when tries run out the last upstream answer is returned as it was", async () => {
  const { gw, clock, calls } = setup(
    "http_client: { retry: { attempts: 2, initial: 100 } }",
    () =>
      Promise.resolve(new Response('{"error":"busy"}', { status: 503, headers: { "x-up": "1" } })),
    "[{ name: b }]",
  );
  const res = await run(clock, gw.handle("f", req(), { remoteAddr: "10.0.0.1" }));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("x-up"), "1");
  assert.equal(await res.text(), '{"error":"busy"}');
  assert.equal(calls.length, 3);
});

Deno.test("timeout.request with stream: false gives 504 on the injected clock", async () => {
  const { gw, clock } = setup(
    "http_client: { stream: false, timeout: { request: 1 } }",
    (r) =>
      new Promise((_, reject) =>
        r.signal.addEventListener("abort", () => reject(r.signal.reason), { once: true })
      ),
    "[{ name: b }]",
  );
  const t0 = clock.now();
  const res = await run(clock, gw.handle("f", req(), { remoteAddr: "10.0.0.1" }));
  assert.equal(res.status, 504);
  assert.equal((await res.json()).error.code, "upstream_timeout");
  assert.ok(clock.now() - t0 >= 1000 && clock.now() - t0 < 1100);
  assert.equal(inFlight(gw, "b"), 0);
});

Deno.test("in-flight returns to 0 after success, failure and a client that leaves mid-body", async () => {
  let mode = "ok";
  const { gw, clock } = setup("", () => {
    if (mode === "fail") return Promise.reject(new TypeError("reset"));
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("data: 1\n\n"));
        if (mode === "ok") c.close();
      },
    });
    return Promise.resolve(
      new Response(body, { headers: { "content-type": "text/event-stream" } }),
    );
  }, "[{ name: b }]");
  const ok = await gw.handle("f", req(), { remoteAddr: "1.1.1.1" });
  await ok.text();
  assert.equal(inFlight(gw, "b"), 0);
  mode = "fail";
  const bad = await run(clock, gw.handle("f", req(), { remoteAddr: "1.1.1.1" }));
  assert.equal(bad.status, 502);
  assert.equal(inFlight(gw, "b"), 0);
  mode = "open";
  const ac = new AbortController();
  const streaming = await gw.handle("f", req(), { remoteAddr: "1.1.1.1", signal: ac.signal });
  const reader = streaming.body!.getReader();
  await reader.read();
  assert.equal(inFlight(gw, "b"), 1);
  ac.abort();
  await reader.cancel();
  assert.equal(inFlight(gw, "b"), 0);
  const status = await gw.snapshot.groups.get("g")!.state.status();
  assert.equal(status[0]!.inFlight, 0);
});

Deno.test("an open breaker yields 503 no_available_upstream with Retry-After from the cooldown", async () => {
  const { gw, clock } = setup(
    "",
    () => Promise.resolve(new Response("boom", { status: 500 })),
    "[{ name: a }]",
  );
  for (let i = 0; i < 5; i++) {
    const r = await gw.handle("f", req(), { remoteAddr: "1.1.1.1" });
    assert.equal(r.status, 500);
    await r.body?.cancel();
  }
  clock.advance(2000);
  const r = await gw.handle("f", req(), { remoteAddr: "1.1.1.1" });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("retry-after"), "5");
  assert.equal(r.headers.get("x-llmproxy-error"), "no_available_upstream");
  await r.body?.cancel();
});

Deno.test("a swap keeps running requests on their snapshot; new ones see the new config", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const { gw } = setup("", async (r) => {
    if (r.url.includes("a.test")) await gate;
    return new Response(new URL(r.url).host);
  }, "[{ name: a }]");
  const running = gw.handle("f", req(), { remoteAddr: "1.1.1.1" });
  const next = loadConfig(`
http_server:
  forwards: [{ name: f, port: 3000, default_group: g }]
upstreams:
  - { name: a, url: "http://a.test" }
  - { name: b, url: "http://b.test" }
upstream_groups:
  - { name: g, upstreams: [{ name: b }] }
`);
  assert.ok(next.ok);
  gw.apply(next.config);
  const fresh = await gw.handle("f", req(), { remoteAddr: "1.1.1.1" });
  assert.equal(await fresh.text(), "b.test");
  release();
  assert.equal(await (await running).text(), "a.test");
});

Deno.test("a transport error after an upstream answer still returns that answer when tries run out", async () => {
  let n = 0;
  const { gw, clock } = setup(
    "http_client: { retry: { attempts: 1, initial: 100 } }",
    () =>
      n++ === 0
        ? Promise.resolve(new Response("overloaded", { status: 503 }))
        : Promise.reject(new TypeError("connection reset")),
    "[{ name: b }]",
  );
  const res = await run(clock, gw.handle("f", req(), { remoteAddr: "10.0.0.1" }));
  assert.equal(res.status, 503);
  assert.equal(await res.text(), "overloaded");
});
