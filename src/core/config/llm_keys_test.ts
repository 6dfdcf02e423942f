/** The LLM-aware keys (SPEC §10): model_routing, model_map, hash strategy, stream_usage. */
import assert from "node:assert/strict";
import { loadConfig } from "./mod.ts";
import { report } from "./test_helpers.ts";

const GOOD = `
http_server:
  forwards:
    - name: f
      default_group: g
      model_routing:
        - { model: "gpt-4o*", target_group: g }
        - { model: "claude-*", target_group: h }
upstreams:
  - name: u
    url: http://u.test
    model_map:
      "gpt-4o-mini": "meta-llama/Llama-3.1-8B-Instruct"
      "*": "meta-llama/Llama-3.1-70B-Instruct"
upstream_groups:
  - name: g
    upstreams: [{ name: u }]
    balance: { strategy: hash, hash_key: "header:X-Session-Id" }
    http_client: { stream_usage: true }
  - name: h
    upstreams: [{ name: u }]
    balance: { strategy: least_requests }
`;

Deno.test("model_routing, model_map, hash_key and stream_usage load into the snapshot", () => {
  const r = loadConfig(GOOD);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const c = r.config;
  assert.deepEqual(c.http_server.forwards[0]!.model_routing, [
    { model: "gpt-4o*", target_group: "g" },
    { model: "claude-*", target_group: "h" },
  ]);
  assert.deepEqual(Object.entries(c.upstreams[0]!.model_map!), [
    ["gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct"],
    ["*", "meta-llama/Llama-3.1-70B-Instruct"],
  ]);
  // The header name is kept in its normalised (lower-case) spelling.
  assert.deepEqual(c.upstream_groups[0]!.balance, {
    strategy: "hash",
    hash_key: "header:x-session-id",
  });
  assert.equal(c.upstream_groups[0]!.http_client.stream_usage, true);
  assert.equal(c.upstream_groups[1]!.http_client.stream_usage, false);
  assert.equal(c.upstream_groups[1]!.balance.strategy, "least_requests");
});

Deno.test("bad globs, unknown groups, repeated globs and a hash without key: file:line:col", () => {
  const text = `
http_server:
  forwards:
    - name: f
      default_group: g
      model_routing:
        - { model: "", target_group: g }
        - { model: "gpt-*", target_group: nope }
        - { model: "gpt-*", target_group: g }
upstreams:
  - name: u
    url: http://u.test
    model_map: { "a\\u0001": x, "b": 5 }
upstream_groups:
  - name: g
    upstreams: [{ name: u }]
    balance: { strategy: hash }
  - name: h
    upstreams: [{ name: u }]
    balance: { strategy: roundrobin, hash_key: "cookie:x" }
`;
  const lines = report("c.yaml", loadConfig(text));
  const has = (re: RegExp) =>
    assert.ok(lines.some((l) => re.test(l)), `${re}\n${lines.join("\n")}`);
  has(/^c\.yaml:7:20: http_server\.forwards\[0\]\.model_routing\[0\]\.model: .*model glob/);
  has(
    /^c\.yaml:8:43: http_server\.forwards\[0\]\.model_routing\[1\]\.target_group: unknown group "nope"/,
  );
  has(
    /^c\.yaml:9:20: http_server\.forwards\[0\]\.model_routing\[2\]\.model: duplicate model rule "gpt-\*"/,
  );
  has(/^c\.yaml:13:29: upstreams\[0\]\.model_map\.a\\u0001: invalid model glob .*control/);
  has(/^c\.yaml:\d+:\d+: upstreams\[0\]\.model_map\.b: must be a model name/);
  has(/^c\.yaml:17:14: upstream_groups\[0\]\.balance: required key "hash_key" is missing/);
  has(
    /^c\.yaml:\d+:\d+: upstream_groups\[1\]\.balance\.hash_key: must be "header:<name>", "client_ip" or "body:<field>"/,
  );
});
