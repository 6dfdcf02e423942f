/**
 * zod schemas of the snapshot shapes (what `loadConfig` produces and the admin API
 * returns): every default written out, no `enabled` keys, sizes in bytes. Plain
 * schemas without defaults or transforms, so they document responses as they are.
 *
 * Request bodies should be validated with the file schemas in `schema.ts`, which
 * accept these shapes too.
 *
 * @module
 */

import { z } from "zod";
import { STATE_STORES, STRATEGIES } from "./schema.ts";
import type {
  ClientConfig,
  ForwardConfig,
  GroupConfig,
  ModelRouteConfig,
  RouteRuleConfig,
  StateConfig,
  UpstreamConfig,
} from "./types.ts";

/** A routing rule in a snapshot. */
export const routeRuleSnapshotSchema = z.object({
  path: z.string(),
  target_group: z.string(),
});

/** A model routing rule in a snapshot. */
export const modelRouteSnapshotSchema = z.object({
  model: z.string(),
  target_group: z.string(),
});

/** A forward in a snapshot. */
export const forwardSnapshotSchema = z.object({
  name: z.string(),
  port: z.number().int(),
  address: z.string(),
  default_group: z.string(),
  routing: z.array(routeRuleSnapshotSchema),
  model_routing: z.array(modelRouteSnapshotSchema),
  ratelimit: z.object({ per_second: z.number().int(), burst: z.number().int() }).optional(),
  timeout: z.object({ connect: z.number().int() }),
  max_body_size: z.number().int(),
  trusted_proxies: z.array(z.string()),
  hosts: z.array(z.string()),
  client_auth: z.enum(["off", "optional", "required"]),
});

/** A client in a snapshot (the admin API shows `key` as "***"). */
export const clientSnapshotSchema = z.object({
  name: z.string(),
  key: z.string().optional(),
  key_sha256: z.string(),
  groups: z.array(z.string()).optional(),
  models: z.array(z.string()).optional(),
  limits: z.object({
    requests_per_minute: z.number().int().optional(),
    tokens_per_minute: z.number().int().optional(),
    tokens_per_day: z.number().int().optional(),
  }),
});

/** An upstream in a snapshot. */
export const upstreamSnapshotSchema = z.object({
  name: z.string(),
  url: z.string(),
  auth: z.discriminatedUnion("type", [
    z.object({ type: z.literal("none") }),
    z.object({ type: z.literal("bearer"), token: z.string() }),
    z.object({ type: z.literal("basic"), username: z.string(), password: z.string() }),
  ]),
  headers: z.array(z.object({
    op: z.enum(["insert", "replace", "remove"]),
    key: z.string(),
    value: z.string().optional(),
  })),
  breaker: z.object({ threshold: z.number(), cooldown: z.number().int() }).optional(),
  weight: z.number().int(),
  model_map: z.record(z.string(), z.string()).optional(),
});

/** A group in a snapshot. */
export const groupSnapshotSchema = z.object({
  name: z.string(),
  upstreams: z.array(z.object({ name: z.string(), weight: z.number().int() })),
  balance: z.object({ strategy: z.enum(STRATEGIES), hash_key: z.string().optional() }),
  http_client: z.object({
    agent: z.string(),
    keepalive: z.number().int(),
    stream: z.boolean(),
    timeout: z.object({
      connect: z.number().int(),
      request: z.number().int(),
      idle: z.number().int(),
    }),
    retry: z.object({ attempts: z.number().int(), initial: z.number().int() }).optional(),
    proxy: z.object({ url: z.string() }).optional(),
    stream_usage: z.boolean(),
  }),
});

/** The `state` block in a snapshot (an answer would show the URL's password as "***"). */
export const stateSnapshotSchema = z.object({
  store: z.enum(STATE_STORES),
  redis: z.object({
    url: z.string(),
    prefix: z.string(),
    timeout: z.number().int(),
  }).optional(),
});

// Compile-time proof that the schemas describe the snapshot types.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[]
  : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> }
  : T;
type _SnapshotSchemasMatchTypes = [
  Check<Same<z.infer<typeof routeRuleSnapshotSchema>, Mutable<RouteRuleConfig>>>,
  Check<Same<z.infer<typeof modelRouteSnapshotSchema>, Mutable<ModelRouteConfig>>>,
  Check<Same<z.infer<typeof forwardSnapshotSchema>, Mutable<ForwardConfig>>>,
  Check<Same<z.infer<typeof upstreamSnapshotSchema>, Mutable<UpstreamConfig>>>,
  Check<Same<z.infer<typeof groupSnapshotSchema>, Mutable<GroupConfig>>>,
  Check<Same<z.infer<typeof clientSnapshotSchema>, Mutable<ClientConfig>>>,
  Check<Same<z.infer<typeof stateSnapshotSchema>, Mutable<StateConfig>>>,
];
