/**
 * Helpers for the Prometheus text exposition format 0.0.4: escaping, number
 * formatting and name checks. Kept apart from the metric classes so each piece of
 * the format is written (and tested) once.
 *
 * @module
 */

/** The `Content-Type` a `/metrics` endpoint sends with {@linkcode Registry.encode} output. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_VALUE_SPECIAL = /[\\"\n]/g;
const HELP_SPECIAL = /[\\\n]/g;

/**
 * Escapes a label value for use between double quotes: `\` → `\\`, `"` → `\"`,
 * newline → `\n`, as the 0.0.4 format requires.
 *
 * @example
 * ```ts
 * import { escapeLabelValue } from "./format.ts";
 * escapeLabelValue('a"b'); // 'a\\"b'
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(LABEL_VALUE_SPECIAL, escapeChar);
}

/**
 * Escapes HELP text: only `\` and newline are special there (a `"` stays as is,
 * unlike in label values).
 */
export function escapeHelp(text: string): string {
  return text.replace(HELP_SPECIAL, escapeChar);
}

function escapeChar(c: string): string {
  return c === "\n" ? "\\n" : "\\" + c;
}

/**
 * Formats a sample value or bucket bound the way Prometheus parses it: `+Inf`,
 * `-Inf` and `NaN` are spelled out, integers carry no fraction (`1`, not `1.0`), and
 * everything else uses the shortest round-tripping form (`0.01`, `1e-7`), which Go's
 * `strconv.ParseFloat` reads back exactly.
 */
export function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  // String(-0) is "0", which is what Prometheus clients print as well.
  return String(n);
}

/** Throws a `TypeError` unless `name` is a valid Prometheus metric name. */
export function assertMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) {
    throw new TypeError(
      `invalid metric name ${JSON.stringify(name)}: expected [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
}

/**
 * Throws a `TypeError` unless `names` are valid, distinct label names that are not
 * reserved (`__` prefix is Prometheus-internal) and not in `reserved`.
 */
export function assertLabelNames(
  metric: string,
  names: readonly string[],
  reserved: readonly string[] = [],
): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(
        `metric ${metric}: invalid label name ${
          JSON.stringify(name)
        }: expected [a-zA-Z_][a-zA-Z0-9_]* not starting with "__"`,
      );
    }
    if (reserved.includes(name)) {
      throw new TypeError(`metric ${metric}: label name "${name}" is reserved for this type`);
    }
    if (seen.has(name)) {
      throw new TypeError(`metric ${metric}: label name "${name}" appears twice`);
    }
    seen.add(name);
  }
}
