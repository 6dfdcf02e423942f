import { clientResponseHeaders } from "./headers.ts";

/** Longest error body kept in memory so it can be returned if retries run out. */
export const KEEP_ERROR_BODY = 64 * 1024;

/** An upstream answer kept in memory while another try is made. */
export interface KeptResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: Uint8Array<ArrayBuffer>;
}

/** What reading a retriable answer gave. */
export type KeepResult =
  | { readonly kind: "kept"; readonly kept: KeptResponse }
  /**
   * Too large to keep: the answer as it came (what was read, then the rest), to be
   * passed on instead of retried, so the client still gets the upstream's own answer.
   */
  | { readonly kind: "too_large"; readonly response: Response }
  /** The body failed while it was read. */
  | { readonly kind: "failed" };

/**
 * Reads a (retriable) error answer into memory, up to {@linkcode KEEP_ERROR_BODY}, so
 * it can be returned as it was when the tries run out.
 */
export async function keepSmall(res: Response): Promise<KeepResult> {
  // A copy: the length is set anew for the kept bytes.
  const headers = new Headers(clientResponseHeaders(res.headers));
  const base = { status: res.status, statusText: res.statusText, headers };
  if (!res.body) return { kind: "kept", kept: { ...base, body: new Uint8Array(0) } };
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      parts.push(value);
      if (size > KEEP_ERROR_BODY) {
        const rest = replay(parts, reader);
        const response = new Response(rest, {
          status: res.status,
          statusText: res.statusText,
          headers: clientResponseHeaders(res.headers),
        });
        return { kind: "too_large", response };
      }
    }
  } catch {
    return { kind: "failed" };
  }
  const body = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    body.set(p, o);
    o += p.byteLength;
  }
  headers.delete("content-length");
  return { kind: "kept", kept: { ...base, body } };
}

/** A stream of the chunks already read, then the rest of `reader`. */
function replay(
  read: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < read.length) {
        controller.enqueue(read[i]!);
        read[i++] = EMPTY;
        return;
      }
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

const EMPTY = new Uint8Array(0);
