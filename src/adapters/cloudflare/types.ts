/**
 * The few Cloudflare Workers runtime types the adapter uses, declared here so the
 * project needs no `@cloudflare/workers-types` dependency. They describe what workerd
 * provides; only the members the adapter calls are listed.
 *
 * @module
 */

/** Opaque id of one Durable Object. */
export interface DurableObjectId {
  toString(): string;
}

/** A Durable Object binding (`[[durable_objects.bindings]]` in wrangler.toml). */
export interface DurableObjectNamespace<T> {
  idFromName(name: string): DurableObjectId;
  /** A stub: an I/O object bound to the request that created it (never cache it). */
  get(id: DurableObjectId): DurableObjectStub<T>;
}

/** Methods of `T` called over RPC: every result arrives as a promise. */
export type DurableObjectStub<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** Options of storage writes. */
export interface StoragePutOptions {
  /** Do not hold outgoing messages until the write is durable (best-effort state). */
  allowUnconfirmed?: boolean;
}

/** The transactional storage of one Durable Object (async API). */
export interface DurableObjectStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T, options?: StoragePutOptions): Promise<void>;
  delete(key: string, options?: StoragePutOptions): Promise<boolean>;
  deleteAll(): Promise<void>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number, options?: StoragePutOptions): Promise<void>;
}

/** What a Durable Object class receives as `ctx`. */
export interface DurableObjectState {
  readonly storage: DurableObjectStorage;
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}

/** The third argument of a module worker's `fetch`. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}
