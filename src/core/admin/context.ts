/**
 * What every group of admin endpoints is registered with.
 *
 * @module
 */

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Gateway } from "../proxy/gateway.ts";
import type { ConfigEditor } from "./config_editor.ts";
import { errorResponses, type ErrorStatus } from "./envelope.ts";

/** The admin app type. */
export type AdminApi = OpenAPIHono;

/** The gateway whose configuration the API shows and the editor that changes it. */
export interface AdminContext {
  readonly gateway: Gateway;
  readonly editor: ConfigEditor;
}

/** The `/api/v1` prefix of the management endpoints. */
export const API = "/api/v1";

/**
 * The error `responses` of an `/api/v1` operation: the given statuses plus 401, which
 * any of them answers when a token is configured and the call lacks it.
 */
export function apiErrors<const S extends ErrorStatus>(
  statuses: readonly S[],
  descriptions: Partial<Record<ErrorStatus, string>> = {},
) {
  return errorResponses<S | 401>([...statuses, 401], descriptions);
}

/** A JSON body of a request (the zod validator has read it already). */
export async function rawJson(req: { json(): Promise<unknown> }): Promise<Record<string, unknown>> {
  const body = await req.json();
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
}
