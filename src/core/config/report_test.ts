import assert from "node:assert/strict";
import { loadConfig } from "./load.ts";
import { fakeCompileRoute, report } from "./_test_helpers.ts";

Deno.test("a file with several mistakes gets one report naming all of them", async () => {
  const text = await Deno.readTextFile(new URL("./testdata/broken.yaml", import.meta.url));
  const result = loadConfig(text, { file: "broken.yaml", compileRoute: fakeCompileRoute });
  assert.equal(
    report("broken.yaml", result).join("\n"),
    [
      "broken.yaml:5:13: http_server.forwards[0].port: must be an integer from 1 to 65535, got 70000",
      'broken.yaml:10:17: http_server.forwards[0].routing[1].path: duplicate route "/v1/models/:name": already routed by http_server.forwards[0].routing[0] "/v1/models/:id" (same shape); each path may appear once per forward',
      'broken.yaml:21:14: upstreams[0].auth.token: environment variable "OPENAI_KEY" is not set and has no default (write ${OPENAI_KEY:-value} to give one)',
      'broken.yaml:22:5: upstreams[1]: required key "url" is missing',
      'broken.yaml:29:15: upstream_groups[0].upstreams[1].name: unknown upstream "anthropic"; defined upstreams: openai, backup',
      'broken.yaml:31:17: upstream_groups[0].balance.strategy: must be one of roundrobin, weighted_roundrobin, random, response_aware, failover, least_requests, hash, got "round_robin"; did you mean "roundrobin"?',
      'broken.yaml:13:9: http_server.forwards[0].ratelimit.per_secnod: warning: unknown key "per_secnod" is ignored; did you mean "per_second"?',
    ].join("\n"),
  );
});
