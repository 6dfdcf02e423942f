/**
 * MurmurHash3's 64-bit finaliser, in place on two 32-bit halves.
 *
 * FNV-1a's last steps only carry differences towards the high bits, so hashes of
 * strings that differ in their last bytes (member names "a" and "b") are correlated;
 * rendezvous hashing needs each member's score to look independent. `fmix64` makes
 * every input bit affect every output bit.
 *
 * @module
 */

import type { Hash64 } from "./fnv1a64.ts";

/** 0xff51afd7ed558ccd */
const C1_HI = 0xff51afd7;
const C1_LO = 0xed558ccd;
/** 0xc4ceb9fe1a85ec53 */
const C2_HI = 0xc4ceb9fe;
const C2_LO = 0x1a85ec53;

/**
 * `h ← h × b mod 2^64`. The low halves are multiplied in 16-bit pieces so every
 * partial product is exact; the cross terms only matter mod 2^32, which `Math.imul`
 * gives.
 */
function mul64(h: Hash64, bHi: number, bLo: number): void {
  const aLo = h.lo;
  const aHi = h.hi;
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  h.lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  h.hi = (carry + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) >>> 0;
}

/** `h ^= h >>> 33` */
function xorShift33(h: Hash64): void {
  h.lo = (h.lo ^ (h.hi >>> 1)) >>> 0;
}

/**
 * MurmurHash3 `fmix64`, applied to `h` in place.
 *
 * @example
 * ```ts
 * const h = { hi: 0, lo: 1 };
 * fmix64(h); // h is now 0xb456bcfc34c2cb2c
 * ```
 */
export function fmix64(h: Hash64): void {
  xorShift33(h);
  mul64(h, C1_HI, C1_LO);
  xorShift33(h);
  mul64(h, C2_HI, C2_LO);
  xorShift33(h);
}
