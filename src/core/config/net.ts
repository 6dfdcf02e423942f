/**
 * Addresses as the configuration writes them: listen addresses, CIDRs, host names.
 *
 * Hand-written because the core may not use runtime-specific modules, and the rules here
 * are stricter than a URL parser's (no leading zeros, no zone ids, no brackets).
 *
 * @module
 */

import { type IpAddress, parseIp } from "../net/ip.ts";

export { type IpAddress, parseIp, parseIPv4, parseIPv6 } from "../net/ip.ts";

/**
 * The address a listener binds, for overlap checks: `localhost` is 127.0.0.1 and an
 * IPv4-mapped IPv6 address is its IPv4 address.
 */
export function parseListenAddress(text: string): IpAddress | undefined {
  if (text === "localhost") return { family: 4, parts: [127, 0, 0, 1] };
  const ip = parseIp(text);
  if (ip?.family === 6) {
    const p = ip.parts;
    const mapped = p.slice(0, 5).every((x) => x === 0) && p[5] === 0xffff;
    if (mapped) return { family: 4, parts: [p[6]! >> 8, p[6]! & 255, p[7]! >> 8, p[7]! & 255] };
  }
  return ip;
}

/** Whether `text` may be written as a listen address: an IP literal or `localhost`. */
export function isListenAddress(text: string): boolean {
  return parseListenAddress(text) !== undefined;
}

function isUnspecified(ip: IpAddress): boolean {
  return ip.parts.every((x) => x === 0);
}

/**
 * Whether two listeners on the same port would collide: the same address, `0.0.0.0`
 * against any IPv4 address, or `::` against any address (dual-stack sockets take both
 * families).
 */
export function addressesOverlap(a: IpAddress, b: IpAddress): boolean {
  if (a.family === 6 && isUnspecified(a)) return true;
  if (b.family === 6 && isUnspecified(b)) return true;
  if (a.family !== b.family) return false;
  if (isUnspecified(a) || isUnspecified(b)) return true;
  return a.parts.every((x, i) => x === b.parts[i]);
}

/** Writes an address back for messages, with brackets for IPv6 and the port. */
export function formatListener(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Whether `text` is an IPv4/IPv6 CIDR (`10.0.0.0/8`, `fd00::/8`) or a plain address. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf("/");
  if (slash < 0) return parseIp(text) !== undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9]\d{0,2})$/.test(prefix)) return false;
  return Number(prefix) <= (ip.family === 4 ? 32 : 128);
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Whether `text` is a DNS host name (RFC 1123 labels, at most 253 characters, no port). */
export function isHostname(text: string): boolean {
  return text.length <= 253 && HOSTNAME.test(text);
}
