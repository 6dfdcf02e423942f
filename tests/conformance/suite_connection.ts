/**
 * Conformance cases for what a client can do to a connection (docs/behaviour.md#robustness): slow
 * heads and idle keep-alive connections are closed after the forward's `timeout.connect`
 * (also when a reload changed it), and a 408 closes its connection with nothing after.
 */
import assert from "node:assert/strict";
import { type DaemonCommand, freePort, startDaemon, startMock } from "./harness.ts";

function yaml(port: number, admin: number, upstream: string, connect: number): string {
  return `
http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${port}, default_group: g, timeout: { connect: ${connect} } }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: u, url: "${upstream}" }
upstream_groups:
  - { name: g, upstreams: [{ name: u }] }
`;
}

/** What a raw connection received until it was closed or `ms` passed. */
async function listen(
  conn: Deno.Conn,
  ms: number,
): Promise<{ text: string; closedAfterMs: number }> {
  const t0 = performance.now();
  const buf = new Uint8Array(16 * 1024);
  const dec = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
  try {
    for (;;) {
      const n = await Promise.race([conn.read(buf).catch(() => null), late]);
      if (n === "late") return { text, closedAfterMs: Number.POSITIVE_INFINITY };
      if (n === null) return { text, closedAfterMs: performance.now() - t0 };
      text += dec.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

async function connect(port: number, head: string): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (head) await conn.write(new TextEncoder().encode(head));
  return conn;
}

/** Registers the connection cases for a daemon command. */
export function connectionSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: slow heads, idle keep-alive and 408 close the connection`, async (t) => {
    const mock = startMock({ name: "u" });
    const port = freePort();
    const admin = freePort();
    const d = await startDaemon(cmd, yaml(port, admin, mock.url, 10), admin);
    try {
      await t.step(
        "SIGHUP lowers timeout.connect: a slow head is closed after the new one",
        async () => {
          await Deno.writeTextFile(d.configPath, yaml(port, admin, mock.url, 1));
          d.signal("SIGHUP");
          await d.waitFor((l) => l.includes("configuration reloaded"));
          const conn = await connect(port, "GET /v1/mod");
          try {
            const got = await listen(conn, 6000);
            assert.ok(got.closedAfterMs < 4000, `closed after ${got.closedAfterMs} ms`);
            assert.doesNotMatch(got.text, /200 OK/);
          } finally {
            conn.close();
          }
        },
      );

      await t.step("an idle keep-alive connection is closed after timeout.connect", async () => {
        const conn = await connect(port, "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
        try {
          const got = await listen(conn, 6000);
          assert.match(got.text, /^HTTP\/1\.1 200/);
          assert.ok(got.closedAfterMs < 4000, `closed after ${got.closedAfterMs} ms`);
        } finally {
          conn.close();
        }
      });

      await t.step("a slow body gets one 408 with Connection: close, then the close", async () => {
        const conn = await connect(
          port,
          "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
        );
        try {
          const got = await listen(conn, 6000);
          assert.match(got.text, /^HTTP\/1\.1 408/);
          assert.match(got.text, /connection: close/i);
          assert.equal(got.text.match(/HTTP\/1\.1 /g)?.length, 1, got.text);
          assert.ok(got.closedAfterMs < 4000, `closed after ${got.closedAfterMs} ms`);
        } finally {
          conn.close();
        }
      });

      await t.step("the daemon still serves", async () => {
        const r = await fetch(`http://127.0.0.1:${port}/v1/models`, {
          signal: AbortSignal.timeout(5000),
        });
        assert.equal(r.status, 200);
        await r.body?.cancel();
      });
    } finally {
      await d.stop();
      await mock.close();
    }
  });
}
