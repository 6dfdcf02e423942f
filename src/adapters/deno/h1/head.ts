/**
 * HTTP/1.1 message heads for the Deno upstream client (RFC 9112): the request head
 * written to the upstream, and the response head read from it, strictly. Anything an
 * upstream sends that could be read two ways (conflicting lengths, folded lines,
 * whitespace before a colon) is an error, never a guess.
 *
 * @module
 */

import { HOP_BY_HOP } from "../../../core/proxy/headers.ts";

/** An upstream answer that does not follow HTTP/1.1. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** How many bytes a response head may take, and how many header lines. */
export const MAX_HEAD_BYTES = 64 * 1024;
export const MAX_HEADER_LINES = 256;

/** Request headers the client writes itself, or that only make sense on the client's hop. */
const OWN_REQUEST_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "host",
  "content-length",
]);

/** Methods whose request carries `Content-Length: 0` without a body, as `fetch` does. */
const SENDS_LENGTH = new Set(["POST", "PUT", "PATCH"]);

/**
 * The request head: request line, `Host`, the caller's headers (minus the ones this
 * client owns), `Content-Length`. Names must be tokens and values must not hold CR, LF,
 * NUL or characters above U+00FF (a `TypeError` says which); values go out as Latin-1,
 * as `fetch` sends them.
 */
export function encodeRequestHead(
  method: string,
  target: string,
  host: string,
  headers: Iterable<readonly [string, string]>,
  bodyLength: number | null,
): string {
  if (!TOKEN.test(method)) throw new TypeError(`invalid request method: ${JSON.stringify(method)}`);
  if (!TARGET.test(target)) {
    throw new TypeError(`invalid request target: ${JSON.stringify(target)}`);
  }
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of headers) {
    if (OWN_REQUEST_HEADERS.has(name)) continue;
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    if (!FIELD_VALUE.test(value)) {
      throw new TypeError(`invalid value of header ${name}: ${JSON.stringify(value)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  if (bodyLength !== null) head += `content-length: ${bodyLength}\r\n`;
  else if (SENDS_LENGTH.has(method)) head += "content-length: 0\r\n";
  return head + "\r\n";
}

/** Writes a Latin-1 string (every char ≤ U+00FF, as checked above) into `out` at `at`. */
export function writeLatin1(s: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A parsed response head. */
export interface ResponseHead {
  readonly status: number;
  /** The reason phrase, or "" when it is not one `Response` accepts. */
  readonly statusText: string;
  /** The headers to pass on: hop-by-hop ones and the framing headers removed. */
  readonly headers: [string, string][];
  /** How the body is delimited. */
  readonly framing: "none" | "length" | "chunked" | "close";
  /** The declared length (`framing` "length"), else -1. */
  readonly length: number;
  /** The connection cannot carry another request after this answer. */
  readonly close: boolean;
  /** The upstream's `Keep-Alive: timeout=` in milliseconds, if it sent one. */
  readonly keepAliveMs: number | undefined;
}

/**
 * Parses the head in `buf[start, end)` (without its final CRLF CRLF). `method` and the
 * status decide whether a body follows (RFC 9112 §6.3).
 */
export function parseResponseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  method: string,
): ResponseHead {
  const text = latin1(buf, start, end);
  const lines = text.split("\r\n");
  if (lines.length > MAX_HEADER_LINES + 1) {
    throw new ProtocolError(`more than ${MAX_HEADER_LINES} header lines`);
  }
  const m = STATUS_LINE.exec(lines[0]!);
  if (m === null) throw new ProtocolError(`not an HTTP/1.x status line: ${quote(lines[0]!)}`);
  const status = Number(m[2]);
  const reason = m[3] ?? "";
  const headers: [string, string][] = [];
  let length = -1;
  let transferEncoding: string | undefined;
  let connection = "";
  let keepAlive: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new ProtocolError(`not a header line: ${quote(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) throw new ProtocolError(`invalid header name: ${quote(name)}`);
    const value = line.slice(colon + 1).replace(OWS_EDGES, "");
    if (!FIELD_VALUE.test(value)) throw new ProtocolError(`invalid value of header ${name}`);
    if (name === "content-length") {
      const n = contentLength(value);
      if (length !== -1 && n !== length) {
        throw new ProtocolError(`conflicting Content-Length values: ${length} and ${n}`);
      }
      length = n;
      continue;
    }
    if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      continue;
    }
    if (name === "connection") connection = connection ? `${connection}, ${value}` : value;
    else if (name === "keep-alive") keepAlive = value;
    if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
  }
  const tokens = connection.toLowerCase().split(",").map((t) => t.trim()).filter(Boolean);
  let close = m[1] === "0" ? !tokens.includes("keep-alive") : tokens.includes("close");
  // Headers named by Connection are for this hop only.
  const named = tokens.filter((t) => t !== "close" && t !== "keep-alive");
  const passed = named.length === 0 ? headers : headers.filter(([n]) => !named.includes(n));

  let framing: ResponseHead["framing"];
  const bodiless = method === "HEAD" || status < 200 || status === 204 || status === 304;
  if (bodiless) framing = "none";
  else if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(",").map((t) => t.trim());
    // Chunked must be the last coding; anything else is read until the connection
    // closes. A Content-Length beside it is ignored, and the connection is not reused.
    framing = codings[codings.length - 1] === "chunked" ? "chunked" : "close";
    // HTTP/1.0 has no transfer codings: such an answer ends the connection (RFC 9112 §6.1).
    if (length !== -1 || codings.length > 1 || m[1] === "0") close = true;
    length = -1;
  } else if (length !== -1) framing = "length";
  else framing = "close";
  if (framing === "close") close = true;
  // A HEAD or 304 answer's length describes the body it does not send; a 1xx or 204
  // must not carry one.
  if (framing === "length" || ((method === "HEAD" || status === 304) && length !== -1)) {
    passed.push(["content-length", String(length)]);
  }
  return {
    status,
    statusText: REASON.test(reason) ? reason : "",
    headers: passed,
    framing,
    length: framing === "length" ? length : -1,
    close,
    keepAliveMs: keepAliveTimeout(keepAlive),
  };
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A Content-Length value: digits, or a list of the same digits. */
function contentLength(value: string): number {
  let n = -1;
  for (const part of value.split(",")) {
    const t = part.trim();
    if (!/^\d{1,15}$/.test(t)) throw new ProtocolError(`invalid Content-Length: ${quote(value)}`);
    const v = Number(t);
    if (n !== -1 && v !== n) throw new ProtocolError(`conflicting Content-Length: ${quote(value)}`);
    n = v;
  }
  return n;
}

/** `timeout=N` of a Keep-Alive header, in milliseconds. */
function keepAliveTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /(?:^|[,;\s])timeout=(\d{1,9})/i.exec(value);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** `buf[start, end)` as a Latin-1 string (a header byte is one char, as in `fetch`). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let i = start; i < end; i += 4096) {
    const part = buf.subarray(i, Math.min(end, i + 4096));
    out += String.fromCharCode.apply(null, part as unknown as number[]);
  }
  return out;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
}
