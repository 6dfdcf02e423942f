/**
 * Addresses as the configuration writes them: listen addresses, CIDRs, host names.
 *
 * Hand-written because the core may not use runtime-specific modules, and the rules here
 * are stricter than a URL parser's (no leading zeros, no zone ids, no brackets).
 *
 * @module
 */

/** A parsed IP address: 4 bytes or 8 groups of 16 bits. */
export type IpAddress =
  | { readonly family: 4; readonly parts: readonly number[] }
  | { readonly family: 6; readonly parts: readonly number[] };

/** Parses a dotted-quad IPv4 address; leading zeros are refused (they read as octal elsewhere). */
export function parseIPv4(text: string): IpAddress | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  const parts: number[] = [];
  for (const octet of m.slice(1)) {
    if (octet.length > 1 && octet.startsWith("0")) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    parts.push(n);
  }
  return { family: 4, parts };
}

/** Parses an IPv6 address (with `::` and an optional dotted IPv4 tail, without zone id). */
export function parseIPv6(text: string): IpAddress | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseSide = (side: string): number[] | undefined => {
    if (side === "") return [];
    const groups: number[] = [];
    const pieces = side.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        const [a, b, c, d] = v4.parts as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return undefined;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parseSide(halves[0]!);
  const tail = halves.length === 2 ? parseSide(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? { family: 6, parts: head } : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return { family: 6, parts: [...head, ...new Array<number>(missing).fill(0), ...tail] };
}

/** Parses an IPv4 or IPv6 literal. */
export function parseIp(text: string): IpAddress | undefined {
  return parseIPv4(text) ?? parseIPv6(text);
}

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
