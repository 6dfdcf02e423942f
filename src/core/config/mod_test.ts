import assert from "node:assert/strict";
import { loadConfig, validateConfig } from "./mod.ts";
import { baseConfig, report, setAt } from "./_test_helpers.ts";

// mod.ts wires the routing module's compiler in; these run against the real one.

Deno.test("mod: route patterns are compiled by the routing module", () => {
  const c = baseConfig();
  setAt(c, "http_server.forwards[0].routing", [
    { path: "/x/:a", target_group: "g" },
    { path: "/x/{b}", target_group: "g" },
    { path: "no-slash", target_group: "g" },
    { path: "/items/{id:[0-9]+}", target_group: "g" },
  ]);
  const lines = report("admin", validateConfig(c));
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.equal(
    lines[0],
    'admin: http_server.forwards[0].routing[1].path: duplicate route "/x/{b}": already routed by http_server.forwards[0].routing[0] "/x/:a" (same shape); each path may appear once per forward',
  );
  assert.match(
    lines[1]!,
    /^admin: http_server\.forwards\[0\]\.routing\[2\]\.path: invalid route pattern "no-slash": /,
  );
});

Deno.test("mod: an explicit compileRoute replaces the default", () => {
  const text = `
http_server:
  forwards: [{ name: f, default_group: g, routing: [{ path: anything, target_group: g }] }]
upstreams: [{ name: u, url: "https://a.example" }]
upstream_groups: [{ name: g, upstreams: [{ name: u }] }]
`;
  assert.ok(!loadConfig(text).ok);
  assert.ok(loadConfig(text, { compileRoute: (path) => ({ shapeKey: path }) }).ok);
});
