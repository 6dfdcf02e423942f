/**
 * The `state` block (docs/behaviour.md#shared-state): store, redis url/prefix/timeout, secrets,
 * Workers.
 */
import assert from "node:assert/strict";
import { loadConfig, redactRedisSecrets, redisUrlForLogs, validateConfig } from "./mod.ts";
import { redisUrlProblem } from "./redis_url.ts";
import { redactSecrets, secretValues } from "../admin/redact.ts";
import { report } from "./_test_helpers.ts";

const BASE = `
http_server:
  forwards: [{ name: f, default_group: g }]
upstreams: [{ name: u, url: "http://127.0.0.1:1" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;

const PASSWORD = "s3cr3t-Pa55";

Deno.test("state: absent means store memory", () => {
  const r = loadConfig(BASE);
  assert.ok(r.ok);
  assert.deepEqual(r.config.state, { store: "memory" });
});

Deno.test("state: redis with defaults, the URL from the environment", () => {
  const r = loadConfig(`${BASE}state:\n  store: redis\n  redis:\n    url: \${REDIS_URL}\n`, {
    env: (n) => n === "REDIS_URL" ? `redis://app:${PASSWORD}@cache.internal:6380/2` : undefined,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.config.state, {
    store: "redis",
    redis: {
      url: `redis://app:${PASSWORD}@cache.internal:6380/2`,
      prefix: "llmproxy:",
      timeout: 250,
    },
  });
  assert.ok(Object.isFrozen(r.config.state.redis));
});

Deno.test("state: prefix, timeout (a string from ${VAR} is a number) and rediss://", () => {
  const r = loadConfig(
    `${BASE}state:\n  store: redis\n  redis: { url: "rediss://cache:6379", prefix: "fleet-a:", ` +
      'timeout: "${T}" }\n',
    { env: (n) => n === "T" ? "100" : undefined },
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.config.state.redis, {
    url: "rediss://cache:6379",
    prefix: "fleet-a:",
    timeout: 100,
  });
});

Deno.test("state: store memory keeps a redis block as written (to switch back later)", () => {
  const r = loadConfig(`${BASE}state:\n  store: memory\n  redis: { url: "redis://c" }\n`);
  assert.ok(r.ok);
  assert.equal(r.config.state.store, "memory");
  assert.equal(r.config.state.redis?.url, "redis://c");
});

Deno.test("state: errors point at file:line:col and never quote the URL", () => {
  const yaml = `${BASE}state:
  store: redsi
  redis:
    url: "http://app:${PASSWORD}@cache:6379"
    prefix: ""
    timeout: 0
`;
  const lines = report("c.yaml", loadConfig(yaml));
  const text = lines.join("\n");
  assert.ok(!text.includes(PASSWORD), text);
  assert.ok(!text.includes("cache"), text);
  assert.ok(
    lines.some((l) =>
      l.startsWith("c.yaml:7:10: state.store: must be one of memory, redis") &&
      l.includes('did you mean "redis"')
    ),
    text,
  );
  assert.ok(
    lines.some((l) =>
      l.startsWith("c.yaml:9:10: state.redis.url: must be a redis:// or rediss:// URL") &&
      l.endsWith('got a value with the scheme "http:"')
    ),
    text,
  );
  assert.ok(lines.some((l) => l.startsWith("c.yaml:10:13: state.redis.prefix:")), text);
  assert.ok(
    lines.some((l) =>
      l.startsWith("c.yaml:11:14: state.redis.timeout: must be an integer from 1 to 10000")
    ),
    text,
  );
});

Deno.test("state: store redis needs the redis block and its url", () => {
  const none = report("c.yaml", loadConfig(`${BASE}state: { store: redis }\n`));
  assert.equal(none.length, 1, none.join("\n"));
  assert.match(none[0]!, /^c\.yaml:6:8: state: required key "redis" is missing/);
  const noUrl = report("c.yaml", loadConfig(`${BASE}state: { store: redis, redis: {} }\n`));
  assert.equal(noUrl.length, 1, noUrl.join("\n"));
  assert.match(noUrl[0]!, /state\.redis: required key "url" is missing/);
});

Deno.test("state: what is wrong with a URL is named without the URL", () => {
  const cases: [string, RegExp][] = [
    ["cache:6379", /scheme "cache:"/],
    ["redis:cache", /no "\/\/"/],
    ["redis://", /no host|malformed/],
    [`redis://:${PASSWORD}@cache/x`, /not a database number/],
    [`redis://:${PASSWORD}@cache/0?x=1`, /query or fragment/],
    [`redis://:${PASSWORD}@cache/0\n`, /line break/],
    [`redis://:${PASSWORD} @cache`, /a blank/],
  ];
  for (const [url, why] of cases) {
    const problem = redisUrlProblem(url);
    assert.ok(problem !== undefined, url);
    assert.match(problem, why, url);
    assert.ok(!problem.includes(PASSWORD));
  }
  for (const good of ["redis://cache", "rediss://u:p@cache:1/15", "redis://[::1]:6379/"]) {
    assert.equal(redisUrlProblem(good), undefined, good);
  }
  const r = validateConfig({
    http_server: { forwards: [{ name: "f", default_group: "g" }] },
    upstreams: [{ name: "u", url: "http://127.0.0.1:1" }],
    upstream_groups: [{ name: "g", upstreams: [{ name: "u" }] }],
    state: { store: "redis", redis: { url: 6379 } },
  });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(
      r.errors[0]!.message,
      /must be a non-empty string, got a number; put it in quotes/,
    );
  }
});

Deno.test("state: the Workers option refuses store redis with a clear error", () => {
  const yaml = `${BASE}state:\n  store: redis\n  redis: { url: "redis://:${PASSWORD}@c" }\n`;
  assert.equal(loadConfig(yaml).ok, true);
  const lines = report("LLMPROXY_CONFIG", loadConfig(yaml, { redisStore: false }));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0]!,
    /^LLMPROXY_CONFIG:7:10: state\.store: store "redis" is not available on Cloudflare Workers/,
  );
  assert.ok(!lines[0]!.includes(PASSWORD));
  // store: memory (with or without a redis block) is fine there.
  const memory = `${BASE}state:\n  store: memory\n  redis: { url: "redis://c" }\n`;
  assert.equal(loadConfig(memory, { redisStore: false }).ok, true);
});

Deno.test("state: the URL for logs has no credentials; messages lose them", () => {
  assert.equal(redisUrlForLogs(`redis://app:${PASSWORD}@cache:6380/2`), "redis://***@cache:6380/2");
  assert.equal(redisUrlForLogs("rediss://cache"), "rediss://cache");
  assert.equal(redisUrlForLogs(`redis://:${PASSWORD}@cache`), "redis://***@cache");
  const url = `redis://app:${encodeURIComponent("p@ss/w")}@cache:6379`;
  const msg = redactRedisSecrets(`WRONGPASS for app with p@ss/w at ${url}`, url);
  assert.ok(!msg.includes("p@ss/w") && !msg.includes("p%40ss"), msg);
});

Deno.test("state: the admin API's redaction knows the Redis password as a secret", () => {
  const r = loadConfig(
    `${BASE}state:\n  store: redis\n  redis: { url: "redis://app:${PASSWORD}@c:1" }\n`,
  );
  assert.ok(r.ok);
  assert.ok(secretValues(r.config).includes(PASSWORD));
  assert.equal(redactSecrets(`x ${PASSWORD} y`, secretValues(r.config)), "x *** y");
});
