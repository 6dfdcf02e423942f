/**
 * The conformance suite against the Node daemon: the `dist/llmproxyd.mjs` bundle,
 * built once here with `deno task build:node` and run with `node`. The shared suites
 * are registered as they are; the Node-only cases follow.
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
import { adminSuite } from "./suite_admin.ts";
import { mainSuite } from "./suite_main.ts";
import { processSuite } from "./suite_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BUNDLE = `${ROOT}dist/llmproxyd.mjs`;

async function buildBundle(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build:node"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `deno task build:node failed:\n${dec.decode(out.stdout)}\n${dec.decode(out.stderr)}`,
    );
  }
}

await buildBundle();

/** The Node daemon: the bundle, as an operator runs it. */
const NODE_DAEMON: DaemonCommand = { name: "node", argv: ["node", BUNDLE] };

mainSuite(NODE_DAEMON);
processSuite(NODE_DAEMON);
adminSuite(NODE_DAEMON);

Deno.test("node: the bundle runs alone from an empty directory", async () => {
  const mock = startMock({ name: "solo" });
  const dir = await Deno.makeTempDir({ prefix: "llmproxy-node-solo-" });
  const port = freePort();
  const admin = freePort();
  await Deno.copyFile(BUNDLE, `${dir}/llmproxyd.mjs`);
  await Deno.writeTextFile(
    `${dir}/config.yaml`,
    `http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${port}, default_group: g }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: u, url: "${mock.url}" }
upstream_groups:
  - { name: g, upstreams: [{ name: u }] }
`,
  );
  const entries = [];
  for await (const e of Deno.readDir(dir)) entries.push(e.name);
  assert.deepEqual(entries.sort(), ["config.yaml", "llmproxyd.mjs"]);

  const child = new Deno.Command("node", {
    args: ["llmproxyd.mjs", "-c", "config.yaml"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    // Nothing to resolve modules from but the bundle itself.
    env: { NO_COLOR: "1", NODE_PATH: "" },
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  try {
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${admin}/ready`);
        await r.body?.cancel();
        ready = r.status === 200;
      } catch { /* not yet */ }
      if (!ready) await delay(50);
    }
    assert.ok(ready, "the bundle never became ready");
    const r = await postChat(`http://127.0.0.1:${port}`, { stream: true });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-mock-name"), "solo");
    assert.ok((await r.text()).trimEnd().endsWith("data: [DONE]"));
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    const [stdout, stderr] = await output;
    await mock.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /"runtime":"node \d+\.\d+\.\d+"/);
  }
});

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

Deno.test({
  name: "node: the group's timeout.connect bounds a connect that never completes",
  // The probe connect that proved the queue full is still retrying its SYN at the end.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const hole = await blackhole();
    const good = startMock({ name: "good" });
    const port = freePort();
    const admin = freePort();
    const d = await startDaemon(
      NODE_DAEMON,
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
        "504 upstream_timeout after about 1 s (stream: true has no other deadline)",
        async () => {
          const t0 = performance.now();
          const r = await postChat(base, { stream: true });
          const took = performance.now() - t0;
          assert.equal(r.status, 504);
          assert.equal(r.headers.get("x-llmproxy-error"), "upstream_timeout");
          assert.equal((await r.json()).error.code, "upstream_timeout");
          assert.ok(took >= 900 && took < 2500, `took ${took} ms`);
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
          assert.ok(took >= 900 && took < 3000, `took ${took} ms`);
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

/** A minimal HTTP CONNECT proxy that records the `Proxy-Authorization` it was sent. */
function connectProxy(): {
  url: string;
  auths: (string | null)[];
  tunnels: string[];
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const auths: (string | null)[] = [];
  const tunnels: string[] = [];
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const client of listener) {
      conns.add(client);
      void (async () => {
        const buf = new Uint8Array(16384);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await client.read(buf);
          if (n === null) return;
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        const [line, ...fields] = head.split("\r\n");
        const [method, target] = line!.split(" ");
        const auth = fields.find((f) => f.toLowerCase().startsWith("proxy-authorization:"));
        auths.push(auth ? auth.slice(auth.indexOf(":") + 1).trim() : null);
        if (method !== "CONNECT") {
          await client.write(new TextEncoder().encode("HTTP/1.1 405 Method Not Allowed\r\n\r\n"));
          client.close();
          return;
        }
        tunnels.push(target!);
        const [hostname, port] = target!.split(":");
        const upstream = await Deno.connect({ hostname: hostname!, port: Number(port) });
        conns.add(upstream);
        await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
        await Promise.allSettled([
          client.readable.pipeTo(upstream.writable),
          upstream.readable.pipeTo(client.writable),
        ]);
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    auths,
    tunnels,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

Deno.test({
  name: "node: http_client.proxy tunnels through the proxy with the URL's credentials",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const proxy = connectProxy();
    const mock = startMock({ name: "behind-proxy" });
    const port = freePort();
    const admin = freePort();
    const proxyUrl = proxy.url.replace("http://", "http://user:p%40ss@");
    const d = await startDaemon(
      NODE_DAEMON,
      `http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${port}, default_group: g }
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: u, url: "${mock.url}" }
upstream_groups:
  - name: g
    upstreams: [{ name: u }]
    http_client: { proxy: { url: "${proxyUrl}" } }
`,
      admin,
    );
    try {
      const r = await postChat(`http://127.0.0.1:${port}`, { stream: true });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-mock-name"), "behind-proxy");
      assert.ok((await r.text()).trimEnd().endsWith("data: [DONE]"));
      assert.deepEqual(proxy.tunnels, [new URL(mock.url).host]);
      assert.deepEqual(proxy.auths, [`Basic ${btoa("user:p@ss")}`]);
    } finally {
      await d.stop();
      proxy.close();
      await mock.close();
    }
  },
});
