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
  // One pass over the client's headers: hop-by-hop ones (and those Connection names),
  // Host (the transport sets the upstream's) and Content-Length (the body is re-sent
  // from memory) are left out.
  const connection = incoming.get("connection");
  const named = connection ? connectionNames(connection) : undefined;
  const h = new Headers();
  let xff: string | null = null;
  for (const [name, value] of incoming) {
    if (HOP_BY_HOP.has(name) || name === "host" || name === "content-length") continue;
    if (named?.has(name)) continue;
    if (name === "x-forwarded-for") {
      xff = value;
      continue;
    }
    h.append(name, value);
  }
  h.set("x-forwarded-for", xff ? `${xff}, ${info.clientIp}` : info.clientIp);
  h.set("x-forwarded-proto", info.proto);
  if (info.host !== null && !h.has("x-forwarded-host")) h.set("x-forwarded-host", info.host);
  h.set("user-agent", info.agent);
  if (ops.length > 0) applyHeaderOps(h, ops);
  if (authorization !== null) h.set("authorization", authorization);
  return h;
}

function connectionNames(value: string): Set<string> {
  const out = new Set<string>();
  for (const n of value.split(",")) {
    const name = n.trim().toLowerCase();
    if (name) out.add(name);
  }
  return out;
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

/**
 * Response headers for the client: the upstream's minus hop-by-hop ones. Most answers
 * carry none, and then the upstream's headers are used as they are (no copy).
 */
export function clientResponseHeaders(upstream: Headers): Headers {
  let hop = false;
  for (const name of HOP_BY_HOP) {
    if (upstream.has(name)) {
      hop = true;
      break;
    }
  }
  if (!hop) return upstream;
  const h = new Headers(upstream);
  stripHopByHop(h);
  return h;
}
