import type { AuthConfig, HeaderOpConfig } from "../config/types.ts";

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones proxies must never forward. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Removes hop-by-hop headers, including those named by `Connection`, in place. */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) {
    for (const name of connection.split(",")) {
      const n = name.trim().toLowerCase();
      if (n) headers.delete(n);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/** Facts about the client side needed to build the upstream request headers. */
export interface ForwardedInfo {
  readonly clientIp: string;
  readonly proto: string;
  readonly host: string | null;
  readonly agent: string;
}

/**
 * Builds the upstream request headers from the client's: hop-by-hop removed, `Host`
 * left to the transport (it follows the target URL), `X-Forwarded-*`, `User-Agent`,
 * then the upstream's header ops in order, then its auth, which replaces whatever the
 * client sent so client credentials never reach the provider.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  info: ForwardedInfo,
  ops: readonly HeaderOpConfig[],
  authorization: string | null,
): Headers {
  const h = new Headers(incoming);
  stripHopByHop(h);
  h.delete("host");
  // Body framing is the transport's job: the body is re-sent from memory.
  h.delete("content-length");
  const xff = h.get("x-forwarded-for");
  h.set("x-forwarded-for", xff ? `${xff}, ${info.clientIp}` : info.clientIp);
  h.set("x-forwarded-proto", info.proto);
  if (info.host !== null && !h.has("x-forwarded-host")) h.set("x-forwarded-host", info.host);
  h.set("user-agent", info.agent);
  applyHeaderOps(h, ops);
  if (authorization !== null) h.set("authorization", authorization);
  return h;
}

/** Applies insert (only if absent), replace (set) and remove (all values), in order. */
export function applyHeaderOps(h: Headers, ops: readonly HeaderOpConfig[]): void {
  for (const op of ops) {
    if (op.op === "remove") h.delete(op.key);
    else if (op.op === "replace") h.set(op.key, op.value ?? "");
    else if (!h.has(op.key)) h.set(op.key, op.value ?? "");
  }
}

/** The Authorization value an upstream's auth produces, or null for `none`. */
export function authorizationFor(auth: AuthConfig): string | null {
  switch (auth.type) {
    case "bearer":
      return `Bearer ${auth.token}`;
    case "basic":
      return `Basic ${base64Utf8(`${auth.username}:${auth.password}`)}`;
    default:
      return null;
  }
}

function base64Utf8(s: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Response headers for the client: upstream's, minus hop-by-hop. */
export function clientResponseHeaders(upstream: Headers): Headers {
  const h = new Headers(upstream);
  stripHopByHop(h);
  return h;
}
