/**
 * Counters: values that only go up (requests, errors). Names end in `_total`.
 *
 * @module
 */

import { formatNumber } from "./format.ts";
import { braces, MetricFamily, type MetricOptions, type MetricType } from "./metric.ts";

/** The counter of one label set. */
export class CounterChild {
  #value = 0;

  /**
   * Adds `n` (default 1). Throws a `RangeError` for a negative or NaN `n`: a counter
   * that goes down reads as a restart to Prometheus and corrupts `rate()`.
   */
  inc(n = 1): void {
    if (!(n >= 0)) {
      throw new RangeError(`counter increment must be a number ≥ 0, got ${n}`);
    }
    this.#value += n;
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/**
 * A counter family with fixed label names.
 *
 * @example
 * ```ts
 * import { Counter } from "./counter.ts";
 * const requests = new Counter({
 *   name: "app_requests_total",
 *   help: "Requests served.",
 *   labelNames: ["method"] as const,
 * });
 * requests.labels("GET").inc();
 * ```
 */
export class Counter<L extends readonly string[] = readonly string[]>
  extends MetricFamily<L, CounterChild> {
  /** Always `counter`. */
  readonly type: MetricType = "counter";

  /** Creates a counter; names are validated and a bad one throws a `TypeError`. */
  constructor(options: MetricOptions<L>) {
    super(options);
  }

  /** Creates the state of one label set. */
  protected createChild(): CounterChild {
    return new CounterChild();
  }

  /** Writes `name{labels} value`. */
  protected encodeChild(out: string[], child: CounterChild, labelText: string): void {
    out.push(`${this.name}${braces(labelText)} ${formatNumber(child.value)}`);
  }
}
