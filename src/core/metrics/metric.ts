/**
 * The part every metric family shares: fixed label names, children cached per label
 * set, and the HELP/TYPE header of the exposition.
 *
 * @module
 */

import { assertLabelNames, assertMetricName, escapeHelp, escapeLabelValue } from "./format.ts";

/** The metric types this registry writes (the 0.0.4 `# TYPE` keyword). */
export type MetricType = "counter" | "gauge" | "histogram";

/**
 * One string per label name, in the order the names were declared. A metric created
 * with `labelNames: ["group", "upstream"] as const` takes `labels(group, upstream)`.
 */
export type LabelValues<L extends readonly string[]> = { -readonly [K in keyof L]: string };

/** What every metric is created with. */
export interface MetricOptions<L extends readonly string[]> {
  /** Metric family name, e.g. `llmproxy_http_requests_total`. */
  readonly name: string;
  /** The HELP text; say what is counted and in which unit. */
  readonly help: string;
  /** Label names, fixed for the life of the metric; their order is the order of `labels()`. */
  readonly labelNames: L;
}

/** Anything a {@linkcode Registry} can encode. */
export interface Collector {
  /** Metric family name. */
  readonly name: string;
  /** HELP text (unescaped). */
  readonly help: string;
  /** The `# TYPE` of the family. */
  readonly type: MetricType;
  /** Label names in declaration order. */
  readonly labelNames: readonly string[];
  /** Appends the family's exposition lines (without trailing newlines) to `out`. */
  encodeTo(out: string[]): void;
}

interface Entry<C> {
  readonly child: C;
  /** `a="x",b="y"` already escaped, so a scrape does not re-escape every series. */
  readonly labelText: string;
}

// Separator of joined label values. A NUL is practically never part of a label value;
// when one is, the key falls back to an unambiguous form (see childKey).
const SEP = "\u0000";

/**
 * Base class of {@linkcode Counter}, {@linkcode Gauge} and {@linkcode Histogram}:
 * resolves a label set to its child once and keeps it in a `Map` keyed by the joined
 * label values.
 */
export abstract class MetricFamily<L extends readonly string[], C> implements Collector {
  /** Metric family name. */
  readonly name: string;
  /** HELP text (unescaped). */
  readonly help: string;
  /** Label names in declaration order. */
  readonly labelNames: L;
  /** The `# TYPE` of the family. */
  abstract readonly type: MetricType;

  readonly #entries = new Map<string, Entry<C>>();
  readonly #header: string;

  /** Validates names; `reservedLabels` are label names the subtype writes itself (`le`). */
  protected constructor(options: MetricOptions<L>, reservedLabels: readonly string[] = []) {
    assertMetricName(options.name);
    assertLabelNames(options.name, options.labelNames, reservedLabels);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = Object.freeze([...options.labelNames]) as unknown as L;
    this.#header = `# HELP ${options.name} ${escapeHelp(options.help)}`;
  }

  /**
   * The child for one label set, created on first use and cached. Resolve it once and
   * keep it where the label values are known in advance (per upstream, per route): the
   * lookup joins the values into a key, the child's own methods allocate nothing.
   *
   * @example
   * ```ts
   * import { Counter } from "./counter.ts";
   * const c = new Counter({ name: "x_total", help: "X.", labelNames: ["a", "b"] as const });
   * const child = c.labels("1", "2");
   * child.inc();
   * ```
   */
  labels(...values: LabelValues<L>): C {
    const key = this.#key(values);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { child: this.createChild(), labelText: this.#labelText(values) };
      this.#entries.set(key, entry);
    }
    return entry.child;
  }

  /**
   * Forgets one label set, so its series disappears from the output (for gauges of
   * members that were removed from the configuration). A child obtained earlier keeps
   * working but is no longer exported. Returns whether the label set existed.
   */
  remove(...values: LabelValues<L>): boolean {
    return this.#entries.delete(this.#key(values));
  }

  /** Forgets every label set. */
  clear(): void {
    this.#entries.clear();
  }

  /** Number of label sets currently exported. */
  get size(): number {
    return this.#entries.size;
  }

  /** Appends HELP, TYPE and one block per child, in creation order. */
  encodeTo(out: string[]): void {
    out.push(this.#header, `# TYPE ${this.name} ${this.type}`);
    // A metric without labels has exactly one series, which Prometheus expects to see
    // (at 0) before anything happened, so `rate()` has a starting point.
    if (this.labelNames.length === 0 && this.#entries.size === 0) {
      this.labels(...([] as unknown as LabelValues<L>));
    }
    for (const entry of this.#entries.values()) {
      this.encodeChild(out, entry.child, entry.labelText);
    }
  }

  /** Creates the state of one label set. */
  protected abstract createChild(): C;

  /**
   * Appends the sample lines of one child. `labelText` is the escaped `k="v",…` list
   * without braces, empty for a metric without labels.
   */
  protected abstract encodeChild(out: string[], child: C, labelText: string): void;

  #key(values: readonly string[]): string {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(
        `metric ${this.name}: expected ${this.labelNames.length} label values (${
          this.labelNames.join(", ")
        }), got ${values.length}`,
      );
    }
    return childKey(values);
  }

  #labelText(values: readonly string[]): string {
    let text = "";
    for (let i = 0; i < values.length; i++) {
      if (i > 0) text += ",";
      text += `${this.labelNames[i]}="${escapeLabelValue(values[i]!)}"`;
    }
    return text;
  }
}

/**
 * Joins label values into a map key. For n ≥ 2 values a plain key holds exactly n − 1
 * NULs (the separators); if a value itself contains a NUL the key becomes n NULs
 * followed by the JSON of the values (JSON escapes NUL), so the two forms never collide
 * and neither form is ambiguous.
 */
export function childKey(values: readonly string[]): string {
  const n = values.length;
  if (n === 1) return values[0]!;
  let key = "";
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v.includes(SEP)) return SEP.repeat(n) + JSON.stringify(values);
    key = i === 0 ? v : key + SEP + v;
  }
  return key;
}

/** `{labels}` for a sample line, or nothing when the metric has no labels. */
export function braces(labelText: string): string {
  return labelText === "" ? "" : `{${labelText}}`;
}
