/**
 * A seeded uniform source for balancer tests (mulberry32): deterministic runs, and
 * good enough statistics for share checks, unlike a short LCG.
 *
 * @module
 */

export { seededRandom } from "../seeded_random.ts";
