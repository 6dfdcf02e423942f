/**
 * `deno task demo` shows what the README promises: its opening traffic gets only 200s
 * while flaky's 503s are retried on another member, and flaky's breaker opens.
 */
import assert from "node:assert/strict";
import { Daemon, DENO_DAEMON, freePort } from "./conformance/harness.ts";

const DEMO = new URL("../src/adapters/deno/demo.ts", import.meta.url).pathname;

Deno.test("demo: opening traffic all 200, flaky's 503s retried, its breaker open", async () => {
  const [port, admin] = [await freePort(), await freePort()];
  const demo = new Daemon(
    // As the daemon runs (`deno task start`'s permissions), with the demo's entry point.
    { name: "demo", argv: [...DENO_DAEMON.argv.slice(0, -1), DEMO] },
    "<demo>",
    [],
    { LLMPROXY_DEMO_PORT: String(port), LLMPROXY_DEMO_ADMIN_PORT: String(admin) },
  );
  try {
    const line = await demo.waitFor((l) => l.startsWith("opening traffic"), 60_000);
    assert.match(line, /^opening traffic: 36 × 200\. /, line);
    const [, failures, attempts] = line.match(/flaky answered (\d+) of its (\d+) attempts/) ?? [];
    assert.ok(Number(failures) > 0 && Number(attempts) >= Number(failures), line);
    const retries = Number(line.match(/llmproxy_upstream_retries_total (\d+)/)?.[1]);
    assert.ok(retries >= Number(failures), line);
    assert.match(line, /flaky's circuit breaker: open/, line);
    // The banner's commands are in the output (the README quotes them).
    assert.ok(demo.lines.some((l) => l.includes(`http://127.0.0.1:${port}/v1/chat/completions`)));
  } finally {
    await demo.stop();
  }
});
