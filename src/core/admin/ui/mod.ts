/**
 * The dashboard on the admin listener: `GET /ui` (the page), `GET /ui/assets/<name>`
 * (its script, styles and uPlot, embedded in the bundle) and `GET /api/v1/stats` (the
 * figures it shows, refreshed every 2 s).
 *
 * Access follows the admin rules (docs/behaviour.md#access): `/api/v1/stats` is an `/api/v1` call
 * like any other. The page and its assets are static (nothing of the configuration or the
 * traffic), so with a token configured they are served without one, as a browser
 * cannot send a bearer header when it opens a page: the page asks for the token, keeps
 * it in the tab's session storage and sends it with every call. Without a token, page
 * and assets answer only loopback peers, like everything else.
 *
 * @module
 */

import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { AdminHost } from "../host.ts";
import { type AdminApi, API, apiErrors } from "../context.ts";
import { AdminError, errorResponses, success, successSchema } from "../envelope.ts";
import { ASSETS } from "./assets.ts";
import { dashboardPage } from "./page.ts";
import { StatsBuilder, type StatsScope, statsView } from "./stats.ts";

export { type StatsScope, statsView } from "./stats.ts";

/** The page's path on the admin listener (under the admin prefix on Workers). */
export const UI_PATH = "/ui";
const ASSET_PREFIX = `${UI_PATH}/assets/`;

/**
 * Whether a request is for the dashboard's static shell (the page or an asset), which a
 * configured token does not guard (see the module doc). Exact paths only.
 */
export function isUiShell(method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (path === UI_PATH) return true;
  return path.startsWith(ASSET_PREFIX) && ASSETS.has(path.slice(ASSET_PREFIX.length));
}

/** What the dashboard is registered with. */
export interface UiOptions {
  readonly gateway: AdminHost;
  /** A token is configured (the page asks for it). */
  readonly tokenRequired: boolean;
  /** Where the figures come from (Workers: per isolate). */
  readonly scope?: StatsScope;
}

const statsRoute = createRoute({
  method: "get",
  path: `${API}/stats`,
  tags: ["meta"],
  summary: "Dashboard figures: last five minutes, member states",
  description: "What /ui shows, refreshed every 2 s: per forward, requests, errors " +
    "(status ≥ 500) and rate-limited requests per second over the last five minutes, with " +
    "latency p50/p95; per group and upstream, breaker state (with the time to half-open), " +
    "requests in flight, time to first token and errors by kind; tokens per model and per " +
    "client; the configuration at a glance with secrets masked. The history is kept in " +
    "memory by the proxy (1 s buckets over 5 minutes); on Workers it is per isolate, and " +
    "`scope` says which figures are shared.",
  responses: {
    200: {
      description: "The figures",
      content: { "application/json": { schema: successSchema(200, statsView) } },
    },
    ...apiErrors([]),
  },
});

/** FNV-1a of a text, as a short hex string (the assets' cache busters). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/** Registers `/ui`, its assets and `/api/v1/stats` on the admin app. */
export function registerUi(app: AdminApi, options: UiOptions): void {
  const stats = new StatsBuilder(options.gateway, options.scope);
  app.openapi(statsRoute, async (c) => c.json(success(200, await stats.build()), 200));

  const versions = new Map<string, string>();
  const assetVersion = (name: string) => {
    let v = versions.get(name);
    if (v === undefined) {
      v = fnv1a(ASSETS.get(name)?.text ?? "");
      versions.set(name, v);
    }
    return v;
  };
  let page: string | undefined;

  app.openAPIRegistry.registerPath({
    method: "get",
    path: UI_PATH,
    tags: ["meta"],
    summary: "The live dashboard (a page for a browser)",
    description: "A page for a browser: traffic per forward, breakers, tokens and the " +
      "configuration, refreshed every 2 s from /api/v1/stats. Everything it needs is " +
      "served from the proxy itself (ui/assets/…), so it works offline. The page is static " +
      "and served without a token; when one is configured it asks for it, keeps it in the " +
      "tab's session storage and sends it as a bearer header. Without a configured token, " +
      "page and calls answer only loopback peers.",
    security: [],
    responses: {
      200: { description: "The page", content: { "text/html": { schema: z.string() } } },
      ...errorResponses([403]),
    },
  });
  app.get(UI_PATH, () => {
    page ??= dashboardPage({ tokenRequired: options.tokenRequired, assetVersion });
    return new Response(page, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": PAGE_CSP,
        ...SECURITY_HEADERS,
      },
    });
  });
  // `/ui/` would resolve the page's relative URLs one level too deep: send it to `/ui`.
  app.get(`${UI_PATH}/`, () => new Response(null, { status: 308, headers: { location: "../ui" } }));
  app.get(`${ASSET_PREFIX}:name`, (c) => {
    const asset = ASSETS.get(c.req.param("name"));
    if (asset === undefined) throw new AdminError(404, `no dashboard asset ${c.req.path}`);
    const versioned = c.req.query("v") === assetVersion(asset.name);
    return new Response(asset.text, {
      headers: {
        "content-type": asset.type,
        "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
        ...SECURITY_HEADERS,
      },
    });
  });
}
