/**
 * The dashboard in a real browser: Debian's Chromium (`/usr/bin/chromium`, installed by
 * `.ci/run`) driven by `puppeteer-core` over the DevTools protocol, against the Deno
 * daemon with traffic from the built-in mock.
 *
 * It checks what an operator would: the sign-in refuses a wrong token and accepts the
 * right one (kept in the tab's session storage, sent as a bearer header); the page
 * loads without console errors; the charts draw; a member forced to fail shows its
 * breaker open within 5 s and closed again after the cooldown; a model row appears
 * after a streamed answer with usage. A screenshot is saved under the test's temporary
 * directory and its path printed.
 *
 * Every wait and request has a deadline; the browser and the daemon are stopped by
 * their PIDs in `finally`. Without /usr/bin/chromium the test is skipped, saying so.
 */

import assert from "node:assert/strict";
import { type Browser, type Page, puppeteer } from "../../dev_deps.ts";
import { MockLlm } from "../../src/mock/mock_llm.ts";
import {
  type Daemon,
  DENO_DAEMON,
  freePort,
  type RunningMock,
  startDaemon,
  startMock,
} from "../conformance/harness.ts";
import {
  DeadlineError,
  eventually,
  fetchAll,
  killChild,
  waitChild,
  withDeadline,
} from "../deadline.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "ui-test-token-0123456789";
/** Breaker cooldown of the member forced to fail, in seconds. */
const COOLDOWN_S = 3;
const STREAM_MODEL = "ui-stream-model";
const SESSION_TOKEN = 'sessionStorage.getItem("llmproxy.adminToken")';
/**
 * Per chart canvas on the page, how many of its pixels are coloured (a series line or
 * fill; axes, grid and text are grey or black).
 */
const COLOURED_PIXELS = `[...document.querySelectorAll(".chart canvas")].map((canvas) => {
  const ctx = canvas.getContext("2d");
  if (!ctx || canvas.width === 0 || canvas.height === 0) return 0;
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    const hi = Math.max(px[i], px[i + 1], px[i + 2]);
    const lo = Math.min(px[i], px[i + 1], px[i + 2]);
    if (px[i + 3] > 128 && hi - lo > 80) n++;
  }
  return n;
})`;

const hasChromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!hasChromium) {
  console.warn(
    `tests/ui/dashboard_test.ts: ${CHROMIUM} is missing, so the dashboard's browser test ` +
      "is SKIPPED. Install Debian's chromium (apt-get install chromium), as .ci/run does.",
  );
}

/** Chromium started by this test, with the DevTools endpoint it printed. */
interface RunningBrowser {
  readonly child: Deno.ChildProcess;
  readonly endpoint: string;
  readonly profile: string;
}

/** Starts headless Chromium on a fresh profile; resolves with its DevTools endpoint. */
async function launchChromium(): Promise<RunningBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "llmproxy-ui-chromium-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "--window-size=1400,1000",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    const endpoint = await withDeadline(
      async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`chromium exited before listening:\n${seen}`);
          seen += value;
          const m = seen.match(/DevTools listening on (ws:\/\/\S+)/);
          if (m) return m[1]!;
        }
      },
      20_000,
      "chromium's DevTools endpoint",
      () => killChild(child),
    );
    // Keep draining stderr (Chromium logs there) so it never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* closed */ }
    })();
    return { child, endpoint, profile };
  } catch (e) {
    killChild(child);
    await waitChild(child, 5_000, "chromium after a failed start").catch(() => {});
    await reader.cancel().catch(() => {});
    throw e;
  }
}

/** An upstream that answers 500 while `failing` is set, else as the mock does. */
function startSwitchableMock(name: string) {
  const mock = new MockLlm({ name, chunks: 4, chunkDelayMs: 10 });
  const state = { failing: false };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      state.failing
        ? Response.json({ error: { message: "forced failure" } }, { status: 500 })
        : mock.fetch(req),
  );
  return {
    state,
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => withDeadline(server.shutdown(), 10_000, `shutdown of mock ${name}`),
  };
}

/** Steady client traffic through the proxy until stopped; every request has a deadline. */
function startTraffic(base: string) {
  let stopped = false;
  let sent = 0;
  const done = (async () => {
    const end = Date.now() + 120_000;
    while (!stopped && Date.now() < end) {
      await fetchAll(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "ui-traffic", messages: [{ role: "user", content: "hi" }] }),
        deadlineMs: 5_000,
      }).catch(() => {});
      sent++;
      await new Promise((r) => setTimeout(r, 80));
    }
  })();
  return {
    get sent() {
      return sent;
    },
    stop: () => {
      stopped = true;
      return withDeadline(done, 10_000, "the traffic loop");
    },
  };
}

