/**
 * The LLM-aware keys (docs/behaviour.md#llm-aware-traffic): model_routing, model_map, hash
 * strategy, stream_usage.
 */
import assert from "node:assert/strict";
import { loadConfig } from "./mod.ts";
import { report } from "./_test_helpers.ts";

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

Deno.test("clients: key or digest (exactly one), unique names and keys, known groups", () => {
  const text = `
http_server:
  forwards: [{ name: f, default_group: g, client_auth: required }]
upstreams: [{ name: u, url: http://u.test }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
clients:
  - { name: a, key: sk-a, groups: [g, nope], models: ["gpt-*"], limits: { tokens_per_day: 100 } }
  - { name: b, key_sha256: "${"0".repeat(63)}" }
  - { name: c }
  - { name: a, key: sk-a }
  - { name: d, key: "sk d" }
  - { name: e, key: sk-e, key_sha256: "${"a".repeat(64)}" }
`;
  const lines = report("c.yaml", loadConfig(text));
  const has = (re: RegExp) =>
    assert.ok(lines.some((l) => re.test(l)), `${re}\n${lines.join("\n")}`);
  has(/^c\.yaml:7:39: clients\[0\]\.groups\[1\]: unknown group "nope"/);
  has(/clients\[1\]\.key_sha256: must be the lower- or upper-case hex SHA-256/);
  has(/clients\[2\]: required key "key" or "key_sha256" is missing/);
  has(/clients\[3\]\.name: duplicate client name "a"/);
  has(/clients\[3\]\.key: this key is already the key of client "a"/);
  has(
    /clients\[4\]\.key: must be a non-empty key of printable ASCII without spaces, got a value with a space/,
  );
  has(/clients\[5\]\.key_sha256: give either "key" or "key_sha256", not both/);
  assert.ok(lines.every((l) => !l.includes("sk-a")), "the key never appears in a message");
});

Deno.test("clients: the snapshot carries the key's digest; forwards default to client_auth off", () => {
  const r = loadConfig(`
http_server:
  forwards: [{ name: f, default_group: g }]
upstreams: [{ name: u, url: http://u.test }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
clients:
  - { name: a, key: abc }
  - { name: b, key_sha256: "${"AB".repeat(32)}", limits: { requests_per_minute: 5 } }
`);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.config.http_server.forwards[0]!.client_auth, "off");
  assert.deepEqual(r.config.clients, [
    {
      name: "a",
      key: "abc",
      key_sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      limits: {},
    },
    { name: "b", key_sha256: "ab".repeat(32), limits: { requests_per_minute: 5 } },
  ]);
});
