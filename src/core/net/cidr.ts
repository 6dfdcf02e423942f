/**
 * IPv4/IPv6 CIDR matching for `trusted_proxies`. Addresses are compared as 128-bit
 * values; IPv4 and IPv4-mapped IPv6 (`::ffff:1.2.3.4`) are the same address.
 */

import { parseIp as parseLiteral } from "./ip.ts";

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
  const ip = parseLiteral(t);
  if (ip === undefined) return undefined;
  // IPv4 is kept as IPv4-mapped IPv6, so both spellings of an address are equal.
  let v = ip.family === 4 ? 0xffffn : 0n;
  const bits = ip.family === 4 ? 8n : 16n;
  for (const part of ip.parts) v = (v << bits) | BigInt(part);
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
