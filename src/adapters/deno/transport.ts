import type { GroupConfig } from "../../core/config/types.ts";
import type { Logger } from "../../core/log/logger.ts";
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

class DenoTransport implements Transport {
  readonly #client: Deno.HttpClient;
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
    req.headers.set("accept-encoding", "identity");
    // The request's own signal must keep reaching the fetch after the headers (client
    // gone or deadline mid-stream), so the watchdog joins it instead of replacing it.
    const watchdogAc = new AbortController();
    let connectFailed: TransportError | undefined;
    const watchdog = setTimeout(() => {
      const target = this.#proxy ?? new URL(req.url);
      void probe(target, this.#connectMs).then((ok) => {
        if (ok || req.signal.aborted) return;
        connectFailed = new TransportError(
          "timeout",
          `connect to ${target.host} did not complete within ${this.#connectMs} ms`,
        );
        watchdogAc.abort(connectFailed);
      });
    }, this.#connectMs);
    try {
      return await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.any([req.signal, watchdogAc.signal]),
        redirect: "manual",
        client: this.#client,
      });
    } catch (e) {
      if (connectFailed) throw connectFailed;
      throw e;
    } finally {
      clearTimeout(watchdog);
    }
  }

  close(): void {
    this.#client.close();
  }
}

async function probe(url: URL, timeoutMs: number): Promise<boolean> {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname, port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("probe timed out")), timeoutMs);
      }),
    ]);
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
