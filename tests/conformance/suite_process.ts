/**
 * Conformance cases about the process: CLI, exit codes, config errors, SIGTERM drain,
 * SIGHUP reload.
 */
import assert from "node:assert/strict";
import {
  type DaemonCommand,
  delay,
  freePort,
  postChat,
  runDaemonOnce,
  startDaemon,
  startMock,
} from "./harness.ts";

function simpleYaml(port: number, admin: number, upstream: string, extraRoute = ""): string {
  return `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: g
      routing:
        - { path: /one/*, target_group: g }${extraRoute}
  admin: { address: 127.0.0.1, port: ${admin} }
upstreams:
  - { name: u, url: "${upstream}" }
upstream_groups:
  - { name: g, upstreams: [{ name: u }] }
  - { name: g2, upstreams: [{ name: u }] }
`;
}

/** Registers the process-level conformance cases for a daemon command. */
export function processSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: CLI and exit codes`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "llmproxy-cli-" });
    const good = `${dir}/good.yaml`;
    await Deno.writeTextFile(good, simpleYaml(3000, 9000, "http://127.0.0.1:1"));
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      bad,
      `http_server:
  forwards:
    - name: main
      port: 70000
      default_group: nope
upstreams: []
upstream_groups: []
`,
    );

    await t.step("-t on a valid file: one-line verdict, exit 0", async () => {
      const r = await runDaemonOnce(cmd, ["-t", "-c", good]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^llmproxyd: configuration .* is valid$/);
    });

    await t.step("-t on an invalid file: file:line:col errors, exit 1", async () => {
      const r = await runDaemonOnce(cmd, ["-t", "-c", bad]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${bad}:4:13: http_server\\.forwards\\[0\\]\\.port: `));
      assert.match(r.stdout, /is invalid/);
    });

    await t.step("an invalid file stops start-up with exit 1", async () => {
      const r = await runDaemonOnce(cmd, ["-c", bad]);
      assert.equal(r.code, 1);
    });

    await t.step("a missing file: exit 1 naming it", async () => {
      const r = await runDaemonOnce(cmd, ["-c", `${dir}/missing.yaml`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /missing\.yaml/);
    });

    await t.step("bad usage: exit 2 with a usage line", async () => {
      for (const args of [["--bogus"], ["--shutdown-timeout", "500"], ["-c"]]) {
        const r = await runDaemonOnce(cmd, args);
        assert.equal(r.code, 2, args.join(" "));
        assert.match(r.stderr, /usage: llmproxyd/);
      }
    });

    await t.step("-V and -h", async () => {
      const v = await runDaemonOnce(cmd, ["-V"]);
      assert.equal(v.code, 0);
      assert.match(v.stdout, /^llmproxyd \d+\.\d+\.\d+/);
      const h = await runDaemonOnce(cmd, ["-h"]);
      assert.equal(h.code, 0);
      assert.match(h.stdout, /--shutdown-timeout/);
    });
  });

  Deno.test(`conformance[${cmd.name}]: SIGTERM lets a 2 s stream finish and exits 0`, async () => {
    const mock = startMock({ name: "m" });
    const port = freePort();
    const admin = freePort();
    const d = await startDaemon(cmd, simpleYaml(port, admin, mock.url), admin, {
      args: ["--shutdown-timeout", "10"],
    });
    try {
      const r = await postChat(`http://127.0.0.1:${port}`, {
        stream: true,
        headers: { "x-mock-chunks": "20", "x-mock-chunk-delay": "100" },
      });
      assert.equal(r.status, 200);
      const body = r.text();
      await delay(200);
      d.signal("SIGTERM");
      await delay(200);
      // Draining: the admin listener stays up and says not ready.
      const ready = await fetch(`http://127.0.0.1:${admin}/ready`);
      assert.equal(ready.status, 503);
      await ready.body?.cancel();
      // New connections to the forward are refused.
      await assert.rejects(postChat(`http://127.0.0.1:${port}`));
      const text = await body;
      assert.ok(text.trimEnd().endsWith("data: [DONE]"), "stream finished");
      const status = await d.exited();
      assert.equal(status.code, 0);
    } finally {
      await d.stop();
      await mock.close();
    }
  });

  Deno.test(`conformance[${cmd.name}]: SIGTERM aborts what outlives --shutdown-timeout`, async () => {
    const mock = startMock({ name: "m" });
    const port = freePort();
    const admin = freePort();
    const d = await startDaemon(cmd, simpleYaml(port, admin, mock.url), admin, {
      args: ["--shutdown-timeout", "1"],
    });
    try {
      const r = await postChat(`http://127.0.0.1:${port}`, {
        stream: true,
        headers: { "x-mock-chunks": "100", "x-mock-chunk-delay": "100" },
      });
      const body = r.text().catch(() => "cut");
      await delay(100);
      const t0 = performance.now();
      d.signal("SIGTERM");
      const status = await d.exited();
      assert.equal(status.code, 0);
      const took = performance.now() - t0;
      assert.ok(took < 4000, `exit took ${took} ms`);
      const text = await body;
      assert.ok(!text.includes("[DONE]"), "the stream was cut");
    } finally {
      await d.stop();
      await mock.close();
    }
  });

  Deno.test(`conformance[${cmd.name}]: SIGHUP reloads a valid file and keeps the old on errors`, async () => {
    const a = startMock({ name: "a" });
    const b = startMock({ name: "b" });
    const port = freePort();
    const admin = freePort();
    const d = await startDaemon(cmd, simpleYaml(port, admin, a.url), admin);
    const base = `http://127.0.0.1:${port}`;
    const who = async () => {
      const r = await postChat(base);
      await r.body?.cancel();
      return r.headers.get("x-mock-name");
    };
    try {
      assert.equal(await who(), "a");
      await Deno.writeTextFile(d.configPath, "upstreams: [ {name: broken");
      d.signal("SIGHUP");
      await d.waitFor((l) => l.includes("reload rejected"));
      assert.equal(await who(), "a");
      await Deno.writeTextFile(d.configPath, simpleYaml(port, admin, b.url));
      d.signal("SIGHUP");
      await d.waitFor((l) => l.includes("configuration reloaded"));
      assert.equal(await who(), "b");
    } finally {
      await d.stop();
      await a.close();
      await b.close();
    }
  });
}
