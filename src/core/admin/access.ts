/**
 * Who may use the admin listener (docs/behaviour.md#access).
 *
 * - `/health`, `/ready` and `/metrics` are open to everyone (probes, scrapers).
 * - With a token (`LLMPROXY_ADMIN_AUTH_TOKEN`), everything else (all of `/api/v1`)
 *   needs `Authorization: Bearer <token>`, from any address; the static docs page is
 *   the one exception, as a browser opening it cannot send the header (the page asks
 *   for it, and every call it makes carries it).
 * - Without a token, everything else answers only loopback peers (127.0.0.0/8, `::1`,
 *   `::ffff:127.x.y.z`); others get 403.
 *
 * Both rules list what is open rather than what is closed, so an admin page added
 * later is covered without anyone remembering to.
 *
 * The peer address comes from the server, per request, as the second argument of the
 * app's `fetch` (`{ remoteAddr }`, Hono's `c.env`). A request that arrives without one
 * (a Worker, a test, a server that forgot it) is not loopback: it fails closed.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { bearerToken, tokenChecker } from "./auth.ts";
import { type AdminEnv, type AdminPeer, API } from "./context.ts";
import { AdminError } from "./envelope.ts";
import { isLoopbackPeer } from "./loopback.ts";

/** The endpoints no rule applies to (exact paths, as the router matches them). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics"]);

/**
 * The peer address a server passed for this request, or undefined when it passed
 * none (or something that is not `{ remoteAddr: string }`).
 */
export function peerAddress(env: unknown): string | undefined {
  if (typeof env !== "object" || env === null) return undefined;
  const addr = (env as AdminPeer).remoteAddr;
  return typeof addr === "string" && addr !== "" ? addr : undefined;
}

/**
 * The middleware enforcing the access rule; `token` is the configured admin token
 * (undefined or blank: none).
 */
export function accessRule(token: string | undefined): MiddlewareHandler<AdminEnv> {
  if (token !== undefined && token.trim() !== "") {
    const checker = tokenChecker(token);
    return async (c, next) => {
      const path = c.req.path;
      if (OPEN_PATHS.has(path)) return await next();
      // The docs page is static HTML (nothing of the configuration); a browser cannot
      // send a bearer header when it opens it, so the page asks for the token itself.
      if (c.req.method === "GET" && path === `${API}/docs`) return await next();
      const offered = bearerToken(c.req.header("authorization"));
      if (offered === undefined) {
        throw new AdminError(401, "this endpoint needs the header Authorization: Bearer <token>");
      }
      if (!(await checker.matches(offered))) {
        throw new AdminError(401, "the bearer token is not valid");
      }
      await next();
    };
  }
  return async (c, next) => {
    if (OPEN_PATHS.has(c.req.path)) return await next();
    const peer = peerAddress(c.env);
    if (!isLoopbackPeer(peer)) {
      throw new AdminError(
        403,
        "LLMPROXY_ADMIN_AUTH_TOKEN is not set, so the admin API answers only loopback " +
          "peers (127.0.0.0/8, ::1); this call came from " +
          (peer === undefined ? "an unknown address" : JSON.stringify(peer)) +
          ": call from the machine itself, or set the token and send it as " +
          "Authorization: Bearer <token>",
      );
    }
    await next();
  };
}
