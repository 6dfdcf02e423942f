import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { loadConfig } from "../../config/mod.ts";
import { Counter, Histogram } from "../../metrics/mod.ts";
import { Gateway } from "../../proxy/gateway.ts";
import type { Transport } from "../../proxy/transport.ts";
import { createAdminApp } from "../app.ts";
import { adminFixture, SECRETS } from "../_test_helpers.ts";
import { ASSETS } from "./assets.ts";
import { bucketCounts, samplesOf } from "./exposition.ts";
import { isUiShell } from "./mod.ts";

/** The dashboard's endpoints: the page, its assets, the figures. */
const UI_ENDPOINTS = [
  "/ui",
  "/ui/assets/app.js",
  "/ui/assets/app.css",
  "/ui/assets/uPlot.iife.min.js",
  "/ui/assets/uPlot.min.css",
  "/api/v1/stats",
];
const REMOTE = ["10.0.0.7", "192.168.1.20", "::ffff:10.0.0.1", "2001:db8::1", null];

Deno.test("ui without a token: 403 to every peer off loopback, 200 on loopback", async () => {
  for (const peer of REMOTE) {
    const f = adminFixture({ peer });
    for (const path of UI_ENDPOINTS) {
      const r = await f.call("GET", path);
      assert.equal(r.status, 403, `${path} from ${peer}`);
      assert.equal(r.body.status, "error");
      assert.match(r.body.error.message, /loopback/);
      assert.doesNotMatch(r.text, /<html|uPlot|"history"/, "nothing of the page or figures");
    }
  }
  for (const peer of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    const f = adminFixture({ peer });
    for (const path of UI_ENDPOINTS) {
      assert.equal((await f.call("GET", path)).status, 200, `${path} from ${peer}`);
    }
    const page = await f.call("GET", "/ui");
    assert.match(page.text, /<body data-auth="loopback">/, "no sign-in needed");
  }
});

Deno.test("ui with a token: the static page and assets open, the figures need the token", async () => {
  for (const peer of ["10.0.0.7", "127.0.0.1", null]) {
    const f = adminFixture({ authToken: "s3cret-token", peer });
    for (const path of UI_ENDPOINTS.filter((p) => p.startsWith("/ui"))) {
      const r = await f.call("GET", path, undefined, { authorization: "" });
      assert.equal(r.status, 200, `${path} from ${peer} without a token`);
    }
    const page = await f.call("GET", "/ui", undefined, { authorization: "" });
    assert.match(page.text, /<body data-auth="token">/, "the page asks for the token");
    assert.doesNotMatch(page.text, /s3cret-token|openai|team-a/, "nothing of the config");

    const none = await f.call("GET", "/api/v1/stats", undefined, { authorization: "" });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), "Bearer");
    const wrong = await f.call("GET", "/api/v1/stats", undefined, {
      authorization: "Bearer s3cret-tokem",
    });
    assert.equal(wrong.status, 401, "a wrong token is refused");
    const right = await f.call("GET", "/api/v1/stats");
    assert.equal(right.status, 200);
    assert.equal(right.body.data.scope.figures, "process");

    // Only the exact static paths are open: anything else under /ui still needs it.
    for (const path of ["/ui/assets/nope.js", "/ui/x", "/ui/assets/", "/uix"]) {
      const r = await f.call("GET", path, undefined, { authorization: "" });
      assert.equal(r.status, 401, path);
    }
    const post = await f.call("POST", "/ui", "{}", { authorization: "" });
    assert.equal(post.status, 401, "only GET and HEAD are open");
  }
});

Deno.test("isUiShell: exact paths, GET and HEAD only", () => {
  assert.ok(isUiShell("GET", "/ui"));
  assert.ok(isUiShell("HEAD", "/ui/assets/app.js"));
  assert.ok(!isUiShell("POST", "/ui"));
  assert.ok(!isUiShell("GET", "/ui/"));
  assert.ok(!isUiShell("GET", "/ui/assets/../api/v1/stats"));
  assert.ok(!isUiShell("GET", "/api/v1/stats"));
  assert.ok(!isUiShell("GET", "/UI"));
});

