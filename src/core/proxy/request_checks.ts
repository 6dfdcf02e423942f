import type { ProxyErrorCode } from "./errors.ts";

/** Why a request cannot be proxied at all: the client's error, never an upstream's. */
export interface RequestProblem {
  readonly code: ProxyErrorCode;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Methods no runtime's `fetch` will send (the Fetch standard forbids them): a request
 * with one must be refused here, before it can count as an upstream failure.
 */
const UNSENDABLE = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * A `Host` value that names only a host: a registered name, an IPv4 address or a
 * bracketed IPv6 literal, and an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2).
 * Runtimes build `request.url` from `Host`, so anything else (a `/`, `?`, `#`, `@`,
 * space) would change the path the router and the upstream URL see.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{1,5})?$/;

/**
 * Checks what must hold before a request is routed: a method the proxy can send and a
 * `Host` that cannot steer the path.
 */
export function checkRequest(request: Request): RequestProblem | undefined {
  const method = request.method.toUpperCase();
  if (UNSENDABLE.has(method)) {
    return {
      code: "method_not_allowed",
      message: `method ${method} cannot be proxied`,
      headers: { allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" },
    };
  }
  const host = request.headers.get("host");
  if (host !== null && !HOST.test(host)) {
    return {
      code: "invalid_request",
      message: "the Host header must be a host name or address with an optional port",
    };
  }
  return undefined;
}

/** The request target's path and query, or undefined when the URL cannot be read. */
export function requestTarget(request: Request): { path: string; search: string } | undefined {
  try {
    const url = new URL(request.url);
    return { path: url.pathname, search: url.search };
  } catch {
    return undefined;
  }
}
