/**
 * Conformance cases of the admin listener, black box against a running daemon: a live
 * configuration change under load, bearer auth from the environment, the docs page
 * with and without `--debug`, and `/metrics` checked by `promtool` after traffic that
 * moves every metric of docs/behaviour.md#metrics.
 */
import assert from "node:assert/strict";
import {
  type DaemonCommand,
  delay,
  freePort,
  postChat,
  type RunningMock,
  startDaemon,
  startMock,
} from "./harness.ts";
import { promtoolCheckMetrics } from "../promtool.ts";
import { SPEC_BUCKET_LES, SPEC_METRICS } from "../spec_metrics.ts";

const API = "/api/v1";

async function admin(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> | undefined }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Registers the admin conformance cases for a daemon command. */
export function adminSuite(cmd: DaemonCommand): void {
  Deno.test(`conformance[${cmd.name}]: admin API change under load`, async () => {
    const mocks: Record<string, RunningMock> = {
      a: startMock({ name: "a", chunks: 3, chunkDelayMs: 2 }),
      b: startMock({ name: "b", chunks: 3, chunkDelayMs: 2 }),
      c: startMock({ name: "c", chunks: 3, chunkDelayMs: 2 }),
    };
    const p = { main: freePort(), admin: freePort() };
    const yaml = `
http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${p.main}, default_group: g }
  admin: { address: 127.0.0.1, port: ${p.admin} }
upstreams:
  - { name: a, url: "${mocks.a!.url}" }
  - { name: b, url: "${mocks.b!.url}" }
upstream_groups:
  - { name: g, upstreams: [{ name: a }, { name: b }] }
`;
    const daemon = await startDaemon(cmd, yaml, p.admin);
    const base = `http://127.0.0.1:${p.main}`;
    const adminBase = `http://127.0.0.1:${p.admin}`;
    try {
      // One client streams 20 chunks, 100 ms apart, across the change.
      const streamStart = performance.now();
      const streamed = (async () => {
        const r = await postChat(base, {
          stream: true,
          headers: { "x-mock-chunks": "20", "x-mock-chunk-delay": "100" },
        });
        const servedBy = r.headers.get("x-mock-name");
        const text = await r.text();
        return { status: r.status, servedBy, text, end: performance.now() };
      })();

      // Others send requests in a loop the whole time.
      const log: { start: number; status: number; name: string | null }[] = [];
      let stop = false;
      const loop = async () => {
        while (!stop) {
          const start = performance.now();
          const r = await postChat(base);
          log.push({ start, status: r.status, name: r.headers.get("x-mock-name") });
          await r.body?.cancel();
        }
      };
      const loops = [loop(), loop()];

      await delay(400);
      const created = await admin(adminBase, "POST", `${API}/upstreams`, {
        name: "c",
        url: mocks.c!.url,
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const patched = await admin(adminBase, "PATCH", `${API}/upstream-groups/g`, {
        upstreams: [{ name: "c" }],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.json));
      const changedAt = performance.now();
      // Enough traffic after the change, however loaded the machine (bounded: 10 s).
      for (let i = 0; i < 200; i++) {
        if (log.filter((l) => l.start > changedAt).length >= 5) break;
        await delay(50);
      }
      stop = true;
      await Promise.all(loops);
      const stream = await streamed;

      const failed = log.filter((l) => l.status !== 200);
      assert.deepEqual(failed, [], "no request fails during the change");
      const before = log.filter((l) => l.start < streamStart + 300);
      assert.ok(before.length > 0 && before.every((l) => l.name === "a" || l.name === "b"));
      const after = log.filter((l) => l.start > changedAt);
      assert.ok(after.length >= 5, `only ${after.length} requests after the change`);
      assert.deepEqual([...new Set(after.map((l) => l.name))], ["c"], "new requests reach c");

      // The stream started on the old member and finished there, after the change.
      assert.equal(stream.status, 200);
      assert.ok(stream.servedBy === "a" || stream.servedBy === "b", String(stream.servedBy));
      assert.ok(stream.end > changedAt, "the stream was still running during the change");
      const contentChunks = stream.text.split("\n\n").filter((e) =>
        e.includes('"content":"') &&
        !e.includes('"content":""')
      );
      assert.equal(contentChunks.length, 20);
      assert.ok(stream.text.trimEnd().endsWith("data: [DONE]"), "stream completed");

      const group = await admin(adminBase, "GET", `${API}/upstream-groups/g`);
      const data = group.json?.data as { upstreams: unknown };
      assert.deepEqual(data.upstreams, [{ name: "c", weight: 1 }]);
      // Without --debug there is no docs page.
      assert.equal((await admin(adminBase, "GET", `${API}/docs`)).status, 404);
    } finally {
      await daemon.stop();
      await Promise.all(Object.values(mocks).map((m) => m.close()));
    }
  });

  Deno.test(`conformance[${cmd.name}]: admin bearer auth from LLMPROXY_ADMIN_AUTH_TOKEN`, async () => {
    const mock = startMock({ name: "a" });
    const p = { main: freePort(), admin: freePort() };
    const token = "conformance-admin-token";
    const yaml = `
http_server:
  forwards:
    - { name: main, address: 127.0.0.1, port: ${p.main}, default_group: g }
  admin: { address: 0.0.0.0, port: ${p.admin} }
upstreams:
  - { name: a, url: "${mock.url}" }
upstream_groups:
  - { name: g, upstreams: [{ name: a }] }
`;
    const daemon = await startDaemon(cmd, yaml, p.admin, {
      env: { LLMPROXY_ADMIN_AUTH_TOKEN: token },
      args: ["--debug"],
    });
    const adminBase = `http://127.0.0.1:${p.admin}`;
    try {
      const without = await admin(adminBase, "GET", `${API}/upstreams`);
      assert.equal(without.status, 401);
      assert.equal(without.headers.get("www-authenticate"), "Bearer");
      assert.deepEqual(without.json?.code, 401);
      assert.equal((without.json?.error as { type: string }).type, "Unauthorized");
      const wrong = await admin(adminBase, "GET", `${API}/upstreams`, undefined, "nope");
      assert.equal(wrong.status, 401);
      const ok = await admin(adminBase, "GET", `${API}/upstreams`, undefined, token);
      assert.equal(ok.status, 200);
      assert.equal(ok.json?.status, "success");
      // Health, readiness and metrics stay open.
      for (const path of ["/health", "/ready", "/metrics"]) {
        const r = await fetch(`${adminBase}${path}`);
        assert.equal(r.status, 200, path);
        await r.body?.cancel();
      }
      // With --debug the docs page is served.
      const docs = await fetch(`${adminBase}${API}/docs`);
      assert.equal(docs.status, 200);
      assert.match(docs.headers.get("content-type") ?? "", /text\/html/);
      await docs.body?.cancel();
      // With a token there is no warning about an open admin API (the start-up lines,
      // written in one batch with "llmproxyd started", are all in).
      await daemon.waitFor((l) => l.includes("llmproxyd started"));
      assert.ok(!daemon.lines.some((l) => l.includes("without a token")), daemon.lines.join("\n"));
      assert.ok(!daemon.lines.some((l) => l.includes(token)), "the token never reaches the log");
    } finally {
      await daemon.stop();
      await mock.close();
    }
  });

  Deno.test(`conformance[${cmd.name}]: /metrics passes promtool and has every metric of docs/behaviour.md#metrics`, async () => {
    const mocks: Record<string, RunningMock> = {
      a: startMock({ name: "a" }),
      b: startMock({ name: "b" }),
      brk: startMock({ name: "brk" }),
    };
    const deadUrl = `http://127.0.0.1:${freePort()}`;
    const p = { main: freePort(), limited: freePort(), admin: freePort() };
    const yaml = `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${p.main}
      default_group: ok
      routing:
        - { path: /retry/*, target_group: retry }
        - { path: /dead/*, target_group: dead }
        - { path: /slow/*, target_group: slow }
        - { path: /brk/*, target_group: brk }
    - name: limited
      address: 127.0.0.1
      port: ${p.limited}
      default_group: ok
      ratelimit: { per_second: 1, burst: 1 }
  admin: { address: 0.0.0.0, port: ${p.admin} }
upstreams:
  - { name: a, url: "${mocks.a!.url}" }
  - { name: b, url: "${mocks.b!.url}" }
  - { name: dead, url: "${deadUrl}" }
  - name: brk
    url: "${mocks.brk!.url}"
    breaker: { threshold: 0.5, cooldown: 30 }
upstream_groups:
  - { name: ok, upstreams: [{ name: a }] }
  - name: retry
    upstreams: [{ name: a }, { name: b }]
    http_client: { retry: { attempts: 1, initial: 100 } }
  - { name: dead, upstreams: [{ name: dead }] }
  - name: slow
    upstreams: [{ name: b }]
    http_client: { stream: false, timeout: { request: 1 } }
  - { name: brk, upstreams: [{ name: brk }] }
`;
    const daemon = await startDaemon(cmd, yaml, p.admin);
    const base = `http://127.0.0.1:${p.main}`;
    const send = async (
      url: string,
      path: string,
      headers: Record<string, string> = {},
    ): Promise<number> => {
      const r = await postChat(url, { path, headers });
      await r.body?.cancel();
      return r.status;
    };
    try {
      // No token and admin on 0.0.0.0: one warning at start (logs are written in batches).
      await daemon.waitFor((l) => l.includes("without a token"));
      const warnings = daemon.lines.filter((l) => l.includes("without a token"));
      assert.equal(warnings.length, 1, daemon.lines.join("\n"));
      assert.equal(JSON.parse(warnings[0]!).level, "warn");

      assert.equal(await send(base, "/v1/chat/completions"), 200);
      // Upstream 5xx on both members: a retry, then the last answer passed through.
      assert.equal(await send(base, "/retry/v1/chat/completions", { "x-mock-status": "500" }), 500);
      assert.equal(await send(`http://127.0.0.1:${p.limited}`, "/v1/chat/completions"), 200);
      assert.equal(await send(`http://127.0.0.1:${p.limited}`, "/v1/chat/completions"), 429);
      assert.equal(await send(base, "/dead/v1/chat/completions"), 502);
      assert.equal(
        await send(base, "/slow/v1/chat/completions", { "x-mock-latency": "3000" }),
        504,
      );
      for (let i = 0; i < 5; i++) {
        assert.equal(await send(base, "/brk/v1/chat/completions", { "x-mock-status": "503" }), 503);
      }
      // Breaker open: refused without reaching the upstream.
      assert.equal(await send(base, "/brk/v1/chat/completions"), 503);
      await delay(100);

      const res = await fetch(`http://127.0.0.1:${p.admin}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();

      const check = await promtoolCheckMetrics(text);
      assert.equal(check.code, 0, `promtool check metrics failed:\n${check.output}\n---\n${text}`);

      for (const [name, type, labels] of SPEC_METRICS) {
        assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `${name} is a ${type}`);
        const sample = type === "histogram" ? `${name}_count` : name;
        const series = samples(text, sample);
        assert.ok(series.length > 0, `${sample} has samples`);
        for (const s of series) assert.deepEqual(Object.keys(s).sort(), [...labels].sort(), sample);
        if (type === "histogram") {
          const les = samples(text, `${name}_bucket`).map((s) => s.le);
          for (const le of SPEC_BUCKET_LES) {
            assert.ok(les.includes(le), `${name} has bucket le="${le}"`);
          }
        }
      }
      // The traffic above moved each of them with the documented label values.
      const has = (name: string, want: Record<string, string>) =>
        samples(text, name).some((s) => Object.entries(want).every(([k, v]) => s[k] === v));
      assert.ok(
        has("llmproxy_http_requests_total", { forward: "main", method: "POST", path: "default" }),
      );
      assert.ok(has("llmproxy_http_requests_total", { path: "/retry/*" }));
      assert.ok(
        has("llmproxy_http_request_errors_total", { error: "upstream_status", status: "500" }),
      );
      assert.ok(
        has("llmproxy_http_request_errors_total", { error: "rate_limited", status: "429" }),
      );
      assert.ok(
        has("llmproxy_http_request_errors_total", { error: "upstream_unreachable", status: "502" }),
      );
      assert.ok(
        has("llmproxy_http_request_errors_total", { error: "upstream_timeout", status: "504" }),
      );
      assert.ok(
        has("llmproxy_http_request_errors_total", {
          error: "no_available_upstream",
          status: "503",
        }),
      );
      assert.ok(has("llmproxy_ratelimit_total", { forward: "limited" }));
      for (const error of ["unreachable", "timeout", "status_5xx"]) {
        assert.ok(has("llmproxy_upstream_errors_total", { error }), `upstream error ${error}`);
      }
      assert.ok(has("llmproxy_upstream_requests_total", { group: "retry", upstream: "b" }));
      assert.ok(
        has("llmproxy_circuitbreaker_state_changes_total", {
          upstream: "brk",
          from: "closed",
          to: "open",
        }),
      );
      for (const result of ["failure", "rejected"]) {
        assert.ok(has("llmproxy_circuitbreaker_calls_total", { upstream: "brk", result }), result);
      }
    } finally {
      await daemon.stop();
      await Promise.all(Object.values(mocks).map((m) => m.close()));
    }
  });
}

/** Label sets of every sample of `name` in an exposition. */
function samples(text: string, name: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels: Record<string, string> = {};
    const open = line.indexOf("{");
    if (open === name.length) {
      const body = line.slice(open + 1, line.lastIndexOf("}"));
      for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    }
    out.push(labels);
  }
  return out;
}
