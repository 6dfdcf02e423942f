/**
 * Loopback addresses (docs/behaviour.md#access): whether a listen address is reachable only from
 * the machine itself (the start-up warning about an admin API without a token), and
 * whether a connecting peer is the machine itself (the admin API without a token
 * answers only such peers).
 *
 * @module
 */

import { parseIp } from "../net/ip.ts";

/**
 * True for `localhost`, any IPv4 address in 127.0.0.0/8, `::1` (in any spelling) and
 * an IPv4-mapped loopback (`::ffff:127.0.0.1`). Wildcards (`0.0.0.0`, `::`) and every
 * other address are not loopback.
 *
 * @example
 * ```ts
 * import { isLoopbackAddress } from "./loopback.ts";
 * isLoopbackAddress("127.0.0.1"); // true
 * isLoopbackAddress("0.0.0.0"); // false
 * ```
 */
export function isLoopbackAddress(address: string): boolean {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (a === "localhost" || a === "localhost.") return true;
  if (!a.includes(":")) return isLoopbackV4(a);
  // IPv4-mapped IPv6 (::ffff:127.0.0.1): the IPv4 part decides.
  const last = a.lastIndexOf(":");
  const tail = a.slice(last + 1);
  if (tail.includes(".")) {
    const head = expandIpv6(`${a.slice(0, last + 1)}0:0`);
    return head?.startsWith("0000:0000:0000:0000:0000:ffff:") === true && isLoopbackV4(tail);
  }
  return expandIpv6(a) === "0000:0000:0000:0000:0000:0000:0000:0001";
}

function isLoopbackV4(a: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  return v4 !== null && v4.slice(1).every((n) => Number(n) <= 255) && Number(v4[1]) === 127;
}

function expandIpv6(a: string): string | undefined {
  const halves = a.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array(missing).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.padStart(4, "0")).join(":");
}

/**
 * Whether the connecting peer `address` is the machine itself: an IP literal in
 * 127.0.0.0/8, `::1`, or an IPv4-mapped loopback (`::ffff:127.x.y.z`, in any IPv6
 * spelling). Stricter than {@linkcode isLoopbackAddress}: a peer is always an IP, so a
 * name (`localhost`), a zone id, leading zeros, an empty or missing address all count
 * as not loopback; whoever cannot say where a request came from gets no access.
 *
 * @example
 * ```ts
 * import { isLoopbackPeer } from "./loopback.ts";
 * isLoopbackPeer("127.0.0.1"); // true
 * isLoopbackPeer("::ffff:127.0.0.1"); // true
 * isLoopbackPeer(undefined); // false
 * ```
 */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (typeof address !== "string") return false;
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const ip = parseIp(bare);
  if (ip === undefined) return false;
  const p = ip.parts;
  if (ip.family === 4) return p[0] === 127;
  const zeros = (n: number) => p.slice(0, n).every((g) => g === 0);
  if (zeros(7) && p[7] === 1) return true;
  // ::ffff:127.0.0.0/104, the form a dual-stack listener reports IPv4 peers in.
  return zeros(5) && p[5] === 0xffff && (p[6]! >> 8) === 127;
}
