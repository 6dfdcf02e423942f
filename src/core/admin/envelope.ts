/**
 * The admin API's answer envelopes (kept from the Rust release, docs/behaviour.md#envelope):
 * `{"code":<status>,"status":"success","data":…}` and
 * `{"code":<status>,"status":"error","error":{"type":…,"message":…}}`. The HTTP status
 * always equals `code`.
 *
 * Handlers return successes; every failure is an {@linkcode AdminError} thrown from
 * wherever it is found and rendered by the app's error handler, so each handler reads
 * as the happy path.
 *
 * @module
 */

import { z } from "zod";

/**
 * The error statuses the admin API answers with, and their `type`. docs/behaviour.md#envelope names
 * five types and no `Forbidden`; a 403 (no token configured and the caller is not on
 * loopback) is the closest of them, `Unauthorized`: the caller is not allowed in. The
 * HTTP status and `code` stay 403, which tells it apart from a missing token.
 */
export const ERROR_TYPES = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Unauthorized",
  404: "NotFound",
  409: "Conflict",
  500: "InternalServerError",
} as const;

/** An error status of the admin API. */
export type ErrorStatus = keyof typeof ERROR_TYPES;

/** The `error.type` of an error envelope. */
export type ErrorType = (typeof ERROR_TYPES)[ErrorStatus];

/**
 * A failure the admin API reports in the error envelope.
 *
 * @example
 * ```ts
 * import { AdminError } from "./envelope.ts";
 * throw new AdminError(404, 'no upstream named "gpt"');
 * ```
 */
export class AdminError extends Error {
  /** The HTTP status, also the envelope's `code`. */
  readonly status: ErrorStatus;

  constructor(status: ErrorStatus, message: string) {
    super(message);
    this.name = "AdminError";
    this.status = status;
  }

  /** The envelope's `error.type`. */
  get type(): ErrorType {
    return ERROR_TYPES[this.status];
  }
}

/** A success envelope. */
export interface SuccessEnvelope<S extends number, T> {
  code: S;
  status: "success";
  data: T;
}

/** An error envelope. */
export interface ErrorEnvelope {
  code: ErrorStatus;
  status: "error";
  error: { type: ErrorType; message: string };
}

/**
 * Wraps `data` in the success envelope for HTTP status `code`.
 *
 * @example
 * ```ts
 * import { success } from "./envelope.ts";
 * success(201, { path: "/v1/*", target_group: "openai" });
 * // { code: 201, status: "success", data: { path: "/v1/*", target_group: "openai" } }
 * ```
 */
export function success<S extends number, T>(code: S, data: T): SuccessEnvelope<S, T> {
  return { code, status: "success", data };
}

/** The error envelope of `error`. */
export function errorEnvelope(error: AdminError): ErrorEnvelope {
  return {
    code: error.status,
    status: "error",
    error: { type: error.type, message: error.message },
  };
}

/** The error envelope as a `Response` (JSON, HTTP status = `code`). */
export function errorResponse(error: AdminError, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(errorEnvelope(error)), { status: error.status, headers: h });
}

/** zod schema of the success envelope around `data`, for status `code`. */
export function successSchema<S extends number, T extends z.ZodType>(code: S, data: T) {
  return z.object({
    code: z.literal(code),
    status: z.literal("success"),
    data,
  });
}

/** zod schema of the error envelope for status `code`. */
export function errorSchema<S extends ErrorStatus>(code: S) {
  return z.object({
    code: z.literal(code),
    status: z.literal("error"),
    error: z.object({
      type: z.literal(ERROR_TYPES[code]),
      message: z.string(),
    }),
  });
}

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "Bad request: invalid JSON, parameters or configuration (message lists every problem)",
  401: "Missing or wrong bearer token (LLMPROXY_ADMIN_AUTH_TOKEN is set)",
  403: "LLMPROXY_ADMIN_AUTH_TOKEN is unset and the caller is not on loopback " +
    "(127.0.0.0/8, ::1): without a token only the machine itself may use the API",
  404: "Not found",
  409: "Conflict with the current configuration",
  500: "Internal error",
};

/**
 * The OpenAPI `responses` entries of the given error statuses, each with the error
 * envelope schema and a description (`404` may be given its own).
 */
export function errorResponses<const S extends ErrorStatus>(
  statuses: readonly S[],
  descriptions: Partial<Record<ErrorStatus, string>> = {},
): Record<S, { description: string; content: { "application/json": { schema: z.ZodType } } }> {
  const out = {} as Record<
    S,
    { description: string; content: { "application/json": { schema: z.ZodType } } }
  >;
  for (const s of statuses) {
    out[s] = {
      description: descriptions[s] ?? ERROR_DESCRIPTIONS[s],
      content: { "application/json": { schema: errorSchema(s) } },
    };
  }
  return out;
}

/** Maps any HTTP status to the nearest admin error status (for framework errors). */
export function toErrorStatus(status: number): ErrorStatus {
  if (status === 401 || status === 403 || status === 404 || status === 409) return status;
  // 413, 415 and other client errors: the request was wrong, in the API's vocabulary.
  if (status >= 400 && status < 500) return 400;
  return 500;
}
