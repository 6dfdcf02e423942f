/**
 * Shared state: the {@linkcode StateStore} seam and its in-memory implementation.
 *
 * @module
 */

export { MemoryClientLimiter, type MemoryClientLimiterOptions } from "./client_limiter.ts";
export type { ClientSnapshot } from "./client_state.ts";
export type { GroupStateDeps } from "./group_state.ts";
export { MemoryGroupState, selectOptions } from "./group_state.ts";
export { MemoryStateStore, type MemoryStateStoreOptions } from "./memory_store.ts";
export {
  MAX_PAUSE_MS,
  type MemberSnapshot,
  MemberState,
  upstreamFingerprint,
} from "./member_state.ts";
export type * from "./types.ts";
