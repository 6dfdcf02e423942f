import type { GroupConfig } from "../config/types.ts";
import type { HeaderList } from "./headers.ts";

/** One request the pipeline hands to a transport. */
export interface UpstreamRequest {
  readonly url: string;
  readonly method: string;
  /** `[lower-case name, value]` pairs; a transport may adjust them before sending. */
  readonly headers: HeaderList;
  /** Read once from the client so it can be re-sent on retry. */
  readonly body: Uint8Array<ArrayBuffer> | null;
  /** Aborts the exchange: client gone, request timeout, or shutdown. */
  readonly signal: AbortSignal;
  /**
   * Aborts `signal` with a reason; a transport that detects a failure the runtime does
   * not report (a connect that does not complete) ends the exchange through it.
   */
  readonly abort?: (reason: unknown) => void;
}

/**
 * Outbound HTTP for one group. Each adapter decides pooling, keep-alive, connect
 * timeout and outbound proxy.
 *
 * Contract: the returned response carries the upstream's bytes as they came (no
 * transparent decompression, or `Content-Encoding` removed when the runtime decoded);
 * failures reject with a {@link TransportError} when the adapter can tell a connect
 * timeout from other failures, any other error counts as unreachable.
 */
export interface Transport {
  send(request: UpstreamRequest): Promise<Response>;
  /** Closes pooled connections; called once no request uses the transport. */
  close(): void;
}

/** Builds the transport of a group (called when a snapshot is built). */
export type TransportFactory = (group: GroupConfig) => Transport;

/** A classified transport failure. */
export class TransportError extends Error {
  readonly kind: "unreachable" | "timeout";
  constructor(kind: "unreachable" | "timeout", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
    this.kind = kind;
  }
}

/**
 * A transport over a plain `fetch` (Workers, tests, library use). Runtimes whose
 * `fetch` decodes compressed bodies while keeping `Content-Encoding` need their own
 * transport (the Deno adapter asks upstreams for identity); Workers' `fetch` keeps the
 * encoded bytes of a body that is passed on, so this one sends the request unchanged.
 */
export function fetchTransport(fetchFn: typeof fetch = fetch): Transport {
  return {
    async send(req) {
      const res = await fetchFn(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        redirect: "manual",
      });
      return res;
    },
    close() {},
  };
}
