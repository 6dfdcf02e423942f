import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { setImmediate } from "node:timers";
import { bodyTapOf } from "../../core/proxy/body_tap.ts";
import { untouchedNodeBody } from "./lazy_body.ts";

/** Statuses that never carry a body (no Content-Length is added for them). */
const BODYLESS = new Set([204, 304]);

/**
 * Writes a web `Response` to a Node `ServerResponse`: status and headers as they are
 * (several `Set-Cookie` stay several), then the body chunk by chunk as it comes, with
 * back-pressure (`write()` returning false waits for `drain`).
 *
 * - A body that is complete at once (an error answer, a small JSON) goes out in one
 *   write with a `Content-Length`; otherwise chunk by chunk.
 * - Headers go out at once when the first body chunk is not ready yet (an SSE stream
 *   whose first event takes a while); otherwise they share a packet with it.
 * - `clientGone` (the client disconnected) cancels the body, which cancels the
 *   upstream exchange behind it.
 * - A body that fails mid-way (upstream cut, request deadline) ends the connection
 *   without the final chunk, so the client sees an incomplete response instead of a
 *   short one that looks complete; `onBodyError` hears of it first.
 * - An upstream answer the core passed on untouched is piped from undici's stream
 *   without a web stream in between (lazy_body.ts), with the same rules.
 */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  clientGone: AbortSignal,
  keepAlive: boolean,
  onBodyError?: (error: unknown) => void,
): Promise<void> {
  const native = untouchedNodeBody(response);
  if (native !== undefined) {
    return await pipeNative(res, response, native, { clientGone, keepAlive, onBodyError });
  }
  const body = response.body;
  if (clientGone.aborted || res.destroyed) {
    await body?.cancel(clientGone.reason).catch(() => {});
    return;
  }
  if (!keepAlive) res.shouldKeepAlive = false;
  const head = (length?: number): void => {
    try {
      writeHead(res, response, length);
    } catch (e) {
      headError = e;
      throw e;
    }
  };
  let headError: unknown;

  if (body === null) {
    try {
      head(0);
    } finally {
      if (headError !== undefined) res.destroy();
    }
    res.end();
    return;
  }
  // Usage accounting reads the body through this, each chunk once it is written.
  const tap = bodyTapOf(response);
  const reader = body.getReader();
  const onGone = () => void reader.cancel(clientGone.reason).catch(() => {});
  clientGone.addEventListener("abort", onGone, { once: true });
  try {
    let next = reader.read();
    if (await settlesSoon(next)) {
      const first = await next;
      if (clientGone.aborted) return;
      if (first.done) {
        head(0);
        res.end();
        return;
      }
      next = reader.read();
      if (await settlesSoon(next)) {
        const second = await next;
        if (clientGone.aborted) return;
        if (second.done) {
          head(first.value.byteLength);
          res.end(first.value);
          tap?.(first.value);
          return;
        }
        next = Promise.resolve(second);
      }
      head();
      const more = res.write(first.value);
      tap?.(first.value);
      if (!more) await drained(res);
    } else {
      head();
      res.flushHeaders();
    }
    for (;;) {
      const r = await next;
      if (clientGone.aborted) return;
      if (r.done) break;
      const more = res.write(r.value);
      tap?.(r.value);
      if (!more) await drained(res);
      if (clientGone.aborted) return;
      next = reader.read();
    }
    res.end();
  } catch (e) {
    // The body failed while the client was still there (an upstream cut it): say so
    // before the connection is cut, so it is not taken for the client leaving.
    if (headError === undefined && !clientGone.aborted) onBodyError?.(e);
    await reader.cancel().catch(() => {});
    res.destroy();
    if (headError !== undefined) throw headError;
  } finally {
    clientGone.removeEventListener("abort", onGone);
  }
}

/**
 * Status and headers as they are (several `Set-Cookie` stay several), plus a
 * `Content-Length` of `length` when the answer has none and may have a body. Throws on a
 * header Node refuses (it validates more strictly than `Headers`).
 */
function writeHead(res: ServerResponse, response: Response, length?: number): void {
  const flat: string[] = [];
  for (const [k, v] of response.headers) flat.push(k, v);
  if (
    length !== undefined && !response.headers.has("content-length") &&
    !BODYLESS.has(response.status) && res.req.method !== "HEAD"
  ) {
    flat.push("content-length", String(length));
  }
  if (response.statusText) res.writeHead(response.status, response.statusText, flat);
  else res.writeHead(response.status, flat);
}

