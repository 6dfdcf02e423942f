/**
 * The endpoints around the management API: `/health`, `/ready`, `/metrics` (open to
 * everyone, no token), `/api/v1/openapi.json` and the `/api/v1/docs` UI (docs/behaviour.md#access).
 *
 * They answer plain text, HTML or a document rather than the JSON envelope, so they
 * are plain Hono routes whose OpenAPI entries are registered by hand.
 *
 * @module
 */

import { z } from "zod";
import { VERSION } from "../../version.ts";
import { CONTENT_TYPE } from "../metrics/mod.ts";
import type { AdminHost } from "./host.ts";
import { type AdminApi, API } from "./context.ts";
import { docsPage } from "./docs_page.ts";
import { AdminError, errorResponses } from "./envelope.ts";
import { refreshGauges } from "./gauges.ts";

/** The document's `info` and servers; the paths come from the registered routes. */
export const OPENAPI_INFO = {
  title: "llmproxy admin API",
  version: VERSION,
  description: "Management API of llmproxy: forwards and their routing rules, upstreams, " +
    "upstream groups, clients. Every change is validated against the whole configuration and " +
    "applied atomically. Success answers are " +
    '`{"code":<status>,"status":"success","data":…}`, errors ' +
    '`{"code":<status>,"status":"error","error":{"type":…,"message":…}}`; the HTTP status ' +
    "always equals code. When LLMPROXY_ADMIN_AUTH_TOKEN is set, every /api/v1 call needs " +
    "`Authorization: Bearer <token>` (else 401). When it is unset, only loopback peers " +
    "(127.0.0.0/8, ::1) may call /api/v1; others get 403. /health, /ready and /metrics " +
    "are open to everyone.",
} as const;

/** Name of the bearer security scheme in the document. */
export const SECURITY_SCHEME = "bearerAuth";

/** What the meta endpoints need. */
export interface MetaOptions {
  readonly gateway: AdminHost;
  readonly ready: () => boolean;
  readonly debug: boolean;
}

const OPEN: Record<string, string[]>[] = [];

/** Registers `/health`, `/ready`, `/metrics`, `/api/v1/openapi.json` and `/api/v1/docs`. */
export function registerMeta(app: AdminApi, options: MetaOptions): void {
  const r = app.openAPIRegistry;
  r.registerComponent("securitySchemes", SECURITY_SCHEME, {
    type: "http",
    scheme: "bearer",
    description: "The value of LLMPROXY_ADMIN_AUTH_TOKEN (only when it is set)",
  });
  const status = z.object({ status: z.string() });

  r.registerPath({
    method: "get",
    path: "/health",
    tags: ["process"],
    summary: "Liveness: 200 while the process serves",
    security: OPEN,
    responses: {
      200: { description: "Alive", content: { "application/json": { schema: status } } },
    },
  });
  app.get("/health", (c) => c.json({ status: "ok" }));

  r.registerPath({
    method: "get",
    path: "/ready",
    tags: ["process"],
    summary: "Readiness: 200 once every listener is bound, 503 while draining",
    security: OPEN,
    responses: {
      200: { description: "Ready", content: { "application/json": { schema: status } } },
      503: {
        description: "Starting or draining",
        content: { "application/json": { schema: status } },
      },
    },
  });
  app.get(
    "/ready",
    (c) => options.ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
  );

  r.registerPath({
    method: "get",
    path: "/metrics",
    tags: ["process"],
    summary: "Prometheus metrics (text format 0.0.4)",
    security: OPEN,
    responses: {
      200: {
        description: "The exposition",
        content: { [CONTENT_TYPE]: { schema: z.string() } },
      },
    },
  });
  app.get("/metrics", async () => {
    await refreshGauges(options.gateway);
    return new Response(options.gateway.metrics.encode(), {
      headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" },
    });
  });

  r.registerPath({
    method: "get",
    path: `${API}/openapi.json`,
    tags: ["meta"],
    summary: "This OpenAPI 3.1 document",
    responses: {
      200: {
        description: "The document",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
      ...errorResponses([401, 403]),
    },
  });
  app.get(`${API}/openapi.json`, (c) => c.json(openApiDocument(app)));

  r.registerPath({
    method: "get",
    path: `${API}/docs`,
    tags: ["meta"],
    summary: "Interactive API page (only with -d/--debug)",
    description: "A self-contained page (no external assets) that lists the endpoints " +
      "of openapi.json and sends requests; it asks for the bearer token when one is needed. " +
      "The page itself is static and served without a token; every call it makes needs one. " +
      "Without a configured token, page and calls answer only loopback peers.",
    security: OPEN,
    responses: {
      200: { description: "The page", content: { "text/html": { schema: z.string() } } },
      ...errorResponses([403, 404], { 404: "Not started with --debug" }),
    },
  });
  app.get(`${API}/docs`, () => {
    if (!options.debug) {
      throw new AdminError(404, "the API docs page is only served with -d/--debug");
    }
    return new Response(docsPage(`${API}/openapi.json`), {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; " +
          "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; " +
          "form-action 'none'; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
      },
    });
  });
}

/** The OpenAPI 3.1 document of every route registered on `app`. */
export function openApiDocument(app: AdminApi): Record<string, unknown> {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: OPENAPI_INFO,
    security: [{ [SECURITY_SCHEME]: [] }],
    tags: [
      { name: "forwards", description: "Inbound listeners and their routing rules" },
      { name: "upstream-groups", description: "Groups: members, weights, strategy" },
      { name: "upstreams", description: "Backend endpoints" },
      { name: "clients", description: "Callers known by their key, and their limits" },
      { name: "meta", description: "This API's description" },
      { name: "process", description: "Health, readiness, metrics (no token needed)" },
    ],
  }) as unknown as Record<string, unknown>;
}
