/**
 * The dashboard on Cloudflare Workers: the Workers bundle (built here into a temporary
 * directory, exactly as `deno task build:worker` builds it) in real `workerd` through
 * miniflare, with its Durable Objects. Under the admin prefix, the page and its assets
 * answer without the token (the page asks for it), the figures need it, and the figures
 * say they are this isolate's while breaker states are shared through Durable Objects.
 */

import assert from "node:assert/strict";
import { Miniflare } from "../../dev_deps.ts";
import { type RunningMock, startMock } from "../conformance/harness.ts";
import { fetchAll, runWithDeadline, withDeadline } from "../deadline.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOKEN = "worker-ui-token";
const PREFIX = "/_llmproxy";

/** Builds the Workers bundle with the task's own command line, into `dir`. */
async function buildWorker(dir: string): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = denoJson.tasks["build:worker"];
  const out = `${dir}/worker.js`;
  const args = task.split(/\s+/).slice(1).map((a) =>
    a.startsWith("--output=") ? `--output=${out}` : a
  );
  const built = await runWithDeadline(
    Deno.execPath(),
    { args, cwd: ROOT },
    180_000,
    "deno bundle (worker)",
  );
  if (!built.success) throw new Error(`building the worker failed:\n${built.stderr}`);
  return out;
}

/** The wrangler.toml settings the worker runs with (a small subset of TOML). */
async function wrangler() {
  const text = await Deno.readTextFile(`${ROOT}wrangler.toml`);
  const date = text.match(/^compatibility_date\s*=\s*"([^"]+)"/m)?.[1];
  const flags = text.match(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m)?.[1] ?? "";
  const objects: Record<string, string> = {};
  for (const block of text.split(/^\[\[durable_objects\.bindings\]\]\s*$/m).slice(1)) {
    const name = block.match(/^name\s*=\s*"([^"]+)"/m)?.[1];
    const cls = block.match(/^class_name\s*=\s*"([^"]+)"/m)?.[1];
    if (name && cls) objects[name] = cls;
  }
  const sqlite = [...text.matchAll(/^new_sqlite_classes\s*=\s*\[([^\]]*)\]/gm)]
    .map((m) => m[1]).join(",");
  assert.ok(date, "wrangler.toml has a compatibility_date");
  return {
    compatibilityDate: date,
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
    durableObjects: Object.fromEntries(
      Object.entries(objects).map(([binding, className]) => [
        binding,
        { className, useSQLite: sqlite.includes(`"${className}"`) },
      ]),
    ),
  };
}

Deno.test({
  name: "Workers: /ui under the admin prefix, the page open, the figures per isolate",
  // miniflare keeps workerd's sockets and timers until disposed, which `finally` does.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "llmproxy-ui-worker-" });
    let mock: RunningMock | undefined;
    let mf: Miniflare | undefined;
    try {
      const script = await buildWorker(dir);
      mock = startMock({ name: "w", chunks: 3, chunkDelayMs: 5 });
      const yaml = `
http_server:
  forwards:
    - name: main
      hosts: [api.example.com]
      default_group: g
upstreams:
  - name: w
    url: "${mock.url}"
    breaker: { threshold: 0.5, cooldown: 30 }
upstream_groups:
  - name: g
    upstreams: [{ name: w }]
`;
      const s = await wrangler();
      mf = new Miniflare({
        durableObjectsPersist: false,
        workers: [{
          name: "main",
          modules: true,
          scriptPath: script,
          modulesRoot: dir,
          compatibilityDate: s.compatibilityDate,
          compatibilityFlags: s.compatibilityFlags,
          durableObjects: s.durableObjects,
          bindings: {
            LLMPROXY_CONFIG: yaml,
            LLMPROXY_ADMIN_AUTH_TOKEN: TOKEN,
            LLMPROXY_LOG_LEVEL: "error",
          },
        }],
      });
      const worker = mf;
      await withDeadline(worker.ready, 60_000, "miniflare start");
      const f = (url: string, init?: RequestInit) =>
        worker.dispatchFetch(url, init as never) as unknown as Promise<Response>;
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetchAll(`https://api.example.com${path}`, { fetch: f, headers });

      const page = await get(`${PREFIX}/ui`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      assert.match(page.text(), /data-auth="token"/);
      // Relative asset URLs resolve under the prefix, and answer there.
      const src = page.text().match(/src="(ui\/assets\/uPlot\.iife\.min\.js\?v=\w+)"/)?.[1];
      assert.ok(src, "the page loads uPlot from the proxy");
      const uplot = await get(`${PREFIX}/${src}`);
      assert.equal(uplot.status, 200);
      assert.match(uplot.text(), /uPlot/);

      assert.equal((await get(`${PREFIX}/api/v1/stats`)).status, 401);
      assert.equal(
        (await get(`${PREFIX}/api/v1/stats`, { authorization: "Bearer wrong" })).status,
        401,
      );
      assert.equal((await get(`${PREFIX}/ui/assets/nope.js`)).status, 401);

      const chat = await fetchAll("https://api.example.com/v1/chat/completions", {
        fetch: f,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "wm", messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(chat.status, 200);

      const stats = await get(`${PREFIX}/api/v1/stats`, { authorization: `Bearer ${TOKEN}` });
      assert.equal(stats.status, 200);
      const data = stats.json().data;
      assert.equal(data.scope.figures, "isolate");
      assert.equal(data.scope.shared_state, "durable_objects");
      assert.match(data.scope.note, /isolate's only/);
      assert.match(data.scope.note, /durable objects/i);
      assert.equal(data.groups[0].members[0].breaker, "closed");
      assert.ok(
        data.history.forwards.some((x: { total: { requests: number } }) => x.total.requests >= 1),
      );
    } finally {
      if (mf) await withDeadline(mf.dispose(), 60_000, "miniflare dispose").catch(() => {});
      await mock?.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