/** Waits for `selector` on the page, within `ms`, naming it when it does not appear. */
async function waitSelector(page: Page, selector: string, ms: number, what: string) {
  try {
    await withDeadline(page.waitForSelector(selector, { timeout: ms }), ms + 1_000, what);
  } catch (e) {
    const status = await withDeadline(
      page.evaluate('document.getElementById("status")?.textContent ?? ""'),
      2_000,
      "the page's status",
    ).catch(() => "?");
    throw new DeadlineError(`${what}: ${selector} not seen within ${ms} ms (status: ${status})`, {
      cause: e,
    });
  }
}

/**
 * Evaluates `expression` (JavaScript, as text: this file is type-checked without the DOM
 * library) in the page within a deadline.
 */
function inPage<T>(page: Page, what: string, expression: string): Promise<T> {
  return withDeadline(page.evaluate(expression) as Promise<T>, 5_000, what);
}

Deno.test({
  name: "dashboard in Chromium: sign-in, charts, breaker open and closed, token rows",
  ignore: !hasChromium,
  // puppeteer keeps a WebSocket and its own timers to the browser process, which this
  // test ends by PID in `finally`.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "llmproxy-ui-test-" });
    let good: RunningMock | undefined;
    let bad: ReturnType<typeof startSwitchableMock> | undefined;
    let daemon: Daemon | undefined;
    let traffic: ReturnType<typeof startTraffic> | undefined;
    let chromium: RunningBrowser | undefined;
    let browser: Browser | undefined;
    try {
      good = startMock({ name: "good", chunks: 4, chunkDelayMs: 10 });
      bad = startSwitchableMock("bad");
      const port = freePort();
      const adminPort = freePort();
      const yaml = `
http_server:
  forwards:
    - name: main
      address: 127.0.0.1
      port: ${port}
      default_group: chat
      model_routing:
        - { model: "${STREAM_MODEL}", target_group: steady }
  admin: { address: 127.0.0.1, port: ${adminPort} }
upstreams:
  - { name: good, url: "${good.url}" }
  - name: bad
    url: "${bad.url}"
    breaker: { threshold: 0.5, cooldown: ${COOLDOWN_S} }
upstream_groups:
  - name: chat
    upstreams: [{ name: good }, { name: bad }]
  - name: steady
    upstreams: [{ name: good }]
`;
      daemon = await startDaemon(DENO_DAEMON, yaml, adminPort, {
        env: { LLMPROXY_ADMIN_AUTH_TOKEN: TOKEN },
      });
      const base = `http://127.0.0.1:${port}`;
      const admin = `http://127.0.0.1:${adminPort}`;
      traffic = startTraffic(base);

      chromium = await launchChromium();
      const endpoint = chromium.endpoint;
      browser = await withDeadline(
        puppeteer.connect({
          browserWSEndpoint: endpoint,
          defaultViewport: { width: 1400, height: 1000 },
          protocolTimeout: 20_000,
        }),
        15_000,
        "puppeteer.connect",
      );
      const page = await withDeadline(browser.newPage(), 10_000, "a new tab");
      page.setDefaultTimeout(10_000);
      page.setDefaultNavigationTimeout(15_000);
      const consoleErrors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url ?? ""})`);
      });
      page.on("pageerror", (e) => consoleErrors.push(`page error: ${String(e)}`));

      // 1. The page asks for the token before anything else; a wrong one is refused.
      const res = await withDeadline(
        page.goto(`${admin}/ui`, { waitUntil: "load", timeout: 15_000 }),
        20_000,
        "loading /ui",
      );
      assert.equal(res?.status(), 200);
      await waitSelector(page, "#signin:not([hidden])", 5_000, "the sign-in form");
      assert.deepEqual(consoleErrors, [], "no console errors while the page loads");
      await withDeadline(page.type("#token", "not-the-token"), 5_000, "typing a wrong token");
      await withDeadline(page.click("#signin-button"), 5_000, "submitting the wrong token");
      await waitSelector(page, "#signin-error:not([hidden])", 5_000, "the refusal");
      const refusal = await inPage<string>(
        page,
        "the refusal text",
        'document.getElementById("signin-error").textContent',
      );
      assert.match(refusal ?? "", /refused/);
      assert.equal(
        await inPage(page, "session storage", SESSION_TOKEN),
        null,
        "a refused token is not kept",
      );
      // The browser reports the refused call itself (a 401); nothing else may appear.
      const unexpected = consoleErrors.filter((e) => !/\b401\b/.test(e));
      assert.deepEqual(unexpected, [], "only the refused call is reported");
      consoleErrors.length = 0;

      // 2. The right token signs in, is kept in session storage and sent as a bearer.
      const bearer = new Promise<string | undefined>((resolve) => {
        page.on("request", (r) => {
          if (r.url().endsWith("/api/v1/stats")) resolve(r.headers()["authorization"]);
        });
      });
      await inPage(page, "clearing the token field", 'document.getElementById("token").value = ""');
      await withDeadline(page.type("#token", TOKEN), 5_000, "typing the token");
      await withDeadline(page.click("#signin-button"), 5_000, "signing in");
      assert.equal(await withDeadline(bearer, 5_000, "a stats call"), `Bearer ${TOKEN}`);
      await waitSelector(page, "#dashboard:not([hidden])", 5_000, "the dashboard");
      await waitSelector(page, 'tr.member[data-upstream="bad"]', 5_000, "the member rows");
      assert.equal(
        await inPage(page, "session storage", SESSION_TOKEN),
        TOKEN,
      );

      // 3. The charts draw: every chart's canvas has coloured pixels (a series), not only
      // grey axes and grid.
      let painted: number[] = [];
      await eventually(
        "the charts draw their series",
        async () => {
          painted = await inPage<number[]>(page, "canvas pixels", COLOURED_PIXELS);
          const requests = await inPage<string>(
            page,
            "request figure",
            `document.querySelector('[data-forward="main"] .figure .value')?.textContent ?? ""`,
          );
          return painted.length >= 3 && painted.every((n) => n > 20) && requests !== "0";
        },
        10_000,
        () => `coloured pixels per chart: ${painted.join(", ")}`,
        250,
      );

      // 4. A streamed answer with usage shows its model's token row.
      const stream = await fetchAll(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: STREAM_MODEL,
          stream: true,
          messages: [{ role: "user", content: "tell me" }],
        }),
        deadlineMs: 10_000,
      });
      assert.equal(stream.status, 200);
      assert.match(stream.text(), /"usage"/);
      await waitSelector(page, `tr[data-model="${STREAM_MODEL}"]`, 5_000, "the model's row");
      const row = await inPage<string[]>(
        page,
        "the model row",
        `[...document.querySelectorAll('tr[data-model="${STREAM_MODEL}"] td')]
          .map((td) => td.textContent)`,
      );
      assert.ok(Number(row[3]?.replaceAll(",", "")) > 0, `tokens per minute: ${row.join(" | ")}`);

      // 5. Failures on one member open its breaker on the page within 5 s ...
      bad.state.failing = true;
      const failedAt = performance.now();
      // A burst on top of the steady traffic: about half of it meets the failing member.
      await Promise.all(
        Array.from({ length: 12 }, () =>
          fetchAll(`${base}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "ui-burst", messages: [] }),
            deadlineMs: 5_000,
          }).catch(() => {})),
      );
      await waitSelector(
        page,
        'tr.member[data-upstream="bad"][data-breaker="open"]',
        5_000,
        "the open breaker",
      );
      const openSeenMs = Math.round(performance.now() - failedAt);
      const badge = await inPage<string>(
        page,
        "the breaker badge",
        `document.querySelector('tr.member[data-upstream="bad"] .breaker')?.textContent ?? ""`,
      );
      assert.match(badge, /open · half-open in ≤ \d+ s/);
      await withDeadline(
        page.screenshot({ path: `${tmp}/dashboard-breaker-open.png`, fullPage: true }),
        15_000,
        "screenshot of the open breaker",
      );
      // ... and closed again once the cooldown has passed and a probe succeeded.
      bad.state.failing = false;
      await waitSelector(
        page,
        'tr.member[data-upstream="bad"][data-breaker="closed"]',
        COOLDOWN_S * 1000 + 7_000,
        "the breaker closed again",
      );

      // 6. A reload keeps the session (the token is in session storage).
      await withDeadline(
        page.reload({ waitUntil: "load", timeout: 15_000 }),
        20_000,
        "reloading /ui",
      );
      await waitSelector(page, "#dashboard:not([hidden])", 5_000, "the dashboard after reload");
      await waitSelector(page, `tr[data-model="${STREAM_MODEL}"]`, 5_000, "rows after reload");
      await new Promise((r) => setTimeout(r, 500));

      const shot = `${tmp}/dashboard.png`;
      await withDeadline(page.screenshot({ path: shot, fullPage: true }), 15_000, "screenshot");
      console.log(
        `dashboard screenshot: ${shot} (breaker open seen after ${openSeenMs} ms; ` +
          `coloured pixels per chart: ${painted.join(", ")})`,
      );
      assert.deepEqual(consoleErrors, [], "no console errors on the dashboard");
      assert.ok(traffic.sent > 10, `traffic flowed (${traffic.sent} requests)`);
    } finally {
      await traffic?.stop().catch(() => {});
      if (browser) await withDeadline(browser.disconnect(), 5_000, "disconnect").catch(() => {});
      if (chromium) {
        killChild(chromium.child);
        await waitChild(chromium.child, 10_000, "chromium after SIGKILL").catch(() => {});
        await Deno.remove(chromium.profile, { recursive: true }).catch(() => {});
      }
      await daemon?.stop().catch(() => {});
      await good?.close().catch(() => {});
      await bad?.close().catch(() => {});
    }
  },
});
