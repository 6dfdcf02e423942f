/**
 * The registry: the set of metric families one `/metrics` endpoint exports.
 *
 * @module
 */

import type { Collector } from "./metric.ts";

/**
 * Holds metric families and encodes them in the Prometheus text exposition format
 * 0.0.4, in registration order.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "./mod.ts";
 * const registry = new Registry();
 * const hits = registry.register(
 *   new Counter({ name: "app_hits_total", help: "Hits.", labelNames: ["page"] as const }),
 * );
 * hits.labels("/").inc();
 * registry.encode();
 * // # HELP app_hits_total Hits.
 * // # TYPE app_hits_total counter
 * // app_hits_total{page="/"} 1
 * ```
 */
export class Registry {
  readonly #collectors = new Map<string, Collector>();

  /** Adds a metric family and returns it; throws a `TypeError` if the name is taken. */
  register<T extends Collector>(collector: T): T {
    if (this.#collectors.has(collector.name)) {
      throw new TypeError(`metric ${collector.name} is already registered`);
    }
    this.#collectors.set(collector.name, collector);
    return collector;
  }

  /** The family registered under `name`, if any. */
  get(name: string): Collector | undefined {
    return this.#collectors.get(name);
  }

  /** All registered families, in registration order. */
  collectors(): IterableIterator<Collector> {
    return this.#collectors.values();
  }

  /**
   * The text exposition of every family: `# HELP`, `# TYPE`, then the samples, each
   * line ending in a newline. Families without series still show their HELP and TYPE,
   * so a fresh instance documents everything it can export.
   */
  encode(): string {
    const out: string[] = [];
    for (const collector of this.#collectors.values()) collector.encodeTo(out);
    return out.length === 0 ? "" : out.join("\n") + "\n";
  }
}
