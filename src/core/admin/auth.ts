/**
 * Bearer authentication of the admin API (docs/behaviour.md#access): when a token is configured
 * (`LLMPROXY_ADMIN_AUTH_TOKEN`), every `/api/v1` call must carry
 * `Authorization: Bearer <token>`.
 *
 * The comparison takes the same time whatever the offered token is: both sides are
 * HMAC-SHA-256'd under a random per-process key (Web Crypto), and the two 32-byte
 * digests are compared without an early exit. Neither the token's length nor the
 * position of the first wrong character shows in the timing.
 *
 * @module
 */

/** Checks offered tokens against the configured one. */
export interface TokenChecker {
  /** Whether `offered` equals the configured token (constant time). */
  matches(offered: string): Promise<boolean>;
}

const encoder = new TextEncoder();

/**
 * A {@linkcode TokenChecker} for `token`. The HMAC key is generated on first use and
 * never leaves the process; only the token's digest is kept.
 *
 * @example
 * ```ts
 * import { tokenChecker } from "./auth.ts";
 * const check = tokenChecker("s3cret");
 * await check.matches("s3cret"); // true
 * await check.matches("guess"); // false
 * ```
 */
export function tokenChecker(token: string): TokenChecker {
  let state: Promise<{ key: CryptoKey; expected: Uint8Array }> | undefined;
  const init = async () => {
    const key = await crypto.subtle.generateKey(
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    ) as CryptoKey;
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(token)));
    return { key, expected };
  };
  return {
    async matches(offered: string): Promise<boolean> {
      state ??= init();
      const { key, expected } = await state;
      const got = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(offered)));
      return constantTimeEqual(got, expected);
    },
  };
}

/**
 * Compares two byte arrays of equal length without an early exit. Arrays of different
 * length are unequal (callers compare fixed-size digests, so the length is no secret).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined when the header
 * is missing or uses another scheme. The scheme name is case-insensitive (RFC 7235).
 */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*bearer\s+(\S.*?)\s*$/i.exec(header);
  return m?.[1];
}
