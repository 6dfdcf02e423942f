import assert from "node:assert/strict";
import { describeValue, formatDiagnostic, formatPath } from "./diagnostics.ts";

Deno.test("formatDiagnostic: file:line:column: path: message", () => {
  const d = {
    severity: "error" as const,
    path: "http_server.forwards[0].port",
    line: 4,
    column: 13,
    message: "must be an integer from 1 to 65535, got 70000",
  };
  assert.equal(
    formatDiagnostic("config.yaml", d),
    "config.yaml:4:13: http_server.forwards[0].port: must be an integer from 1 to 65535, got 70000",
  );
  assert.equal(
    formatDiagnostic("config.yaml", { ...d, severity: "warning", message: "x" }),
    "config.yaml:4:13: http_server.forwards[0].port: warning: x",
  );
  assert.equal(
    formatDiagnostic("admin", { ...d, line: 0, column: 0 }),
    "admin: http_server.forwards[0].port: must be an integer from 1 to 65535, got 70000",
  );
  assert.equal(
    formatDiagnostic("c.yaml", { ...d, path: "", message: "invalid YAML: x" }),
    "c.yaml:4:13: invalid YAML: x",
  );
});

Deno.test("formatPath and describeValue", () => {
  assert.equal(
    formatPath(["upstream_groups", 1, "upstreams", 0, "name"]),
    "upstream_groups[1].upstreams[0].name",
  );
  assert.equal(formatPath([]), "");
  assert.equal(describeValue("x"), '"x"');
  assert.equal(describeValue(""), "an empty string");
  assert.equal(describeValue(null), "an empty value");
  assert.equal(describeValue([]), "an empty list");
  assert.equal(describeValue({}), "a mapping");
  assert.equal(describeValue("http://u:secret@proxy:8080"), '"http://u:***@proxy:8080"');
  assert.equal(describeValue("k".repeat(100)), `"${"k".repeat(60)}…"`);
});
