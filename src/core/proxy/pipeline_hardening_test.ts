/**
 * Regression cases for the attempt loop: what the client sees, what the breaker and
 * gauges record, and that every attempt gives back what it took.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { loadConfig } from "../config/mod.ts";
import { MemoryStateStore } from "../state/mod.ts";
import type { StateStore } from "../state/types.ts";
import { Gateway } from "./gateway.ts";
import type { Transport, UpstreamRequest } from "./transport.ts";

type Reply = (req: UpstreamRequest) => Promise<Response>;

const CONFIG = `
http_server:
  forwards:
    - name: f
      port: 3000
      default_group: g
      trusted_proxies: ["10.0.0.0/8"]
      routing:
        - { path: "/base/q", target_group: other }
        - { path: "/mixed", target_group: mixed }
upstreams:
  - { name: a, url: "http://a.test", breaker: { threshold: 0.5, cooldown: 7 } }
  - { name: b, url: "http://b.test" }
upstream_groups:
  - name: g
    upstreams: [{ name: a }]
    http_client: { retry: { attempts: 1, initial: 100 } }
  - name: other
    upstreams: [{ name: b }]
  - name: mixed
    upstreams: [{ name: a }, { name: b }]
`;

function setup(reply: Reply, wrapStore?: (s: StateStore) => StateStore) {
  const loaded = loadConfig(CONFIG);
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
  const lines: Record<string, unknown>[] = [];
  const logger = {
    log: (_l: string, msg: string, f?: Record<string, unknown>) => lines.push({ msg, ...f }),
  };
  const ref = {} as { gw: Gateway };
  const base = new MemoryStateStore({
    clock,
    random: () => 0.5,
    events: {
      breakerChange: (g, u, from, to) =>
        ref.gw.metrics.breakerStateChanges.labels(g, u, "", from, to).inc(),
    },
  });
  const gw = ref.gw = new Gateway({
    config: loaded.config,
    transports: () => transport,
    clock,
    random: () => 0.5,
    logger,
    store: wrapStore ? wrapStore(base) : base,
  });
  return { gw, clock, calls, lines };
}

async function run<T>(clock: ManualClock, p: Promise<T>, stepMs = 10, maxMs = 60_000): Promise<T> {
  let done = false;
  p.finally(() => done = true).catch(() => {});
  for (let t = 0; t <= maxMs && !done; t += stepMs) {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    if (!done) clock.advance(stepMs);
  }
  return await p;
}

function metric(gw: Gateway, pattern: RegExp): number {
  const m = gw.metrics.encode().match(pattern);
  return m ? Number(m[1]) : 0;
}

const inFlight = (gw: Gateway, u: string) =>
  metric(gw, new RegExp(`llmproxy_upstream_in_flight\\{group="\\w+",upstream="${u}"\\} (\\S+)`));

Deno.test("TRACE, TRACK and CONNECT are the client's error (405), never the breaker's", async () => {
  const { gw, clock, calls } = setup(() => Promise.reject(new TypeError("Method is forbidden")));
  for (let i = 0; i < 6; i++) {
    for (const method of ["TRACE", "TRACK"]) {
      // The runtimes' servers hand such requests over; `new Request` would refuse them.
      const r = new Request("http://p.test/v1/x");
      Object.defineProperty(r, "method", { value: method });
      const res = await run(clock, gw.handle("f", r, { remoteAddr: "1.2.3.4" }));
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("x-llmproxy-error"), "method_not_allowed");
      assert.equal((await res.json()).error.type, "llmproxy_error");
    }
  }
  assert.equal(calls.length, 0);
  assert.doesNotMatch(gw.metrics.encode(), /to="open"\} [1-9]/);
  assert.equal(metric(gw, /llmproxy_upstream_errors_total\{[^}]*\} (\S+)/), 0);
});

Deno.test("a Host header that is not a host is a 400 and never changes the route", async () => {
  const { gw, clock, calls } = setup(() => Promise.resolve(new Response("ok")));
  for (const host of ["x/base", "evil/../../zz?", "evil#frag", "a b", "u@h", "h:80, g"]) {
    // What the runtime hands over: a URL built from Host, the raw Host header.
    const r = new Request("http://p.test/q", { headers: { host: host } });
    const res = await run(clock, gw.handle("f", r, { remoteAddr: "1.2.3.4" }));
    assert.equal(res.status, 400, `Host: ${host}`);
    assert.equal(res.headers.get("x-llmproxy-error"), "invalid_request");
    assert.equal(res.headers.get("connection"), "close");
  }
  assert.equal(calls.length, 0);
  for (const host of ["proxy.test", "proxy.test:3000", "127.0.0.1:1", "[::1]:3000"]) {
    const r = new Request("http://p.test/q", { headers: { host } });
    const res = await run(clock, gw.handle("f", r, { remoteAddr: "1.2.3.4" }));
    assert.equal(res.status, 200, `Host: ${host}`);
    await res.body?.cancel();
  }
});

Deno.test("X-Forwarded-For gets the peer appended; X-Forwarded-Proto is the listener's", async () => {
  const { gw, clock, calls } = setup(() => Promise.resolve(new Response("ok")));
  const viaProxy = new Request("ftp://p.test/v1/x", { headers: { "x-forwarded-for": "1.1.1.1" } });
  await (await run(clock, gw.handle("f", viaProxy, { remoteAddr: "10.0.0.9" }))).text();
  const h = new Map(calls[0]!.headers);
  assert.equal(h.get("x-forwarded-for"), "1.1.1.1, 10.0.0.9");
  assert.equal(h.get("x-forwarded-proto"), "http");
});

Deno.test("an X-Forwarded-For named in Connection is dropped and not believed", async () => {
  const { gw, clock, calls, lines } = setup(() => Promise.resolve(new Response("ok")));
  const r = new Request("http://p.test/v1/x", {
    headers: { "x-forwarded-for": "6.6.6.6", connection: "x-forwarded-for" },
  });
  await (await run(clock, gw.handle("f", r, { remoteAddr: "10.0.0.9" }))).text();
  assert.equal(new Map(calls[0]!.headers).get("x-forwarded-for"), "10.0.0.9");
  assert.equal(lines.find((l) => l.msg === "access")?.client, "10.0.0.9");
});

Deno.test("a body cut mid-stream is a breaker failure, cut for the client, logged", async () => {
  const { gw, clock, lines } = setup(() => {
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 0) c.enqueue(new TextEncoder().encode("data: 1\n\n"));
        else c.error(new TypeError("error reading a body from connection"));
      },
    });
    return Promise.resolve(
      new Response(body, { headers: { "content-type": "text/event-stream" } }),
    );
  });
  for (let i = 0; i < 5; i++) {
    const res = await run(
      clock,
      gw.handle("f", new Request("http://p.test/v1/x"), { remoteAddr: "1.2.3.4" }),
    );
    await assert.rejects(res.text());
    for (let k = 0; k < 20; k++) await Promise.resolve();
  }
  const access = lines.filter((l) => l.msg === "access");
  assert.equal(access.length, 5);
  assert.ok(access.every((l) => l.error === "upstream_body_cut"), JSON.stringify(access[0]));
  assert.match(gw.metrics.encode(), /upstream="a"[^}]*from="closed",to="open"\} 1/);
  assert.equal(inFlight(gw, "a"), 0);
});

Deno.test("an error answer too large to keep is passed on, not replaced by a 503", async () => {
  const big = "e".repeat(100 * 1024);
  const { gw, clock, calls } = setup(() => Promise.resolve(new Response(big, { status: 503 })));
  const res = await run(
    clock,
    gw.handle("f", new Request("http://p.test/v1/x"), { remoteAddr: "1.2.3.4" }),
  );
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("x-llmproxy-error"), null);
  assert.equal((await res.text()).length, big.length);
  assert.equal(calls.length, 1);
  assert.equal(inFlight(gw, "a"), 0);
});

Deno.test("circuit_open is counted only for members that have a breaker", async () => {
  // a fails (its breaker opens); b has no breaker and pauses itself with Retry-After.
  const { gw, clock } = setup((r) =>
    Promise.resolve(
      r.url.startsWith("http://a.test")
        ? new Response("no", { status: 500 })
        : new Response("busy", { status: 429, headers: { "retry-after": "30" } }),
    )
  );
  let last = 0;
  for (let i = 0; i < 12 && last !== 503; i++) {
    const res = await run(
      clock,
      gw.handle("f", new Request("http://p.test/mixed"), { remoteAddr: "1.2.3.4" }),
    );
    last = res.status === 503 && res.headers.get("x-llmproxy-error") ? 503 : res.status;
    await res.body?.cancel();
  }
  assert.equal(last, 503);
  const text = gw.metrics.encode();
  assert.match(text, /error="circuit_open",group="mixed",upstream="a"\} [1-9]/);
  assert.doesNotMatch(text, /error="circuit_open",group="mixed",upstream="b"/);
});

Deno.test("every attempt gives back what it took when a store call throws", async () => {
  const { gw, clock } = setup(
    () => Promise.resolve(new Response("ok")),
    (store) => ({
      rateLimit: (k, l) => store.rateLimit(k, l),
      retain: (n) => store.retain(n),
      clients: store.clients,
      group(g, u) {
        const s = store.group(g, u);
        return {
          select: (e) => s.select(e),
          settle: () => Promise.reject(new Error("store down")),
          release: (sel) => s.release(sel),
          status: () => s.status(),
        };
      },
    }),
  );
  for (let i = 0; i < 3; i++) {
    const res = await run(
      clock,
      gw.handle("f", new Request("http://p.test/v1/x"), { remoteAddr: "1.2.3.4" }),
    );
    assert.equal(await res.text(), "ok");
  }
  for (let k = 0; k < 20; k++) await Promise.resolve();
  assert.equal(inFlight(gw, "a"), 0);
  assert.equal(gw.running.size, 0);
  assert.deepEqual((await gw.snapshot.groups.get("g")!.state.status()).map((s) => s.inFlight), [0]);
});