Deno.test("the page: relative URLs, everything from the proxy itself, a strict CSP", async () => {
  const f = adminFixture();
  const r = await f.call("GET", "/ui");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /^text\/html/);
  const csp = r.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self';/, "no inline script");
  assert.match(csp, /connect-src 'self'/);
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  // Relative URLs (so the page works under a Worker's admin prefix) and no CDN.
  const urls = [...r.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(urls.length >= 4);
  for (const url of urls) {
    assert.ok(url === "data:," || url.startsWith("ui/assets/"), url);
  }
  assert.doesNotMatch(r.text, /<script>|\son\w+="/, "no inline script or handler");
  for (const url of urls.filter((u) => u.startsWith("ui/"))) {
    const asset = await f.call("GET", `/${url}`);
    assert.equal(asset.status, 200, url);
    assert.match(asset.headers.get("content-type")!, /^text\/(javascript|css)/);
    assert.match(asset.headers.get("cache-control")!, /immutable/, "versioned: cached for good");
  }
  const stale = await f.call("GET", "/ui/assets/app.js?v=old");
  assert.equal(stale.headers.get("cache-control"), "no-cache");
  const slash = await f.call("GET", "/ui/");
  assert.equal(slash.status, 308);
  assert.equal(slash.headers.get("location"), "../ui");
  assert.ok(ASSETS.get("uPlot.iife.min.js")!.text.includes("uPlot"));
});

const YAML = `
http_server:
  forwards:
    - name: main
      port: 3000
      default_group: g
      client_auth: optional
      ratelimit: { per_second: 1, burst: 1 }
      trusted_proxies: []
  admin: { port: 9000 }
upstreams:
  - name: a
    url: "http://user:pw-secret@a.test/v1?api-key=qs-secret"
    auth: { type: bearer, token: sk-secret }
    breaker: { threshold: 0.5, cooldown: 10 }
  - { name: b, url: "http://b.test" }
upstream_groups:
  - name: g
    upstreams: [{ name: a, weight: 3 }, { name: b }]
clients:
  - { name: team-a, key: sk-client-key }
`;

function gatewayWith(reply: (url: string) => Response) {
  const loaded = loadConfig(YAML);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const clock = new ManualClock(1_700_000_000_000);
  const transport: Transport = {
    send: (req) => Promise.resolve(reply(req.url)),
    close() {},
  };
  const gateway = new Gateway({ config: loaded.config, transports: () => transport, clock });
  const app = createAdminApp({ gateway, ready: () => true });
  const stats = async () => {
    const r = await app.request("/api/v1/stats", {}, { remoteAddr: "127.0.0.1" });
    assert.equal(r.status, 200);
    const text = await r.text();
    return { text, data: JSON.parse(text).data };
  };
  return { gateway, clock, stats };
}

async function send(gateway: Gateway, ip: string, key?: string): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await gateway.handle(
    "main",
    new Request("http://proxy.test/v1/chat/completions", {
      method: "POST",
      headers,
      body: JSON.stringify({ model: "gpt-x", messages: [] }),
    }),
    { remoteAddr: ip },
  );
  await res.text();
  return res.status;
}

