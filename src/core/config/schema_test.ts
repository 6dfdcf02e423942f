import assert from "node:assert/strict";
import {
  configSchema,
  forwardSchema,
  forwardSnapshotSchema,
  groupSchema,
  groupSnapshotSchema,
  routeRuleSchema,
  upstreamSchema,
  upstreamSnapshotSchema,
} from "./mod.ts";
import { loadConfig } from "./load.ts";
import { fakeCompileRoute } from "./_test_helpers.ts";

const TEXT = `
http_server:
  forwards:
    - name: f
      default_group: g
      routing: [{ path: /a, target_group: g }]
      ratelimit: { per_second: 5 }
      max_body_size: 1MiB
upstreams:
  - name: u
    url: https://api.example.com
    auth: { type: basic, username: a, password: b }
    headers: [{ op: remove, key: X-A }, { op: insert, key: X-B, value: c }]
    breaker: {}
upstream_groups:
  - name: g
    upstreams: [{ name: u, weight: 2 }]
    http_client: { stream_mode: false, retry: {}, proxy: { url: "http://p:1" } }
`;

Deno.test("snapshots parse with the snapshot schemas and are accepted back by the file schemas", () => {
  const result = loadConfig(TEXT, { compileRoute: fakeCompileRoute });
  assert.ok(result.ok);
  const { config } = result;
  const forward = config.http_server.forwards[0]!;
  const upstream = config.upstreams[0]!;
  const group = config.upstream_groups[0]!;

  assert.deepEqual(forwardSnapshotSchema.parse(forward), forward);
  assert.deepEqual(upstreamSnapshotSchema.parse(upstream), upstream);
  assert.deepEqual(groupSnapshotSchema.parse(group), group);

  // What a GET returns, a PUT may send back: the file schemas accept every snapshot.
  assert.ok(forwardSchema.safeParse(forward).success);
  assert.ok(upstreamSchema.safeParse(upstream).success);
  assert.ok(groupSchema.safeParse(group).success);
  assert.ok(routeRuleSchema.safeParse(forward.routing[0]).success);
  assert.ok(configSchema.safeParse(config).success);
});

Deno.test("the file schemas fill defaults for a request body", () => {
  const parsed = upstreamSchema.parse({ name: "n", url: "https://x.example" });
  assert.deepEqual(parsed, {
    name: "n",
    url: "https://x.example",
    auth: { type: "none" },
    headers: [],
    weight: 1,
  });
  const bad = groupSchema.safeParse({ name: "g", upstreams: [] });
  assert.ok(!bad.success);
  assert.equal(
    bad.error.issues[0]!.message,
    "must be a list of at least one upstream, got an empty list",
  );
});
