/**
 * What every group of admin endpoints is registered with.
 *
 * @module
 */

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AdminHost } from "./host.ts";
import type { ConfigEditor } from "./config_editor.ts";
import { errorResponses, type ErrorStatus } from "./envelope.ts";

/**
 * What a server passes as the second argument of the admin app's `fetch` for each
 * request: the connecting peer's IP address. Without it (or without a token) a call is
 * treated as coming from another machine.
 */
export interface AdminPeer {
  /** The peer's IP address as the connection reports it (`127.0.0.1`, `::1`). */
  readonly remoteAddr?: string;
}

/** Per-request values the admin middleware hands on. */
export interface AdminVariables {
  /** The request's JSON body, checked by `json_body.ts` (write endpoints only). */
  jsonBody?: Record<string, unknown>;
}

/** The Hono environment of the admin app. */
export interface AdminEnv {
  // Typed for callers; read defensively, as `fetch(request)` without it leaves it undefined.
  Bindings: AdminPeer;
  Variables: AdminVariables;
}

/** The admin app type. */
export type AdminApi = OpenAPIHono<AdminEnv>;

/** The gateway whose configuration the API shows and the editor that changes it. */
export interface AdminContext {
  readonly gateway: AdminHost;
  readonly editor: ConfigEditor;
}

/** The `/api/v1` prefix of the management endpoints. */
export const API = "/api/v1";

/**
 * The error `responses` of an `/api/v1` operation: the given statuses plus 401, which
 * any of them answers when a token is configured and the call lacks it, and 403, which
 * any of them answers when no token is configured and the caller is not on loopback.
 */
export function apiErrors<const S extends ErrorStatus>(
  statuses: readonly S[],
  descriptions: Partial<Record<ErrorStatus, string>> = {},
) {
  return errorResponses<S | 401 | 403>([...statuses, 401, 403], descriptions);
}

/** A JSON body of a request (the zod validator has read it already). */
export async function rawJson(req: { json(): Promise<unknown> }): Promise<Record<string, unknown>> {
  const body = await req.json();
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
}
