/**
 * IPv4/IPv6 CIDR matching for `trusted_proxies`. Addresses are compared as 128-bit
 * values; IPv4 and IPv4-mapped IPv6 (`::ffff:1.2.3.4`) are the same address.
 */

/** A parsed CIDR block. */
export interface Cidr {
  readonly base: bigint;
  readonly mask: bigint;
}

const FULL = (1n << 128n) - 1n;

/** Parses `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`; undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (addr === undefined) return undefined;
  const v4 = !addrText.includes(":");
  const maxBits = v4 ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return undefined;
    bits = Number(b);
    if (bits > maxBits) return undefined;
  }
  const prefix = v4 ? bits + 96 : bits;
  const mask = prefix === 0 ? 0n : (FULL << BigInt(128 - prefix)) & FULL;
  return { base: addr & mask, mask };
}

/** Parses an IPv4 or IPv6 literal (brackets and zone ids allowed) to a 128-bit value. */
export function parseIp(text: string): bigint | undefined {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  if (!t.includes(":")) {
    const v4 = parseV4(t);
    return v4 === undefined ? undefined : (0xffffn << 32n) | v4;
  }
  return parseV6(t);
}

function parseV4(t: string): bigint | undefined {
  const parts = t.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(text: string): bigint | undefined {
  let t = text;
  const lastColon = t.lastIndexOf(":");
  const last = t.slice(lastColon + 1);
  if (last.includes(".")) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) is two 16-bit groups.
    const v4 = parseV4(last);
    if (v4 === undefined) return undefined;
    t = `${t.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = t.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): bigint[] | undefined => {
    if (s === "") return [];
    const out: bigint[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(parseInt(g, 16)));
    }
    return out;
  };
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (head === undefined || rest === undefined) return undefined;
  const groups = [...head];
  const total = head.length + rest.length;
  if (halves.length === 2) {
    if (total > 7) return undefined;
    for (let i = total; i < 8; i++) groups.push(0n);
  } else if (total !== 8) return undefined;
  groups.push(...rest);
  let v = 0n;
  for (const g of groups) v = (v << 16n) | g;
  return v;
}

/** True when `ip` lies in any of the blocks. */
export function inAnyCidr(ip: string, blocks: readonly Cidr[]): boolean {
  if (blocks.length === 0) return false;
  const v = parseIp(ip);
  if (v === undefined) return false;
  for (const b of blocks) if ((v & b.mask) === b.base) return true;
  return false;
}
