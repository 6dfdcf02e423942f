/**
 * 64-bit FNV-1a over the UTF-8 bytes of strings, in pure TypeScript.
 *
 * The state is two unsigned 32-bit halves and every step is exact integer arithmetic
 * on doubles or `Math.imul`, so the result is the same in every JavaScript runtime
 * (Deno, Node, Workers, browsers) and equal to any other language's FNV-1a 64 over the
 * same bytes. BigInt would be simpler to read but allocates on every byte.
 *
 * @module
 */

/** A 64-bit value as two unsigned 32-bit halves (mutable: hashing works in place). */
export interface Hash64 {
  /** Bits 63–32. */
  hi: number;
  /** Bits 31–0. */
  lo: number;
}

/** FNV-1a 64 offset basis 0xcbf29ce484222325. */
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
/** FNV 64 prime 0x100000001b3 = 2^40 + 0x1b3. */
const PRIME_LO = 0x1b3;
const TWO_32 = 4294967296;

/**
 * A running FNV-1a 64 hash. Reusable: {@linkcode Fnv1a64.reset} and
 * {@linkcode Fnv1a64.copy} avoid allocating on hot paths.
 *
 * @example
 * ```ts
 * const h = new Fnv1a64().text("a");
 * h.hex(); // "af63dc4c8601ec8c"
 * ```
 */
export class Fnv1a64 implements Hash64 {
  hi: number = OFFSET_HI;
  lo: number = OFFSET_LO;

  /** Back to the offset basis (the hash of no bytes). */
  reset(): this {
    this.hi = OFFSET_HI;
    this.lo = OFFSET_LO;
    return this;
  }

  /** Takes over `from`'s state, to continue a shared prefix. */
  copy(from: Hash64): this {
    this.hi = from.hi;
    this.lo = from.lo;
    return this;
  }

  /** Feeds one byte (0–255). */
  byte(b: number): this {
    const lo = (this.lo ^ b) >>> 0;
    // (hi·2^32 + lo) × (2^40 + 0x1b3) mod 2^64. lo × 0x1b3 < 2^41 is exact in a double;
    // lo × 2^40 only reaches the high half, as (lo << 8).
    const t = lo * PRIME_LO;
    const newLo = t >>> 0;
    const carry = (t - newLo) / TWO_32;
    this.hi = (this.hi * PRIME_LO + carry + ((lo << 8) >>> 0)) >>> 0;
    this.lo = newLo;
    return this;
  }

  /**
   * Feeds the UTF-8 encoding of `s`, as `TextEncoder` produces it (a lone surrogate
   * becomes U+FFFD), without allocating the bytes.
   */
  text(s: string): this {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        this.byte(c);
        continue;
      }
      if (c < 0x800) {
        this.byte(0xc0 | (c >> 6)).byte(0x80 | (c & 0x3f));
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          this.byte(0xf0 | (c >> 18)).byte(0x80 | ((c >> 12) & 0x3f));
          this.byte(0x80 | ((c >> 6) & 0x3f)).byte(0x80 | (c & 0x3f));
          continue;
        }
        c = 0xfffd;
      }
      this.byte(0xe0 | (c >> 12)).byte(0x80 | ((c >> 6) & 0x3f)).byte(0x80 | (c & 0x3f));
    }
    return this;
  }

  /** The state as 16 lower-case hex digits. */
  hex(): string {
    return hex64(this);
  }
}

/** `h` as 16 lower-case hex digits. */
export function hex64(h: Hash64): string {
  return h.hi.toString(16).padStart(8, "0") + h.lo.toString(16).padStart(8, "0");
}
