import type { Clock } from "../clock.ts";
import { hasBody } from "./native_body.ts";
import { settledSoon } from "./settled_soon.ts";

/** The client's request body, or why it could not be read. */
export type BodyResult =
  | { readonly ok: true; readonly body: Uint8Array<ArrayBuffer> | null }
  | { readonly ok: false; readonly reason: "body_too_large" | "request_timeout" | "client_gone" };

/**
 * Reads the whole request body once (so retries can re-send it), refusing more than
 * `limit` bytes and giving up when it has not arrived within `deadlineMs`.
 */
export async function readBody(
  request: Request,
  limit: number,
  deadlineMs: number,
  clock: Clock,
): Promise<BodyResult> {
  if (!hasBody(request)) return { ok: true, body: null };
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    return { ok: false, reason: "body_too_large" };
  }
  if (declared !== null) {
    // Length known and allowed: let the runtime collect it natively, within the deadline.
    const whole = request.arrayBuffer();
    // A small body usually came with the head: then no deadline timer is needed at all.
    const here = await settledSoon(whole);
    if (here !== undefined) return { ok: true, body: new Uint8Array(here) };
    let timer: unknown;
    const late = new Promise<"late">((resolve) => {
      timer = clock.setTimeout(() => resolve("late"), deadlineMs);
    });
    try {
      const got = await Promise.race([whole, late]);
      if (got === "late") {
        whole.catch(() => {});
        return { ok: false, reason: "request_timeout" };
      }
      return { ok: true, body: new Uint8Array(got) };
    } catch {
      return { ok: false, reason: "client_gone" };
    } finally {
      clock.clearTimeout(timer);
    }
  }
  const reader = request.body!.getReader();
  let timedOut = false;
  const timer = clock.setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, deadlineMs);
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "body_too_large" };
      }
      chunks.push(value as Uint8Array<ArrayBuffer>);
    }
  } catch {
    return { ok: false, reason: timedOut ? "request_timeout" : "client_gone" };
  } finally {
    clock.clearTimeout(timer);
  }
  if (timedOut) return { ok: false, reason: "request_timeout" };
  if (chunks.length === 1) return { ok: true, body: chunks[0]! };
  const body = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  return { ok: true, body };
}
