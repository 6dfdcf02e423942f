import assert from "node:assert/strict";
import { JsonLogger } from "./logger.ts";

Deno.test("logger: one JSON object per line, fields after ts, level and msg", () => {
  const lines: string[] = [];
  const log = new JsonLogger({ write: (l) => lines.push(l) });
  log.log("info", "access", { forward: "f", status: 200, model: null, skipped: undefined });
  log.log("warn", 'quote " and \n newline');
  log.log("error", "empty", {});
  log.log("debug", "below the level", { x: 1 });
  assert.equal(lines.length, 3);
  const [a, b, c] = lines.map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(a), ["ts", "level", "msg", "forward", "status", "model"]);
  assert.equal(a.level, "info");
  assert.equal(a.msg, "access");
  assert.ok(!Number.isNaN(Date.parse(a.ts)));
  assert.equal(b.msg, 'quote " and \n newline');
  assert.deepEqual(Object.keys(c), ["ts", "level", "msg"]);
  for (const l of lines) assert.ok(!l.includes("\n"), "one line each");
});
