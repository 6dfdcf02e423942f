import type { GroupConfig } from "../../core/config/types.ts";
import type { Logger } from "../../core/log/logger.ts";
import { setHeader } from "../../core/proxy/headers.ts";
import {
  type Transport,
  TransportError,
  type UpstreamRequest,
} from "../../core/proxy/transport.ts";

/**
 * The outbound side on Deno: one `Deno.HttpClient` per group (its own pool, idle
 * timeout and outbound proxy).
 *
 * Deno's `fetch` has no connect timeout and decodes gzip/br bodies while keeping
 * `Content-Encoding`, so:
 * - we ask upstreams for `identity`: bytes then pass through exactly as sent;
 * - when response headers are late by `timeout.connect`, a TCP probe to the same
 *   host:port tells a slow upstream (carry on) from one that cannot be reached in
 *   time (abort with a timeout), so blackholed hosts fail over instead of hanging.
 */
export function denoTransports(logger: Logger): (group: GroupConfig) => Transport {
  return (group) => new DenoTransport(group, logger);
}

/** A request still waiting for its response headers. */
interface Waiting {
  readonly req: UpstreamRequest;
  readonly since: number;
  probing?: boolean;
  connectFailed?: TransportError;
}

class DenoTransport implements Transport {
  readonly #client: Deno.HttpClient;
  readonly #waiting = new Set<Waiting>();
  #watch: ReturnType<typeof setInterval> | undefined;
  readonly #connectMs: number;
  readonly #proxy: URL | undefined;

  constructor(group: GroupConfig, logger: Logger) {
    const http = group.http_client;
    this.#connectMs = http.timeout.connect * 1000;
    this.#proxy = http.proxy ? new URL(http.proxy.url) : undefined;
    const options: Deno.CreateHttpClientOptions = { poolIdleTimeout: http.timeout.idle * 1000 };
    if (this.#proxy) {
      const p = this.#proxy;
      const basicAuth = p.username
        ? { username: decodeURIComponent(p.username), password: decodeURIComponent(p.password) }
        : undefined;
      options.proxy = {
        url: `${p.protocol}//${p.host}`,
        ...(basicAuth ? { basicAuth } : {}),
        ...(p.protocol === "socks5:" ? { transport: "socks5" as const } : {}),
      };
    }
    this.#client = Deno.createHttpClient(options);
    logger.log("debug", "outbound client created", { group: group.name });
  }

  async send(req: UpstreamRequest): Promise<Response> {
    setHeader(req.headers, "accept-encoding", "identity");
    const waiting: Waiting = { req, since: Date.now() };
    this.#waiting.add(waiting);
    this.#watch ??= setInterval(() => this.#sweep(), Math.max(100, this.#connectMs / 4));
    try {
      // The request's own signal: it keeps reaching the fetch after the headers (client
      // gone or deadline mid-stream).
      return await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        redirect: "manual",
        client: this.#client,
      });
    } catch (e) {
      if (waiting.connectFailed) throw waiting.connectFailed;
      throw e;
    } finally {
      this.#waiting.delete(waiting);
      if (this.#waiting.size === 0 && this.#watch !== undefined) {
        clearInterval(this.#watch);
        this.#watch = undefined;
      }
    }
  }

  /**
   * One timer per transport, not per request: requests still without headers after
   * `connect` get a TCP probe; if it cannot connect in time either, the request is
   * aborted as a connect timeout.
   */
  #sweep(): void {
    const due = Date.now() - this.#connectMs;
    for (const w of this.#waiting) {
      if (w.since > due || w.probing) continue;
      w.probing = true;
      const target = this.#proxy ?? new URL(w.req.url);
      void probe(target, this.#connectMs).then((ok) => {
        if (ok || w.req.signal.aborted || !this.#waiting.has(w)) return;
        w.connectFailed = new TransportError(
          "timeout",
          `connect to ${target.host} did not complete within ${this.#connectMs} ms`,
        );
        w.req.abort?.(w.connectFailed);
      });
    }
  }

  close(): void {
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#client.close();
  }
}

async function probe(url: URL, timeoutMs: number): Promise<boolean> {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname, port });
  try {
    const conn = await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("probe timed out")), timeoutMs);
      }),
    ]);
    conn.close();
    return true;
  } catch {
    // The timer won: a connect that completes later must not keep its socket.
    connecting.then((c) => c.close(), () => {});
    return false;
  } finally {
    clearTimeout(timer);
  }
}
