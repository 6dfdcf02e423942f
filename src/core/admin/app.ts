/**
 * The admin listener's app (docs/behaviour.md#admin-api): `/health`, `/ready`, `/metrics` and the
 * management API under `/api/v1`, built with `@hono/zod-openapi` so every endpoint's
 * request and answer schemas are checked and published in `/api/v1/openapi.json`.
 *
 * @module
 */

import type { ValidateOptions } from "../config/mod.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { AdminHost } from "./host.ts";
import { registerClients } from "./api_clients.ts";
import { registerForwards } from "./api_forwards.ts";
import { registerModelRoutes } from "./api_model_routes.ts";
import { registerGroups } from "./api_groups.ts";
import { registerMeta } from "./api_meta.ts";
import { registerUpstreams } from "./api_upstreams.ts";
import { accessRule } from "./access.ts";
import { ConfigEditor } from "./config_editor.ts";
import { type AdminApi, type AdminEnv, API } from "./context.ts";
import { AdminError, errorResponse, toErrorStatus } from "./envelope.ts";
import { clientBodySecrets, redactSecrets, secretValues } from "./redact.ts";
import { isUiShell, registerUi, type StatsScope } from "./ui/mod.ts";

/** What the admin listener needs from the process around it. */
export interface AdminOptions {
  readonly gateway: AdminHost;
  /** True once every listener is bound and the configuration loaded; false while draining. */
  readonly ready: () => boolean;
  /** Serve the interactive API page at `/api/v1/docs` (`-d/--debug`); 404 otherwise. */
  readonly debug?: boolean;
  /**
   * When set (and not blank), everything but `/health`, `/ready` and `/metrics` (all of
   * `/api/v1`) needs `Authorization: Bearer <token>` (`LLMPROXY_ADMIN_AUTH_TOKEN`), from
   * any address. When unset, everything but those three answers only loopback peers, as
   * told per request by the second argument of `fetch` (see {@linkcode createAdminApp});
   * others get 403.
   */
  readonly authToken?: string;
  /** Where configuration changes and internal errors are logged. */
  readonly logger?: Logger;
  /** How changes are validated (Workers turn the listener check off). */
  readonly validate?: ValidateOptions;
  /**
   * Where the dashboard's figures (`/ui`, `/api/v1/stats`) come from: one process (the
   * default) or one Workers isolate, and where breaker state is shared.
   */
  readonly statsScope?: StatsScope;
}

/**
 * Builds the admin app. Serve it with any runtime's `fetch`-style server
 * (the Deno and Node daemons' listeners, a Worker's `fetch`), passing the connecting
 * peer's IP address with every request: `admin.fetch(request, { remoteAddr })`.
 * Without a token, only a peer in 127.0.0.0/8 or `::1` gets past `/health`, `/ready`
 * and `/metrics`; a request without `remoteAddr` counts as coming from elsewhere.
 *
 * @example
 * ```ts
 * import { createAdminApp } from "./app.ts";
 * const admin = createAdminApp({ gateway, ready: () => true });
 * // In the listener's handler, with the connection's peer address:
 * const res = await admin.fetch(request, { remoteAddr: conn.remoteAddr });
 * ```
 */
export function createAdminApp(options: AdminOptions): AdminApi {
  const logger = options.logger ?? options.gateway.logger ?? silentLogger;
  const app: AdminApi = new OpenAPIHono<AdminEnv>({
    // zod failures (params, body) answer 400 in the error envelope.
    defaultHook: (result) => {
      if (!result.success) {
        throw new AdminError(400, describeZodError(result.target, result.error));
      }
    },
  });

  // Before every route, so that nothing (not even a 404) answers a caller not let in.
  // With a token, the dashboard's static page and assets are the exception (a browser
  // opening a page sends no bearer header; the page asks for the token and every call
  // it makes carries it); without one they follow the loopback rule like the rest.
  const rule = accessRule(options.authToken);
  const tokenRequired = options.authToken !== undefined && options.authToken.trim() !== "";
  app.use(
    "*",
    tokenRequired
      ? async (c, next) => isUiShell(c.req.method, c.req.path) ? await next() : await rule(c, next)
      : rule,
  );

  const editor = new ConfigEditor(options.gateway, logger, options.validate);
  const ctx = { gateway: options.gateway, editor };
  registerForwards(app, ctx);
  registerModelRoutes(app, ctx);
  registerGroups(app, ctx);
  registerUpstreams(app, ctx);
  registerClients(app, ctx);
  registerMeta(app, { gateway: options.gateway, ready: options.ready, debug: !!options.debug });
  registerUi(app, {
    gateway: options.gateway,
    tokenRequired,
    ...(options.statsScope ? { scope: options.statsScope } : {}),
  });

  app.notFound((c) => {
    const known = c.req.path === API || c.req.path.startsWith(`${API}/`);
    return errorResponse(
      new AdminError(
        404,
        known
          ? `no endpoint ${c.req.method} ${c.req.path}; see ${API}/openapi.json`
          : `not found: ${c.req.path}`,
      ),
    );
  });

  app.onError((err, c) => {
    // Messages quote values; none may carry a secret, stored or just sent.
    const isClientBody = c.req.path === `${API}/clients` ||
      c.req.path.startsWith(`${API}/clients/`);
    const redact = (message: string) =>
      redactSecrets(message, [
        ...secretValues(options.gateway.config),
        ...secretValues(c.get("jsonBody")),
        ...(isClientBody ? clientBodySecrets(c.get("jsonBody")) : []),
      ]);
    if (err instanceof AdminError) {
      const headers = err.status === 401 ? { "www-authenticate": "Bearer" } : undefined;
      return errorResponse(new AdminError(err.status, redact(err.message)), headers);
    }
    if (err instanceof HTTPException) {
      // Framework errors: malformed JSON (400), wrong media type (415 → 400).
      const status = toErrorStatus(err.status);
      const message = err.status === 415
        ? "the request body must be JSON (Content-Type: application/json)"
        : err.message || `HTTP ${err.status}`;
      return errorResponse(new AdminError(status, redact(message)));
    }
    logger.log("error", "admin API internal error", {
      method: c.req.method,
      path: c.req.path,
      error: redact(err instanceof Error ? err.message : String(err)),
    });
    return errorResponse(new AdminError(500, "internal error; see the llmproxy log"));
  });

  return app;
}

function describeZodError(target: string, error: ZodError): string {
  const where = target === "json" ? "body" : target === "param" ? "path parameter" : target;
  const problems = error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
      .join("")
      .replace(/^\./, "");
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  });
  return `invalid ${where}: ${problems.join("; ")}`;
}
