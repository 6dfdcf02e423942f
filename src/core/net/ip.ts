/**
 * IPv4 and IPv6 literals, strictly: no leading zeros (they read as octal elsewhere), no
 * zone ids, no brackets. The configuration validates with these; runtime addresses
 * (peers, X-Forwarded-For hops) are matched with them too, after `cidr.ts` strips
 * brackets and zone ids.
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
