/**
 * From a parsed file to the snapshot: switched-off blocks and `enabled` keys go,
 * `stream_mode` folds into `stream`, sizes become bytes, auth takes its tagged shape,
 * and the result is frozen all the way down.
 *
 * @module
 */

import type { z } from "zod";
import { parseByteSize } from "./byte_size.ts";
import { sha256Hex } from "../crypto/sha256.ts";
import type {
  authSchema,
  breakerSchema,
  clientSchema,
  forwardSchema,
  groupSchema,
  headerOpSchema,
  httpClientSchema,
  ParsedConfig,
  stateSchema,
  upstreamSchema,
} from "./schema.ts";
import type {
  AuthConfig,
  ClientConfig,
  Config,
  ForwardConfig,
  GroupConfig,
  HeaderOpConfig,
  HttpClientConfig,
  StateConfig,
  UpstreamConfig,
} from "./types.ts";

type Out<T extends z.ZodType> = z.output<T>;

/** Whether an optional block is on: present, and not `enabled: false`. */
function on<T extends { enabled?: boolean }>(block: T | undefined): block is T {
  return block !== undefined && block.enabled !== false;
}

/** The snapshot of one parsed forward. */
export function normalizeForward(f: Out<typeof forwardSchema>): ForwardConfig {
  return {
    name: f.name,
    port: f.port,
    address: f.address,
    default_group: f.default_group,
    routing: f.routing.map((r) => ({ path: r.path, target_group: r.target_group })),
    model_routing: f.model_routing.map((r) => ({ model: r.model, target_group: r.target_group })),
    ...(on(f.ratelimit)
      ? { ratelimit: { per_second: f.ratelimit.per_second, burst: f.ratelimit.burst } }
      : {}),
    timeout: { connect: f.timeout.connect },
    // The schema has already refused sizes that do not parse.
    max_body_size: parseByteSize(f.max_body_size)!,
    trusted_proxies: [...f.trusted_proxies],
    hosts: [...f.hosts],
    client_auth: f.client_auth,
  };
}

function normalizeAuth(a: Out<typeof authSchema>): AuthConfig {
  switch (a.type) {
    case "bearer":
      return { type: "bearer", token: a.token! };
    case "basic":
      return { type: "basic", username: a.username!, password: a.password! };
    default:
      return { type: "none" };
  }
}

function normalizeHeader(h: Out<typeof headerOpSchema>): HeaderOpConfig {
  return h.op === "remove" ? { op: h.op, key: h.key } : { op: h.op, key: h.key, value: h.value! };
}

function normalizeBreaker(b: Out<typeof breakerSchema> | undefined) {
  return on(b) ? { breaker: { threshold: b.threshold, cooldown: b.cooldown } } : {};
}

/** The snapshot of one parsed upstream. */
export function normalizeUpstream(u: Out<typeof upstreamSchema>): UpstreamConfig {
  return {
    name: u.name,
    url: u.url,
    auth: normalizeAuth(u.auth),
    headers: u.headers.map(normalizeHeader),
    ...normalizeBreaker(u.breaker),
    weight: u.weight,
    ...(u.model_map && Object.keys(u.model_map).length > 0
      ? { model_map: Object.fromEntries(Object.entries(u.model_map)) }
      : {}),
  };
}

function normalizeHttpClient(c: Out<typeof httpClientSchema>): HttpClientConfig {
  return {
    agent: c.agent,
    keepalive: c.keepalive,
    stream: c.stream ?? c.stream_mode ?? true,
    timeout: { connect: c.timeout.connect, request: c.timeout.request, idle: c.timeout.idle },
    ...(on(c.retry) ? { retry: { attempts: c.retry.attempts, initial: c.retry.initial } } : {}),
    // The schema requires a url whenever the proxy is on.
    ...(on(c.proxy) ? { proxy: { url: c.proxy.url! } } : {}),
    stream_usage: c.stream_usage,
  };
}

/** The snapshot of one parsed group. */
export function normalizeGroup(g: Out<typeof groupSchema>): GroupConfig {
  return {
    name: g.name,
    upstreams: g.upstreams.map((m) => ({ name: m.name, weight: m.weight })),
    balance: {
      strategy: g.balance.strategy,
      ...(g.balance.hash_key !== undefined ? { hash_key: g.balance.hash_key } : {}),
    },
    http_client: normalizeHttpClient(g.http_client),
  };
}

/** The snapshot of one parsed client: the key's digest is always there. */
export function normalizeClient(c: Out<typeof clientSchema>): ClientConfig {
  const l = c.limits;
  return {
    name: c.name,
    ...(c.key !== undefined ? { key: c.key } : {}),
    key_sha256: c.key_sha256 ?? sha256Hex(c.key!),
    ...(c.groups ? { groups: [...c.groups] } : {}),
    ...(c.models ? { models: [...c.models] } : {}),
    limits: {
      ...(l.requests_per_minute !== undefined
        ? { requests_per_minute: l.requests_per_minute }
        : {}),
      ...(l.tokens_per_minute !== undefined ? { tokens_per_minute: l.tokens_per_minute } : {}),
      ...(l.tokens_per_day !== undefined ? { tokens_per_day: l.tokens_per_day } : {}),
    },
  };
}

/** The snapshot of the `state` block; `redis` stays when given, also under `memory`. */
export function normalizeState(s: Out<typeof stateSchema>): StateConfig {
  const r = s.redis;
  return {
    store: s.store,
    ...(r !== undefined ? { redis: { url: r.url, prefix: r.prefix, timeout: r.timeout } } : {}),
  };
}

/** The snapshot of a whole parsed file, deep-frozen. */
export function normalizeConfig(c: ParsedConfig): Config {
  return deepFreeze({
    http_server: {
      forwards: c.http_server.forwards.map(normalizeForward),
      admin: {
        port: c.http_server.admin.port,
        address: c.http_server.admin.address,
        timeout: { connect: c.http_server.admin.timeout.connect },
      },
    },
    upstreams: c.upstreams.map(normalizeUpstream),
    upstream_groups: c.upstream_groups.map(normalizeGroup),
    clients: c.clients.map(normalizeClient),
    state: normalizeState(c.state),
  });
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
