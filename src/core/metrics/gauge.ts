/**
 * Gauges: values that go up and down (in-flight requests, breaker state).
 *
 * @module
 */

import { formatNumber } from "./format.ts";
import { braces, MetricFamily, type MetricOptions, type MetricType } from "./metric.ts";

/** The gauge of one label set. */
export class GaugeChild {
  #value = 0;

  /** Adds `n` (default 1). */
  inc(n = 1): void {
    this.#value += n;
  }

  /** Subtracts `n` (default 1). */
  dec(n = 1): void {
    this.#value -= n;
  }

  /** Sets the value. */
  set(value: number): void {
    this.#value = value;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/**
 * A gauge family with fixed label names. Use `remove(...labels)` when the thing a
 * series describes is gone, so a stale value is not exported forever.
 *
 * @example
 * ```ts
 * import { Gauge } from "./gauge.ts";
 * const inFlight = new Gauge({
 *   name: "app_in_flight",
 *   help: "Requests in progress.",
 *   labelNames: ["upstream"] as const,
 * });
 * const child = inFlight.labels("a");
 * child.inc();
 * child.dec();
 * inFlight.remove("a");
 * ```
 */
export class Gauge<L extends readonly string[] = readonly string[]>
  extends MetricFamily<L, GaugeChild> {
  /** Always `gauge`. */
  readonly type: MetricType = "gauge";

  /** Creates a gauge; names are validated and a bad one throws a `TypeError`. */
  constructor(options: MetricOptions<L>) {
    super(options);
  }

  /** Creates the state of one label set. */
  protected createChild(): GaugeChild {
    return new GaugeChild();
  }

  /** Writes `name{labels} value`. */
  protected encodeChild(out: string[], child: GaugeChild, labelText: string): void {
    out.push(`${this.name}${braces(labelText)} ${formatNumber(child.value)}`);
  }
}
