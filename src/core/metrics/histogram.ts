/**
 * Histograms: distributions of durations, exported as cumulative buckets.
 *
 * @module
 */

import { formatNumber } from "./format.ts";
import { MetricFamily, type MetricOptions, type MetricType } from "./metric.ts";

/** What a histogram is created with: the common options plus its bucket bounds. */
export interface HistogramOptions<L extends readonly string[]> extends MetricOptions<L> {
  /**
   * Upper bounds (inclusive, in the metric's unit), strictly increasing. `+Inf` is
   * always added; listing it is allowed and changes nothing.
   */
  readonly buckets: readonly number[];
}

/**
 * The histogram of one label set. Counts are kept per bucket (not cumulative) so an
 * observation touches one slot; the encoder sums them up.
 */
export class HistogramChild {
  readonly #bounds: Float64Array;
  // One slot per finite bound plus the +Inf slot at the end.
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /** Creates an empty child over shared, validated `bounds`. */
  constructor(bounds: Float64Array) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /**
   * Records one value (seconds for `_seconds` metrics). A linear scan over the bounds:
   * with ~15 buckets it beats a binary search and allocates nothing. NaN lands in `+Inf`,
   * as in the Go client.
   */
  observe(value: number): void {
    const bounds = this.#bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && !(value <= bounds[i]!)) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  /** Number of observations. */
  get count(): number {
    return this.#count;
  }

  /** Sum of observed values. */
  get sum(): number {
    return this.#sum;
  }

  /** Cumulative count per bound, `+Inf` last (what `_bucket` exports). Allocates. */
  cumulativeCounts(): number[] {
    const result: number[] = [];
    let total = 0;
    for (const c of this.#counts) {
      total += c;
      result.push(total);
    }
    return result;
  }
}

/**
 * A histogram family with fixed label names and fixed buckets. Exports
 * `name_bucket{…,le="…"}` (cumulative, ending at `le="+Inf"`), `name_sum` and
 * `name_count` per label set.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const latency = new Histogram({
 *   name: "app_request_duration_seconds",
 *   help: "Request duration in seconds.",
 *   labelNames: ["route"] as const,
 *   buckets: [0.1, 0.5, 1],
 * });
 * latency.labels("/v1/chat").observe(0.27);
 * ```
 */
export class Histogram<L extends readonly string[] = readonly string[]>
  extends MetricFamily<L, HistogramChild> {
  /** Always `histogram`. */
  readonly type: MetricType = "histogram";
  /** The finite bucket bounds, ascending (`+Inf` is implied). */
  readonly buckets: readonly number[];

  readonly #bounds: Float64Array;
  // `le` values formatted once; a scrape only concatenates.
  readonly #le: readonly string[];

  /**
   * Creates a histogram; throws a `TypeError` for bad names, for an `le` label (the
   * format reserves it) and for bounds that are not strictly increasing numbers.
   */
  constructor(options: HistogramOptions<L>) {
    super(options, ["le"]);
    const finite = options.buckets.filter((b) => b !== Infinity);
    for (let i = 0; i < finite.length; i++) {
      const b = finite[i]!;
      if (Number.isNaN(b) || b === -Infinity || (i > 0 && !(b > finite[i - 1]!))) {
        throw new TypeError(
          `metric ${options.name}: buckets must be strictly increasing numbers, got [${
            options.buckets.join(", ")
          }]`,
        );
      }
    }
    this.buckets = Object.freeze(finite);
    this.#bounds = Float64Array.from(finite);
    this.#le = [...finite.map(formatNumber), "+Inf"];
  }

  /** Creates the state of one label set. */
  protected createChild(): HistogramChild {
    return new HistogramChild(this.#bounds);
  }

  /** Writes the cumulative buckets, then `_sum` and `_count`. */
  protected encodeChild(out: string[], child: HistogramChild, labelText: string): void {
    const name = this.name;
    const prefix = labelText === "" ? "" : labelText + ",";
    const counts = child.cumulativeCounts();
    for (let i = 0; i < counts.length; i++) {
      out.push(`${name}_bucket{${prefix}le="${this.#le[i]}"} ${formatNumber(counts[i]!)}`);
    }
    const suffix = labelText === "" ? "" : `{${labelText}}`;
    out.push(`${name}_sum${suffix} ${formatNumber(child.sum)}`);
    out.push(`${name}_count${suffix} ${formatNumber(child.count)}`);
  }
}
