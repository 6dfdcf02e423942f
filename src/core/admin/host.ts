/**
 * What the admin API needs from the proxy it manages: the configuration now in force, a
 * way to put a changed one in force, live status and the metrics. The admin files
 * depend on this interface, never on the {@linkcode Gateway} class (which implements it),
 * so the dependency points one way (admin → proxy types) and an admin test or another
 * host needs only these few members.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { ProxyMetrics } from "../metrics/mod.ts";
import type { ClientUsage, MemberStatus } from "../state/types.ts";

/** The proxy as the admin API sees it. */
export interface AdminHost {
  /** The configuration now in force. */
  readonly config: Config;
  /**
   * Puts an already validated configuration in force; requests already running finish
   * on the one they started with.
   */
  apply(config: Config): void;
  /** The live member states of every group now configured, by group name. */
  status(): Promise<ReadonlyMap<string, readonly MemberStatus[]>>;
  /** What a configured client has used (limits and budgets). */
  clientUsage(client: string): Promise<ClientUsage>;
  /** The proxy's metrics: `/metrics` text and the dashboard's figures. */
  readonly metrics: ProxyMetrics;
  /** The clock the dashboard's history is kept on. */
  readonly clock: Clock;
  readonly logger: Logger;
}
