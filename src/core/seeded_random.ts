/**
 * A small seeded generator (mulberry32): the same sequence for the same seed on every
 * runtime. For what must be reproducible, never for anything secret: the demo's flaky
 * mock and the tests' random inputs (a failing case can be replayed from its seed).
 *
 * @module
 */

/** Uniform numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
