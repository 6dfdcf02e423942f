/**
 * The dashboard's HTML (`GET /ui`), rendered on the server from a plain template. It
 * holds nothing of the configuration or the traffic (so, with a token configured, it is
 * served without one, like the API docs page): the script fills it from
 * `api/v1/stats`, which needs the token.
 *
 * Every URL in it is relative to the page, so the same page works at `/ui` on the
 * daemons' admin listener and under the admin prefix of a Worker (`/_llmproxy/ui`).
 *
 * @module
 */

import { VERSION } from "../../../version.ts";

/** What the page is rendered with. */
export interface PageOptions {
  /** A token is configured: the page asks for it before the first call. */
  readonly tokenRequired: boolean;
  /** `?v=…` cache busters of the assets, by file name. */
  readonly assetVersion: (name: string) => string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's HTML. */
export function dashboardPage(options: PageOptions): string {
  const asset = (name: string) => `ui/assets/${name}?v=${options.assetVersion(name)}`;
  const auth = options.tokenRequired ? "token" : "loopback";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>llmproxy dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${asset("uPlot.min.css")}">
<link rel="stylesheet" href="${asset("app.css")}">
</head>
<body data-auth="${auth}">
<header>
  <h1>llmproxy</h1>
  <span id="version">v${escapeHtml(VERSION)}</span>
  <span class="spacer"></span>
  <span id="status" data-kind="idle">loading…</span>
  <button id="signout" type="button" hidden>Sign out</button>
</header>
<main>
  <noscript><p>This dashboard needs JavaScript. The same figures are at
  <code>api/v1/stats</code> (JSON) and <code>metrics</code> (Prometheus).</p></noscript>
  <section id="signin" class="panel" hidden>
    <h2>Sign in</h2>
    <p class="muted">This proxy's admin API needs a token (<code>LLMPROXY_ADMIN_AUTH_TOKEN</code>).
    It is kept in this tab's session storage only and sent as a bearer header.</p>
    <form id="signin-form" autocomplete="off">
      <input id="token" type="password" placeholder="admin token" aria-label="admin token" required>
      <button id="signin-button" type="submit">Sign in</button>
    </form>
    <p id="signin-error" role="alert" hidden></p>
  </section>
  <div id="dashboard" hidden>
    <p id="scope"></p>
    <section>
      <h2>Traffic per forward <span class="muted small">last 5 minutes, per second</span></h2>
      <div id="forwards"></div>
    </section>
    <section>
      <h2>Groups and upstreams</h2>
      <div id="groups"></div>
    </section>
    <section>
      <h2>Tokens</h2>
      <div class="two-col">
        <div class="panel"><h3>Tokens per second by model</h3><div id="tokens-chart" class="chart"></div></div>
        <div><h3>Tokens per minute by model</h3><div id="models"></div></div>
      </div>
    </section>
    <section id="clients-section" hidden>
      <h2>Clients</h2>
      <div id="clients"></div>
    </section>
    <section>
      <h2>Configuration at a glance <span class="muted small">secrets masked</span></h2>
      <div id="config"></div>
    </section>
  </div>
</main>
<script src="${asset("uPlot.iife.min.js")}"></script>
<script src="${asset("app.js")}"></script>
</body>
</html>
`;
}
