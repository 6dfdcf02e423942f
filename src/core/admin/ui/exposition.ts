/**
 * Reads the series of one metric family back from its own exposition text, so the
 * dashboard can show the gateway's counters and histograms without asking a family for
 * a label set (which would create that series and export it from then on).
 *
 * @module
 */

import type { Collector } from "../../metrics/mod.ts";

/** One sample line: the name's suffix after the family name, its labels and value. */
export interface Sample {
  /** `""` for counters and gauges; `_bucket`, `_sum` or `_count` for histograms. */
  readonly suffix: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The samples of `family` as it would be scraped now.
 *
 * @example
 * ```ts
 * import { Counter } from "../../metrics/mod.ts";
 * import { samplesOf } from "./exposition.ts";
 * const c = new Counter({ name: "x_total", help: "X.", labelNames: ["a"] as const });
 * c.labels("1").inc(2);
 * samplesOf(c); // [{ suffix: "", labels: { a: "1" }, value: 2 }]
 * ```
 */
export function samplesOf(family: Collector): Sample[] {
  const lines: string[] = [];
  family.encodeTo(lines);
  const out: Sample[] = [];
  for (const line of lines) {
    if (line.startsWith("#") || !line.startsWith(family.name)) continue;
    const brace = line.indexOf("{");
    const space = line.lastIndexOf(" ");
    if (space < 0) continue;
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const suffix = line.slice(family.name.length, nameEnd);
    const labels: Record<string, string> = {};
    if (brace >= 0 && brace < space) {
      const text = line.slice(brace + 1, line.lastIndexOf("}", space));
      for (const m of text.matchAll(LABEL)) labels[m[1]!] = unescape(m[2]!);
    }
    out.push({ suffix, labels, value: parseValue(line.slice(space + 1)) });
  }
  return out;
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/**
 * Per-bucket (not cumulative) counts of a histogram's `_bucket` samples, summed over the
 * series that `key` maps to the same string (series it maps to undefined are skipped).
 * Bounds come in the order the family writes them, `+Inf` last.
 */
export function bucketCounts(
  samples: readonly Sample[],
  key: (labels: Readonly<Record<string, string>>) => string | undefined,
): Map<string, number[]> {
  // Cumulative counts per key, in the order of the `le` values of each series.
  const cumulative = new Map<string, number[]>();
  const position = new Map<string, number>();
  let series = "";
  for (const s of samples) {
    if (s.suffix !== "_bucket") continue;
    const k = key(s.labels);
    if (k === undefined) continue;
    // A new series starts at its first bucket; bucket positions count from there.
    const { le: _le, ...rest } = s.labels;
    const id = JSON.stringify(rest);
    if (id !== series) {
      series = id;
      position.set(k, 0);
    }
    const i = position.get(k) ?? 0;
    position.set(k, i + 1);
    const row = cumulative.get(k) ?? [];
    row[i] = (row[i] ?? 0) + s.value;
    cumulative.set(k, row);
  }
  const out = new Map<string, number[]>();
  for (const [k, row] of cumulative) {
    out.set(k, row.map((v, i) => (i === 0 ? v : v - row[i - 1]!)));
  }
  return out;
}