/** How {@linkcode pipeNative} ends: the writer's options. */
interface PipeOptions {
  readonly clientGone: AbortSignal;
  readonly keepAlive: boolean;
  readonly onBodyError?: ((error: unknown) => void) | undefined;
}

/**
 * Writes `response` (headers as they are; the core only passes such an answer on when
 * it has a `Content-Length`) with the body piped from `src`: back-pressure by
 * pause/resume, each chunk tapped once written, the client leaving destroys `src` (which
 * aborts the upstream exchange), and a body that fails or closes before its end is
 * reported and cuts the connection.
 */
function pipeNative(
  res: ServerResponse,
  response: Response,
  src: Readable,
  options: PipeOptions,
): Promise<void> {
  const { clientGone, keepAlive, onBodyError } = options;
  if (clientGone.aborted || res.destroyed) {
    src.destroy();
    return Promise.resolve();
  }
  if (!keepAlive) res.shouldKeepAlive = false;
  try {
    writeHead(res, response);
  } catch (e) {
    src.destroy();
    res.destroy();
    return Promise.reject(e);
  }
  const tap = bodyTapOf(response);
  // An error after the end of this write (a destroy below emits one) must not go
  // unheard: Node ends the process on an "error" nobody listens to.
  src.on("error", () => {});
  // The whole body is already here (a small answer that came with its head: undici
  // buffers what arrives before anyone reads): one write, no listeners. All of a
  // declared length cannot be cut any more.
  const whole = wholeBody(response, src);
  if (whole !== undefined) {
    res.end(whole);
    tap?.(whole);
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    let over = false;
    let wrote = false;
    const finish = () => {
      if (over) return;
      over = true;
      src.off("data", onData);
      src.off("end", onEnd);
      src.off("error", onError);
      src.off("close", onClose);
      res.off("drain", onDrain);
      clientGone.removeEventListener("abort", onGone);
      resolve();
    };
    const onData = (chunk: Uint8Array) => {
      wrote = true;
      const more = res.write(chunk);
      tap?.(chunk);
      if (!more) src.pause();
    };
    const onDrain = () => src.resume();
    const onEnd = () => {
      res.end();
      finish();
    };
    const onError = (e: unknown) => {
      if (over) return;
      // The body failed while the client was still there (an upstream cut it): say so
      // before the connection is cut, so it is not taken for the client leaving.
      if (!clientGone.aborted) onBodyError?.(e);
      res.destroy();
      finish();
    };
    const onClose = () => {
      if (!src.readableEnded) onError(new Error("the upstream body closed before its end"));
    };
    const onGone = () => {
      src.destroy(clientGone.reason instanceof Error ? clientGone.reason : undefined);
      finish();
    };
    clientGone.addEventListener("abort", onGone, { once: true });
    src.on("data", onData);
    src.once("end", onEnd);
    src.on("error", onError);
    src.once("close", onClose);
    res.on("drain", onDrain);
    // Headers share a packet with the first chunk when it is there; else they go now.
    setImmediate(() => {
      if (!over && !wrote) res.flushHeaders();
    });
    src.resume();
  });
}

/**
 * All of `src`'s body, taken from its buffer, when every byte of the declared
 * `Content-Length` is already there and nothing read it yet (the chunks joined when
 * there are several); otherwise undefined and `src` untouched.
 */
function wholeBody(response: Response, src: Readable): Uint8Array | undefined {
  const length = response.headers.get("content-length");
  if (length === null || src.readableFlowing !== null || src.destroyed) return undefined;
  const size = Number(length);
  if (!(size > 0) || src.readableLength !== size) return undefined;
  // Node's read() gives all that is buffered at once; others (Deno's) a chunk at a time.
  const first = src.read() as Uint8Array | null;
  if (first === null || first.byteLength === size) return first ?? undefined;
  const parts = [first];
  let got = first.byteLength;
  while (got < size) {
    const next = src.read() as Uint8Array | null;
    if (next === null) break;
    parts.push(next);
    got += next.byteLength;
  }
  if (got !== size) {
    // Never seen (the buffer held `size` bytes): give them back, the pipe sends them.
    for (let i = parts.length - 1; i >= 0; i--) src.unshift(parts[i]!);
    return undefined;
  }
  const whole = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    whole.set(p, at);
    at += p.byteLength;
  }
  return whole;
}

/** True when `p` settles before the event loop's next turn. */
function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    p.then(() => true, () => true),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ]);
}

/** Resolves when the response can take more data, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
