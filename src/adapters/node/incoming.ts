import type { IncomingMessage } from "node:http";
import { nodeRequest } from "./lazy_body.ts";

/**
 * The client's IP as the connection knows it; IPv4 clients of a dual-stack (`::`)
 * listener show up as `::ffff:1.2.3.4` and are reported as `1.2.3.4`.
 */
export function peerAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? "";
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** A Host header that can only name a host (no path, query, userinfo or spaces). */
const HOST = /^[A-Za-z0-9.\-_~!$&'()*+,;=:%[\]]+$/;

/**
 * A web `Request` for a Node request: headers in the order and case they came, the
 * URL from `Host` (or the listener's address when `Host` is missing or unusable), and
 * the body left a Node stream until the core reads it (lazy_body.ts).
 *
 * When the handler cancels the body (it answered without reading it all: 413, 429,
 * 408), the rest is not read: the core's answer says `Connection: close`, so Node
 * closes the connection once the answer is out.
 *
 * Throws (a `TypeError`) on a request no `Request` can represent; the listener
 * answers 400.
 */
export function toRequest(req: IncomingMessage, listenerHost: string): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);

  const target = req.url ?? "/";
  const hostHeader = req.headers.host;
  const host = hostHeader && HOST.test(hostHeader) ? hostHeader : listenerHost;
  // Origin-form is the rule; absolute-form (`GET http://h/p`) is allowed by RFC 9112.
  const url = target.startsWith("/") ? `http://${host}${target}` : target;
  if (!/^https?:\/\//i.test(url)) throw new TypeError(`unsupported request target ${target}`);

  const method = req.method ?? "GET";
  const te = req.headers["transfer-encoding"];
  const cl = req.headers["content-length"];
  const hasBody = method !== "GET" && method !== "HEAD" &&
    (te !== undefined || (cl !== undefined && cl !== "0"));
  return hasBody
    ? nodeRequest(url, { method, headers }, req, () => req.pause())
    : nodeRequest(url, { method, headers });
}
