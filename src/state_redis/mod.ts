/**
 * Shared state on Redis for a fleet of Deno and Node daemons (docs/behaviour.md#redis). Lives
 * outside `src/core`, which stays runtime-agnostic: this needs a TCP client (node-redis).
 *
 * @module
 */

export { RedisStateStore, type RedisStateStoreOptions, type StateOp } from "./redis_store.ts";
export { RedisLink, type RedisLinkOptions, RedisTimeoutError } from "./link.ts";
