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
import { connectSuite } from "./suite_connect.ts";
import { connectionSuite } from "./suite_connection.ts";
import { llmSuite } from "./suite_llm.ts";
import { clientsSuite } from "./suite_clients.ts";

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
connectSuite(NODE_DAEMON, 2500);
connectionSuite(NODE_DAEMON);
llmSuite(NODE_DAEMON);
clientsSuite(NODE_DAEMON);

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
