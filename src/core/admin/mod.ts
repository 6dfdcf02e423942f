/**
 * The admin listener (docs/behaviour.md#admin-api): health, readiness, Prometheus metrics, and the
 * management API under `/api/v1` with its OpenAPI document and, with `--debug`, an
 * interactive page.
 *
 * @example
 * ```ts
 * import { createAdminApp, isLoopbackAddress } from "./mod.ts";
 *
 * const admin = createAdminApp({ gateway, ready: () => true, authToken, logger });
 * if (!authToken && !isLoopbackAddress(config.http_server.admin.address)) {
 *   logger.log("warn", "admin API reachable beyond loopback without a token", {});
 * }
 * // Serve it with the runtime's HTTP server (see src/adapters/), passing each
 * // request's peer address: without a token only loopback peers get past /health,
 * // /ready and /metrics, and a request without one counts as from elsewhere.
 * const handler = (req: Request, conn: { remoteAddr: string }) =>
 *   admin.fetch(req, { remoteAddr: conn.remoteAddr });
 * ```
 *
 * @module
 */

export { type AdminOptions, createAdminApp } from "./app.ts";
export type { AdminPeer } from "./context.ts";
export { OPENAPI_INFO, openApiDocument, SECURITY_SCHEME } from "./api_meta.ts";
export {
  AdminError,
  type ErrorEnvelope,
  type ErrorType,
  type SuccessEnvelope,
} from "./envelope.ts";
export { decodeRouteId, encodeRouteId } from "./route_id.ts";
export { MASK, maskUrl } from "./secrets.ts";
export { isLoopbackAddress, isLoopbackPeer } from "./loopback.ts";