Deno.test("stats: traffic, tokens, clients, breaker with time to half-open, secrets masked", async () => {
  let failing = false;
  const { gateway, clock, stats } = gatewayWith((url) =>
    failing && url.startsWith("http://a.test")
      ? new Response("down", { status: 500 })
      : Response.json({ model: "gpt-x", usage: { prompt_tokens: 7, completion_tokens: 3 } })
  );
  // Distinct client IPs: the per-IP rate limit (1/s) lets each first request through.
  let ip = 0;
  assert.equal(await send(gateway, `10.0.0.${++ip}`, "sk-client-key"), 200);
  assert.equal(await send(gateway, `10.0.0.${++ip}`), 200);
  assert.equal(await send(gateway, "10.0.0.1"), 429, "rate limited");
  failing = true;
  for (let i = 0; i < 12; i++) await send(gateway, `10.0.1.${++ip}`);

  let { text, data } = await stats();
  for (const secret of [...SECRETS, "pw-secret", "qs-secret", "sk-secret", "sk-client-key"]) {
    assert.ok(!text.includes(secret), `no ${secret} in the answer`);
  }
  const fwd = data.history.forwards[0];
  assert.equal(fwd.name, "main");
  assert.equal(fwd.total.requests, 15);
  assert.equal(fwd.total.rate_limited, 1);
  assert.ok(fwd.total.errors >= 5, `errors: ${fwd.total.errors}`);
  assert.equal(fwd.requests.at(-1), 15);
  const model = data.history.models.find((m: { name: string }) => m.name === "gpt-x");
  assert.ok(model.last_minute.input >= 14 && model.last_minute.output >= 6);
  const clients = new Map(
    data.history.clients.map((c: { name: string }) => [c.name, c]),
  ) as Map<string, { requests_last_minute: number }>;
  assert.equal(clients.get("team-a")!.requests_last_minute, 1);
  assert.ok(clients.get("anonymous")!.requests_last_minute >= 2);

  const members = data.groups[0].members;
  const a = members.find((m: { upstream: string }) => m.upstream === "a");
  assert.equal(a.weight, 3);
  assert.equal(a.url, "http://user:***@a.test/v1?api-key=***");
  assert.equal(a.breaker, "open");
  assert.equal(a.cooldown_s, 10);
  assert.equal(a.half_open_in_s, 10);
  assert.ok(a.errors.status_5xx >= 5);
  assert.deepEqual(Object.keys(a.errors).sort(), [
    "circuit_open",
    "status_5xx",
    "timeout",
    "unreachable",
  ]);
  assert.equal(members.find((m: { upstream: string }) => m.upstream === "b").breaker, "none");

  clock.advance(4_000);
  ({ data } = await stats());
  assert.equal(data.groups[0].members[0].half_open_in_s, 6, "counts down");
  clock.advance(6_500);
  ({ data } = await stats());
  assert.equal(data.groups[0].members[0].breaker, "half_open");
  assert.equal(data.groups[0].members[0].half_open_in_s, null);

  // The configuration at a glance.
  assert.deepEqual(data.config.forwards[0].ratelimit, { per_second: 1, burst: 1 });
  assert.equal(data.config.forwards[0].client_auth, "optional");
  assert.deepEqual(data.config.groups[0].members, [{ name: "a", weight: 3 }, {
    name: "b",
    weight: 1,
  }]);
  assert.equal(data.config.upstreams[0].auth, "bearer");
  assert.deepEqual(data.config.clients[0], {
    name: "team-a",
    groups: null,
    models: null,
    limits: {},
  });
});

Deno.test("stats: reading the metrics creates no series", async () => {
  const { gateway, stats } = gatewayWith(() => new Response("ok"));
  const before = gateway.metrics.encode();
  await stats();
  assert.equal(gateway.metrics.encode(), before);
});

Deno.test("samplesOf: label values unescaped; bucketCounts: per bucket, summed per key", () => {
  const c = new Counter({ name: "t_total", help: "T.", labelNames: ["a", "b"] as const });
  c.labels('x"y\\z\nw', "2").inc(3);
  c.labels("p", "q").inc();
  assert.deepEqual(samplesOf(c), [
    { suffix: "", labels: { a: 'x"y\\z\nw', b: "2" }, value: 3 },
    { suffix: "", labels: { a: "p", b: "q" }, value: 1 },
  ]);
  const h = new Histogram({
    name: "d_seconds",
    help: "D.",
    labelNames: ["g", "m"] as const,
    buckets: [1, 2],
  });
  h.labels("x", "m1").observe(0.5);
  h.labels("x", "m2").observe(1.5);
  h.labels("x", "m2").observe(9);
  h.labels("y", "m1").observe(1.5);
  const counts = bucketCounts(samplesOf(h), (l) => l.g);
  assert.deepEqual(counts.get("x"), [1, 1, 1]);
  assert.deepEqual(counts.get("y"), [0, 1, 0]);
});
