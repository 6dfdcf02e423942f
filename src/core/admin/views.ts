/**
 * What the admin API answers for each kind of entity, built from the configuration in
 * force (and, for groups, the live state of their members).
 *
 * @module
 */

import type { z } from "zod";
import type {
  ClientConfig,
  Config,
  ForwardConfig,
  GroupConfig,
  UpstreamConfig,
} from "../config/types.ts";
import type { MemberStatus } from "../state/types.ts";
import { AdminError } from "./envelope.ts";
import type {
  clientView,
  forwardView,
  groupView,
  memberStatusView,
  upstreamView,
} from "./schemas.ts";
import { maskClient, maskGroup, maskUpstream } from "./secrets.ts";

/** A forward as answered. */
export type ForwardView = z.infer<typeof forwardView>;
/** An upstream as answered. */
export type UpstreamView = z.infer<typeof upstreamView>;
/** A client as answered. */
export type ClientView = z.infer<typeof clientView>;
/** A group as answered. */
export type GroupView = z.infer<typeof groupView>;
type MemberStatusView = z.infer<typeof memberStatusView>;

/** A plain, mutable copy of a frozen configuration value. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** The forward `name` of `config`, or a 404. */
export function findForward(config: Config, name: string): ForwardConfig {
  const f = config.http_server.forwards.find((x) => x.name === name);
  if (!f) throw new AdminError(404, `no forward named ${JSON.stringify(name)}`);
  return f;
}

/** The upstream `name` of `config`, or a 404. */
export function findUpstream(config: Config, name: string): UpstreamConfig {
  const u = config.upstreams.find((x) => x.name === name);
  if (!u) throw new AdminError(404, `no upstream named ${JSON.stringify(name)}`);
  return u;
}

/** The group `name` of `config`, or a 404. */
export function findGroup(config: Config, name: string): GroupConfig {
  const g = config.upstream_groups.find((x) => x.name === name);
  if (!g) throw new AdminError(404, `no upstream group named ${JSON.stringify(name)}`);
  return g;
}

/** The client `name` of `config`, or a 404. */
export function findClient(config: Config, name: string): ClientConfig {
  const c = config.clients.find((x) => x.name === name);
  if (!c) throw new AdminError(404, `no client named ${JSON.stringify(name)}`);
  return c;
}

/** A client as answered: `key` masked. */
export function showClient(c: ClientConfig): ClientView {
  return plain(maskClient(c)) as ClientView;
}

/** A forward as answered (forwards hold no secrets). */
export function showForward(f: ForwardConfig): ForwardView {
  return plain(f) as ForwardView;
}

/** An upstream as answered: secrets masked. */
export function showUpstream(u: UpstreamConfig): UpstreamView {
  return plain(maskUpstream(u)) as UpstreamView;
}

/**
 * A group as answered: its configuration with the proxy password masked, and the live
 * `status` of its members as the gateway's state store sees them now.
 */
export function showGroup(g: GroupConfig, members: readonly MemberStatus[]): GroupView {
  const status: MemberStatusView[] = members.map((m) => ({
    upstream: m.upstream,
    breaker: m.breaker,
    in_flight: m.inFlight,
    latency_ms: round(m.latencyMs, 1),
    success_rate: round(m.successRate, 4),
  }));
  return { ...(plain(maskGroup(g)) as Omit<GroupView, "status">), status };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
