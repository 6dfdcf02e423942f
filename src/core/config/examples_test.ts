import assert from "node:assert/strict";
import { loadConfig } from "./mod.ts";
import { report } from "./_test_helpers.ts";

const examples = new URL("../../../examples/", import.meta.url);

async function load(url: URL, env: Record<string, string> = {}) {
  const text = await Deno.readTextFile(url);
  return loadConfig(text, { file: url.pathname, env: (name) => env[name] });
}

Deno.test("every example loads with no error and no warning", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(examples)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) names.push(entry.name);
  }
  assert.ok(names.length >= 4, `examples found: ${names.join(", ")}`);
  for (const name of names.sort()) {
    const result = await load(new URL(name, examples));
    assert.deepEqual(report(name, result), [], name);
    assert.ok(result.ok, name);
  }
});

Deno.test("examples/config.yaml takes its secrets and a port from the environment", async () => {
  const result = await load(new URL("config.yaml", examples), {
    OPENAI_API_KEY: "sk-test",
    INTERNAL_PORT: "4001",
  });
  assert.ok(result.ok);
  assert.deepEqual(result.config.upstreams[0]!.auth, { type: "bearer", token: "sk-test" });
  assert.equal(result.config.http_server.forwards[1]!.port, 4001);
  assert.ok(!("ratelimit" in result.config.http_server.forwards[1]!));
  assert.equal(result.config.upstream_groups[1]!.http_client.stream, true);
  assert.deepEqual(result.config.upstream_groups[2]!.http_client.proxy, {
    url: "http://proxy.internal:8080",
  });
  assert.ok(!("proxy" in result.config.upstream_groups[0]!.http_client));
});

Deno.test("examples/multi_tenant.yaml keeps the README's values", async () => {
  const result = await load(new URL("multi_tenant.yaml", examples));
  assert.ok(result.ok);
  const [a, b] = result.config.http_server.forwards;
  assert.deepEqual([a!.port, a!.ratelimit], [3001, { per_second: 50, burst: 100 }]);
  assert.deepEqual([b!.port, b!.ratelimit], [3002, { per_second: 20, burst: 40 }]);
  assert.equal(result.config.upstream_groups[1]!.balance.strategy, "failover");
});

Deno.test("the README's quick start, unchanged, has a YAML indentation error", async () => {
  const result = await load(new URL("./testdata/readme_quickstart.yaml", import.meta.url));
  assert.deepEqual(report("readme_quickstart.yaml", result), [
    "readme_quickstart.yaml:27:5: invalid YAML: All mapping items must start at the same column",
  ]);
});

Deno.test("the README's configuration guide, unchanged, routes to undefined groups", async () => {
  const result = await load(new URL("./testdata/readme_guide.yaml", import.meta.url));
  assert.deepEqual(report("readme_guide.yaml", result), [
    'readme_guide.yaml:17:31: http_server.forwards[0].routing[0].target_group: unknown group "specialized_llm_group"; defined groups: openai_llm_group',
    'readme_guide.yaml:20:31: http_server.forwards[0].routing[1].target_group: unknown group "user_history_group"; defined groups: openai_llm_group',
    'readme_guide.yaml:23:31: http_server.forwards[0].routing[2].target_group: unknown group "item_api_group"; defined groups: openai_llm_group',
  ]);
});
