/**
 * The `hash` strategy (docs/behaviour.md#hash): the balancer, the fleet-wide rendezvous hash it
 * uses, and the `balance.hash_key` setting.
 *
 * @module
 */

export { fmix64 } from "./fmix64.ts";
export { Fnv1a64, type Hash64, hex64 } from "./fnv1a64.ts";
export { HashBalancer } from "./hash_balancer.ts";
export {
  formatHashKey,
  type HashKeyParse,
  type HashKeySpec,
  parseHashKey,
} from "../../config/hash_key.ts";
export { affinityHash, rendezvousPick, rendezvousScore, unitInterval } from "./rendezvous.ts";
