import type { GroupConfig } from "../../core/config/types.ts";
import type { Logger } from "../../core/log/logger.ts";
import { setHeader } from "../../core/proxy/headers.ts";
import {
  type Transport,
  TransportError,
  type UpstreamRequest,
} from "../../core/proxy/transport.ts";
import { H1Client, parseTarget } from "./h1/client.ts";
import { connectWithin, H1Pool } from "./h1/pool.ts";

/**
 * The outbound side on Deno, one per group. `http:` upstreams without an outbound
 * proxy go through the group's own HTTP/1.1 client (`h1/`, its own keep-alive pool,
 * idle and connect timeouts): it costs far less CPU per request than `fetch`
 * (docs/runtimes.md#deno-upstream-client). `https:` upstreams (HTTP/2 where the
 * upstream offers it) and outbound proxies go through `fetch` with one
 * `Deno.HttpClient` per group. `LLMPROXY_DENO_HTTP1=off`, or an `HTTP_PROXY` in the
 * environment, sends everything through `fetch`.
 *
 * Deno's `fetch` has no connect timeout and decodes gzip/br bodies while keeping
 * `Content-Encoding`, so:
 * - we ask upstreams for `identity`: bytes then pass through exactly as sent;
 * - when response headers are late by `timeout.connect`, a TCP probe to the same
 *   host:port tells a slow upstream (carry on) from one that cannot be reached in
 *   time (abort with a timeout), so blackholed hosts fail over instead of hanging.
 */
export function denoTransports(logger: Logger): (group: GroupConfig) => Transport {
  // An outbound proxy from the environment is honoured by `fetch` (with NO_PROXY), so
  // `http:` requests keep going through it then.
  const envProxy = envFlag("HTTP_PROXY") ?? envFlag("http_proxy");
  const http1 = envFlag("LLMPROXY_DENO_HTTP1") !== "off" && !envProxy;
  return (group) => new DenoTransport(group, logger, http1);
}

/** An environment variable, or undefined when unset or not allowed. */
function envFlag(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
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
  readonly #h1: H1Client | undefined;

  constructor(group: GroupConfig, logger: Logger, http1: boolean) {
    const http = group.http_client;
    this.#connectMs = http.timeout.connect * 1000;
    this.#proxy = http.proxy ? new URL(http.proxy.url) : undefined;
    if (http1 && this.#proxy === undefined) {
      this.#h1 = new H1Client(
        new H1Pool({
          idleMs: http.timeout.idle * 1000,
          connectMs: this.#connectMs,
          keepAlive: http.keepalive > 0,
        }),
      );
    }
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

  send(req: UpstreamRequest): Promise<Response> {
    const target = this.#h1 === undefined ? undefined : parseTarget(req.url);
    // Bytes pass through as the upstream sent them, compressed or not.
    if (target !== undefined) return this.#h1!.send(target, req);
    return this.#fetch(req);
  }

  async #fetch(req: UpstreamRequest): Promise<Response> {
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
    this.#h1?.close();
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#client.close();
  }
}

async function probe(url: URL, timeoutMs: number): Promise<boolean> {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  try {
    (await connectWithin(hostname, port, timeoutMs, url.host)).close();
    return true;
  } catch {
    return false;
  }
}
