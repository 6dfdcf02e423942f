import type { AuthConfig, HeaderOpConfig } from "../config/types.ts";

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones proxies must never forward. */
/** Hop-by-hop headers (RFC 9110 §7.6.1): for one connection, never passed on. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
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
  /**
   * The connecting peer: what X-Forwarded-For gets appended (docs/behaviour.md#x-forwarded-for).
   */
  readonly peer: string;
  readonly proto: string;
  readonly host: string | null;
  readonly agent: string;
  /**
   * The peer is one of the forward's `trusted_proxies`: its `X-Forwarded-Host` and
   * `X-Forwarded-Proto` describe the original client and are kept; from anyone else
   * they are replaced, so a client cannot make the upstream believe another host.
   */
  readonly trustForwarded?: boolean;
  /**
   * The forward checks client keys: the client's `Authorization` and `x-api-key` are
   * removed before header ops and upstream auth apply, so its key never leaves.
   */
  readonly dropClientKey?: boolean;
}

/**
 * Upstream request headers as a list of `[lower-case name, value]` pairs. A list, not a
 * `Headers`: the runtime's `fetch` validates and copies headers once more anyway, and
 * building a `Headers` first doubled that cost on the hot path.
 */
export type HeaderList = [string, string][];

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
): HeaderList {
  // One pass over the client's headers: hop-by-hop ones (and those Connection names),
  // Host (the transport sets the upstream's) and Content-Length (the body is re-sent
  // from memory) are left out; those the proxy sets itself are set below.
  const connection = incoming.get("connection");
  const named = connection ? connectionNames(connection) : undefined;
  const h: HeaderList = [];
  let xff: string | null = null;
  let xfh: string | null = null;
  let xfp: string | null = null;
  const dropKey = info.dropClientKey === true;
  for (const pair of incoming) {
    const name = pair[0];
    // Connection-named headers are hop-by-hop, whatever they are called.
    if (named?.has(name)) continue;
    if (dropKey && (name === "authorization" || name === "x-api-key")) continue;
    if (HOP_BY_HOP.has(name) || OWN.has(name)) {
      if (name === "x-forwarded-for") xff = pair[1];
      else if (name === "x-forwarded-host") xfh = pair[1];
      else if (name === "x-forwarded-proto") xfp = pair[1];
      continue;
    }
    h.push(pair);
  }
  const trusted = info.trustForwarded === true;
  h.push(
    ["x-forwarded-for", xff ? `${xff}, ${info.peer}` : info.peer],
    ["x-forwarded-proto", (trusted ? xfp : null) ?? info.proto],
    ["user-agent", info.agent],
  );
  const host = (trusted ? xfh : null) ?? info.host;
  if (host !== null) h.push(["x-forwarded-host", host]);
  for (const op of ops) applyHeaderOp(h, op);
  if (authorization !== null) setHeader(h, "authorization", authorization);
  return h;
}

/** Request headers the proxy drops or sets itself. */
const OWN = new Set([
  "host",
  "content-length",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "user-agent",
]);

/**
 * The client's `X-Forwarded-For`, unless `Connection` names it (then it is hop-by-hop
 * and means nothing beyond the peer).
 */
export function forwardedForOf(headers: Headers): string | null {
  const xff = headers.get("x-forwarded-for");
  if (xff === null) return null;
  const connection = headers.get("connection");
  if (connection !== null && connectionNames(connection).has("x-forwarded-for")) return null;
  return xff;
}

function connectionNames(value: string): Set<string> {
  const out = new Set<string>();
  for (const n of value.split(",")) {
    const name = n.trim().toLowerCase();
    if (name) out.add(name);
  }
  return out;
}

/** Sets `name` (lower-case) to one value, replacing every earlier one. */
export function setHeader(h: HeaderList, name: string, value: string): void {
  deleteHeader(h, name);
  h.push([name, value]);
}

/** Removes every value of `name` (lower-case). */
export function deleteHeader(h: HeaderList, name: string): void {
  for (let i = h.length - 1; i >= 0; i--) if (h[i]![0] === name) h.splice(i, 1);
}

/** Applies one op: insert (only if absent), replace (set) or remove (all values). */
function applyHeaderOp(h: HeaderList, op: HeaderOpConfig): void {
  const name = op.key.toLowerCase();
  if (op.op === "remove") deleteHeader(h, name);
  else if (op.op === "replace") setHeader(h, name, op.value ?? "");
  else if (!h.some((p) => p[0] === name)) h.push([name, op.value ?? ""]);
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
