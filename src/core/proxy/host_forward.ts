/**
 * Which forward a request belongs to when forwards are told apart by host name rather
 * than by port (Workers, and any host-based runtime): a forward's `hosts`, else a
 * preferred forward, else the first (docs/workers.md).
 *
 * @module
 */
import type { Config } from "../config/types.ts";

/** What {@linkcode ForwardsByHost.forwardFor} found. */
export interface HostMatch {
  readonly forward: string;
  /** The preferred forward was asked for but no forward has that name. */
  readonly preferredMissing: boolean;
}

/** Host name → forward, rebuilt only when the configuration object changes. */
export class ForwardsByHost {
  readonly #preferred: string | undefined;
  #of: Config | undefined;
  #byHost = new Map<string, string>();
  #fallback = "";
  #preferredMissing = false;

  /** `preferred` answers host names no forward claims (default: the first forward). */
  constructor(preferred?: string) {
    this.#preferred = preferred === "" ? undefined : preferred;
  }

  /** The forward of `hostname` under `config` (case-insensitive; "" when none exist). */
  forwardFor(config: Config, hostname: string): HostMatch {
    if (this.#of !== config) this.#index(config);
    const forward = this.#byHost.get(hostname.toLowerCase()) ?? this.#fallback;
    return { forward, preferredMissing: this.#preferredMissing };
  }

  #index(config: Config): void {
    this.#of = config;
    this.#byHost = new Map();
    const forwards = config.http_server.forwards;
    for (const f of forwards) {
      for (const h of f.hosts) this.#byHost.set(h.toLowerCase(), f.name);
    }
    const named = forwards.find((f) => f.name === this.#preferred);
    this.#preferredMissing = this.#preferred !== undefined && named === undefined;
    this.#fallback = (named ?? forwards[0])?.name ?? "";
  }
}
