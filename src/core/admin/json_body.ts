/**
 * The JSON body of an admin write (POST, PUT, PATCH), read and checked before anything
 * else looks at it (docs/behaviour.md#hostile-input: hostile input gets a clear 4xx, never a crash
 * or a stack trace). Every refusal is a 400 saying what was expected and what came:
 *
 * - a media type other than JSON;
 * - more than {@linkcode MAX_BODY_BYTES} bytes, or bytes that are not UTF-8;
 * - text that is not JSON (the message gives the position, never an excerpt, since the
 *   body may hold a key);
 * - JSON that is not an object;
 * - nesting deeper than {@linkcode MAX_DEPTH} (no admin body needs more than a few);
 * - a number JSON cannot hold (`1e400` parses as Infinity);
 * - a key that names a member of JavaScript's `Object.prototype` (`constructor`,
 *   `toString`, `__proto__`, …) at any depth: no configuration key is called so, and
 *   code that looks keys up in plain objects would find the built-in instead.
 *
 * The checked text is left in Hono's body cache, so the route's validator and the
 * handlers read the same body again without touching the stream.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { AdminEnv } from "./context.ts";
import { AdminError } from "./envelope.ts";

/** The largest admin body accepted, in bytes (the largest real one is a few KiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The deepest nesting accepted (the configuration nests five levels at most). */
export const MAX_DEPTH = 32;

const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** The media type Hono's JSON validator reads (`application/json`, `…+json`). */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json$/i;

/**
 * Parses and checks the text of a JSON body; the object, or a 400
 * {@linkcode AdminError} that says what is wrong.
 *
 * @example
 * ```ts
 * import { parseJsonBody } from "./json_body.ts";
 * parseJsonBody('{"upstreams":[{"name":"a"}]}'); // { upstreams: [{ name: "a" }] }
 * parseJsonBody('{"constructor":1}'); // throws: invalid body: constructor: unknown key …
 * ```
 */
export function parseJsonBody(text: string): Record<string, unknown> {
  if (text.trim() === "") {
    throw new AdminError(400, "the request body is empty; a JSON object ({…}) was expected");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8's message may quote a piece of the body, which may hold a secret: only the
    // position goes back.
    const at = e instanceof SyntaxError ? /\(line \d+ column \d+\)/.exec(e.message) : null;
    throw new AdminError(
      400,
      `the request body is not valid JSON${
        at ? ` ${at[0].slice(1, -1).replace("line", "at line")}` : ""
      }`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AdminError(
      400,
      `the request body must be a JSON object ({…}), got ${kindOf(value)}`,
    );
  }
  checkValue(value, "", 1);
  return value as Record<string, unknown>;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function invalid(path: string, message: string): AdminError {
  return new AdminError(400, `invalid body: ${path === "" ? "" : `${path}: `}${message}`);
}

/** Walks `value` (depth-bounded, so the recursion is too). */
function checkValue(value: unknown, path: string, depth: number): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw invalid(path, "the number is too large for JSON (beyond ±1.8e308)");
    }
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (depth > MAX_DEPTH) {
    throw invalid(path, `nested deeper than ${MAX_DEPTH} levels; no admin body needs that`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, joinPath(path, i), depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const where = joinPath(path, key);
    if (PROTOTYPE_KEYS.has(key)) {
      throw invalid(where, `unknown key ${JSON.stringify(key)}`);
    }
    checkValue(item, where, depth + 1);
  }
}

/** Reads at most `limit` bytes of `body`; undefined when there are more. */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Route middleware of every admin write: checks the media type, reads the body (at
 * most {@linkcode MAX_BODY_BYTES}), parses and checks it with
 * {@linkcode parseJsonBody}, and leaves the object in `c.var.jsonBody`.
 */
export const jsonBody: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!JSON_TYPE.test(type.split(";")[0]!.trim())) {
    throw new AdminError(
      400,
      "the request body must be JSON (Content-Type: application/json), got " +
        (type.trim() === "" ? "no Content-Type" : `Content-Type ${JSON.stringify(type)}`),
    );
  }
  const declared = Number(c.req.header("content-length"));
  const tooLarge = () =>
    new AdminError(400, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge();
  const bytes = await readCapped(c.req.raw.body, MAX_BODY_BYTES);
  if (bytes === undefined) throw tooLarge();
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AdminError(400, "the request body is not UTF-8 text");
  }
  c.set("jsonBody", parseJsonBody(text));
  // The route's validator and the handler read the body through Hono's body cache,
  // which holds promises (its type says values).
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
  await next();
};
