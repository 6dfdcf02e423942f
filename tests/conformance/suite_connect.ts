/**
 * The group connect timeout against a local listener whose connects never complete.
 */
import assert from "node:assert/strict";
import {
  type DaemonCommand,
  delay,
  freePort,
  postChat,
  startDaemon,
  startMock,
} from "./harness.ts";

/**
 * A TCP listener whose connects never complete: it never accepts, and its accept
 * queue is filled by connections held here. On Linux, once the queue is full the
 * kernel drops further SYNs, so a client's connect hangs (SYN retransmits) instead of
 * being refused; the proxy can only give up through its connect timeout.
 */
async function blackhole(): Promise<{ url: string; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  for (;;) {
    const attempt = Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await Promise.race([attempt, delay(300).then(() => null)]);
    if (conn === null) {
      // This connect hangs: the queue is full. It fails once the listener closes.
      attempt.then((c) => c.close(), () => {});
      break;
    }
    held.push(conn);
    if (held.length > 20_000) throw new Error("the accept queue never filled");
  }
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const c of held) c.close();
      listener.close();
    },
  };
}

/**
 * Registers the connect-timeout case. `boundMs` is how long the runtime may take to
 * give up: Node's undici bounds the connect itself (≈ connect), Deno probes once the
 * headers are `connect` late (≤ 2 × connect), as docs/runtimes.md#what-each-timeout-means-on-deno and #what-each-timeout-means-on-node say.
 */
export function connectSuite(cmd: DaemonCommand, boundMs: number): void {
  Deno.test({
    name:
      `conformance[${cmd.name}]: the group's timeout.connect bounds a connect that never completes`,
    // The probe connect that proved the queue full is still retrying its SYN at the end.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const hole = await blackhole();
      const good = startMock({ name: "good" });
      const port = freePort();
      const admin = freePort();
      const d = await startDaemon(
        cmd,
        `http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: hole
      routing:
        - { path: /failover/*, target_group: hole_then_good }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: hole, url: "${hole.url}" }
  - { name: good, url: "${good.url}" }
upstream_groups:
  - name: hole
    upstreams: [{ name: hole }]
    http_client: { timeout: { connect: 1 } }
  - name: hole_then_good
    upstreams: [{ name: hole }, { name: good }]
    balance: { strategy: failover }
    http_client: { timeout: { connect: 1 }, retry: { attempts: 1, initial: 100 } }
`,
        admin,
      );
      const base = `http://127.0.0.1:${port}`;
      try {
        await t.step(
          "504 upstream_timeout (stream: true has no other deadline)",
          async () => {
            const t0 = performance.now();
            const r = await postChat(base, { stream: true });
            const took = performance.now() - t0;
            assert.equal(r.status, 504);
            assert.equal(r.headers.get("x-llmproxy-error"), "upstream_timeout");
            assert.equal((await r.json()).error.code, "upstream_timeout");
            assert.ok(took >= 900 && took < boundMs, `took ${took} ms`);
          },
        );

        await t.step(
          "a retrying group fails over to the next member after the connect timeout",
          async () => {
            const t0 = performance.now();
            const r = await postChat(base, { path: "/failover/v1/chat/completions" });
            const took = performance.now() - t0;
            assert.equal(r.status, 200);
            assert.equal(r.headers.get("x-mock-name"), "good");
            await r.body?.cancel();
            assert.ok(took >= 900 && took < boundMs + 500, `took ${took} ms`);
          },
        );

        await t.step("the timeout is counted as an upstream timeout", async () => {
          const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
          assert.match(
            metrics,
            /llmproxy_upstream_errors_total\{error="timeout",group="hole",upstream="hole"\} 1/,
          );
        });
      } finally {
        await d.stop();
        hole.close();
        await good.close();
      }
    },
  });
}
