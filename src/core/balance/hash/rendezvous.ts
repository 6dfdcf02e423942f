/**
 * Weighted rendezvous (highest random weight) hashing, identical in every runtime.
 *
 * ## The hash (fleet-wide contract: change it and every key moves)
 *
 * For a key and a member name:
 *
 * ```text
 * h = fmix64( FNV-1a-64( utf8(key) ‖ 0x00 ‖ utf8(name) ) )
 * u = (⌊h / 2^12⌋ + 0.5) / 2^52        // top 52 bits, strictly inside (0, 1)
 * score = weight / −ln(u)              // the member with the highest score wins
 * ```
 *
 * - FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) is a public standard
 *   with published vectors, a dozen lines in any language, and needs no seed, so every
 *   process (Deno, Node, Workers, a sidecar in another language) computes the same h.
 * - The key comes first so its bytes are hashed once per pick and only the short
 *   member names are hashed per member: a client-controlled key (a body field can be
 *   megabytes) costs O(key + members × name), not O(members × key).
 * - MurmurHash3's `fmix64` finaliser decorrelates the scores of names that differ only
 *   in their last bytes, which plain FNV would leave related.
 * - 52 bits keep `u` strictly below 1 after rounding, so `ln(u)` is never 0.
 * - `weight / −ln(u)` is the standard weighted rendezvous score (equivalently
 *   `−weight / ln(u)`): member m wins a key with probability weight(m) / Σ weights.
 *   Equal scores (astronomically rare) go to the name that sorts first.
 *
 * Because each member's score depends only on the key and that member, removing a
 * member moves exactly the keys it won (each to its runner-up), and restoring it takes
 * back exactly those keys.
 *
 * Reference implementation for other runtimes (BigInt; Python is the same shape):
 *
 * ```ts ignore
 * const M = (1n << 64n) - 1n;
 * let h = 0xcbf29ce484222325n;
 * for (const b of new TextEncoder().encode(key + "\0" + name)) {
 *   h = ((h ^ BigInt(b)) * 0x100000001b3n) & M;
 * }
 * h ^= h >> 33n; h = (h * 0xff51afd7ed558ccdn) & M;
 * h ^= h >> 33n; h = (h * 0xc4ceb9fe1a85ec53n) & M;
 * h ^= h >> 33n;
 * ```
 *
 * Golden vectors (hex of h), checked by `rendezvous_test.ts`:
 *
 * | key | name | h |
 * |---|---|---|
 * | `""` | `""` | `b9034ad37056f5fb` |
 * | `"user-42"` | `"vllm-a"` | `b634a58af5b57456` |
 * | `"user-42"` | `"vllm-b"` | `7da13cedb49e328f` |
 * | `"10.0.0.7"` | `"openai"` | `e059504733f25291` |
 * | `"ключ-🔑"` | `"gpu-1"` | `75df7a8ff4c59174` |
 *
 * @module
 */

import type { Member } from "../types.ts";
import { weightOf } from "../weight.ts";
import { fmix64 } from "./fmix64.ts";
import { Fnv1a64, type Hash64, hex64 } from "./fnv1a64.ts";

const TWO_20 = 1048576;
const TWO_52 = 4503599627370496;

// Scratch states: picks are synchronous, so one pair per module is never shared.
const prefix = new Fnv1a64();
const scratch = new Fnv1a64();

/** Feeds `key ‖ 0x00` into `into`, from the offset basis. */
function keyPrefix(into: Fnv1a64, key: string): Fnv1a64 {
  return into.reset().text(key).byte(0);
}

/** Finishes a member's hash from the key prefix, in `scratch`. */
function memberHash(keyState: Hash64, name: string): Hash64 {
  scratch.copy(keyState).text(name);
  fmix64(scratch);
  return scratch;
}

/**
 * The 64-bit affinity hash of `key` for member `name`, as 16 lower-case hex digits
 * (for golden vectors and debugging; picks use {@linkcode rendezvousPick}).
 *
 * @example
 * ```ts
 * affinityHash("user-42", "vllm-a"); // "b634a58af5b57456"
 * ```
 */
export function affinityHash(key: string, name: string): string {
  return hex64(memberHash(keyPrefix(prefix, key), name));
}

/** `h` mapped strictly into (0, 1) from its top 52 bits. */
export function unitInterval(h: Hash64): number {
  return (h.hi * TWO_20 + (h.lo >>> 12) + 0.5) / TWO_52;
}

/**
 * The weighted rendezvous score of a member whose hash for the key is `h`: higher
 * wins. Finite and positive for every weight > 0.
 */
export function rendezvousScore(weight: number, h: Hash64): number {
  return weight / -Math.log(unitInterval(h));
}

/**
 * The member of `available` with the highest weighted rendezvous score for `key`, or
 * `undefined` when `available` is empty. Depends only on the key and the set of names
 * and weights, never on order, time or which instance computes it.
 *
 * @example
 * ```ts
 * const members = [{ name: "a", weight: 1 }, { name: "b", weight: 1 }];
 * rendezvousPick(members, "user-42")?.name; // the same in every process
 * ```
 */
export function rendezvousPick<M extends Member>(
  available: readonly M[],
  key: string,
): M | undefined {
  const keyState = keyPrefix(prefix, key);
  let best: M | undefined;
  let bestScore = -Infinity;
  for (const m of available) {
    const score = rendezvousScore(weightOf(m), memberHash(keyState, m.name));
    if (score > bestScore || (score === bestScore && best !== undefined && m.name < best.name)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}
