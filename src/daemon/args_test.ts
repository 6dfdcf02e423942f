import assert from "node:assert/strict";
import { parseArgs, UsageError } from "./args.ts";

Deno.test("run flags and defaults", () => {
  assert.deepEqual(parseArgs([]), {
    kind: "run",
    config: "./config.yaml",
    test: false,
    debug: false,
    shutdownTimeout: 30,
  });
  assert.deepEqual(parseArgs(["-c", "x.yaml", "-t", "-d", "--shutdown-timeout=5"]), {
    kind: "run",
    config: "x.yaml",
    test: true,
    debug: true,
    shutdownTimeout: 5,
  });
  assert.equal(parseArgs(["-V"]).kind, "version");
  assert.equal(parseArgs(["--help"]).kind, "help");
});

Deno.test("bad usage throws UsageError with what was expected", () => {
  assert.throws(
    () => parseArgs(["--nope"]),
    (e) => e instanceof UsageError && /unknown option --nope/.test(e.message),
  );
  assert.throws(() => parseArgs(["-c"]), /needs a value/);
  assert.throws(() => parseArgs(["--shutdown-timeout", "0"]), /from 1 to 120, got "0"/);
  assert.throws(() => parseArgs(["--shutdown-timeout", "121"]), UsageError);
  assert.throws(() => parseArgs(["stray"]), /unexpected argument/);
});

Deno.test("mock flags", () => {
  const c = parseArgs([
    "mock",
    "--port",
    "0",
    "--name",
    "fast",
    "--chunks",
    "20",
    "--chunk-delay",
    "100",
  ]);
  assert.equal(c.kind, "mock");
  if (c.kind !== "mock") return;
  assert.equal(c.port, 0);
  assert.equal(c.mock.name, "fast");
  assert.equal(c.mock.chunks, 20);
  assert.equal(c.mock.chunkDelayMs, 100);
  assert.throws(() => parseArgs(["mock", "--error-rate", "2"]), UsageError);
});

Deno.test("mock: model, usage and stream-usage flags", () => {
  const cmd = parseArgs(["mock", "--model", "m1", "--no-usage", "--stream-usage=requested"]);
  assert.equal(cmd.kind, "mock");
  if (cmd.kind !== "mock") return;
  assert.equal(cmd.mock.model, "m1");
  assert.equal(cmd.mock.usage, false);
  assert.equal(cmd.mock.streamUsage, "requested");
  assert.throws(() => parseArgs(["mock", "--stream-usage", "never"]), /always or requested/);
  assert.throws(() => parseArgs(["mock", "--no-usage=1"]), /takes no value/);
});
