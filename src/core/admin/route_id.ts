/**
 * Route rules are addressed in the admin API by the URL-safe base64 of their path
 * pattern (docs/behaviour.md#endpoints-and-live-changes), so that `/v1/*` or
 * `/api/items/{id:[0-9]+}` fit in one URL segment. Padding is optional on input and never written
 * on output.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUE = new Map([...ALPHABET].map((ch, i) => [ch, i]));

/**
 * The URL-safe base64 (RFC 4648 §5) of a route pattern's UTF-8 bytes, without padding.
 *
 * @example
 * ```ts
 * import { encodeRouteId } from "./route_id.ts";
 * encodeRouteId("/v1/*"); // "L3YxLyo"
 * ```
 */
export function encodeRouteId(path: string): string {
  const bytes = new TextEncoder().encode(path);
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += ALPHABET[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/**
 * Decodes a route id back to its pattern, or returns an error message saying what is
 * wrong: characters outside the URL-safe alphabet (`A–Z a–z 0–9 - _`), misplaced or
 * excess `=` padding, an impossible length, or bytes that are not UTF-8.
 *
 * @example
 * ```ts
 * import { decodeRouteId } from "./route_id.ts";
 * decodeRouteId("L3YxLyo"); // { ok: true, path: "/v1/*" }
 * decodeRouteId("L3YxLyo="); // { ok: true, path: "/v1/*" }
 * decodeRouteId("L3Yx+yo"); // { ok: false, message: "…" }
 * ```
 */
export function decodeRouteId(
  id: string,
): { ok: true; path: string } | { ok: false; message: string } {
  const fail = (why: string) => ({
    ok: false as const,
    message: `route id ${JSON.stringify(id)} is not URL-safe base64 of a path: ${why}`,
  });
  const body = id.replace(/=+$/, "");
  const padding = id.length - body.length;
  if (body === "") return fail("it is empty");
  for (const ch of body) {
    if (ch !== "=" && !VALUE.has(ch)) {
      const hint = ch === "+" || ch === "/" ? ' (use "-" and "_" instead of "+" and "/")' : "";
      return fail(`character ${JSON.stringify(ch)} is outside the URL-safe alphabet${hint}`);
    }
  }
  if (body.includes("=")) return fail('"=" may only appear as padding at the end');
  if (body.length % 4 === 1) return fail(`a length of ${body.length} characters is impossible`);
  if (padding > 0 && (body.length + padding) % 4 !== 0) return fail("wrong amount of padding");
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of body) {
    acc = (acc << 6) | VALUE.get(ch)!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
      acc &= (1 << bits) - 1;
    }
  }
  try {
    const path = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    return { ok: true, path };
  } catch {
    return fail("the decoded bytes are not UTF-8 text");
  }
}
