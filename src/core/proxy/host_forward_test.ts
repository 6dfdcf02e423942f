import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { ForwardsByHost } from "./host_forward.ts";

const YAML = `
http_server:
  forwards:
    - { name: a, port: 3000, default_group: g }
    - { name: b, port: 3000, default_group: g, hosts: [api.example.com, LLM.example.com] }
upstreams: [{ name: u, url: "http://127.0.0.1:9" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;

function parseConfig(text: string): Config {
  const r = loadConfig(text, { checkListeners: false });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.config;
}

Deno.test("host to forward: a forward's hosts, case-insensitive; else the first", () => {
  const config = parseConfig(YAML);
  const hosts = new ForwardsByHost();
  assert.deepEqual(hosts.forwardFor(config, "llm.example.com"), {
    forward: "b",
    preferredMissing: false,
  });
  assert.equal(hosts.forwardFor(config, "API.example.com").forward, "b");
  assert.equal(hosts.forwardFor(config, "other.example.com").forward, "a");
});

Deno.test("host to forward: a preferred forward answers unclaimed hosts; a missing one is told", () => {
  const config = parseConfig(YAML);
  assert.equal(new ForwardsByHost("b").forwardFor(config, "x.test").forward, "b");
  const missing = new ForwardsByHost("nope").forwardFor(config, "x.test");
  assert.deepEqual(missing, { forward: "a", preferredMissing: true });
});

Deno.test("host to forward: follows a new configuration object", () => {
  const hosts = new ForwardsByHost();
  assert.equal(hosts.forwardFor(parseConfig(YAML), "api.example.com").forward, "b");
  const moved = parseConfig(YAML.replace("hosts: [api.example.com, LLM.example.com]", "hosts: []"));
  assert.equal(hosts.forwardFor(moved, "api.example.com").forward, "a");
});
