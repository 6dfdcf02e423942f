/**
 * Configuration diagnostics: what the loader reports and how it is printed.
 *
 * @module
 */

import { printable } from "./text.ts";
import type { Config } from "./types.ts";

/** One problem (or remark) found while loading or validating a configuration. */
export interface ConfigDiagnostic {
  /** Errors stop the configuration from loading; warnings do not. */
  readonly severity: "error" | "warning";
  /** YAML path such as `upstream_groups[1].upstreams[0].name`; empty for the whole file. */
  readonly path: string;
  /** 1-based line in the file; 0 when the configuration did not come from a file. */
  readonly line: number;
  /** 1-based column in the file; 0 when the configuration did not come from a file. */
  readonly column: number;
  /** What is wrong and what is allowed. */
  readonly message: string;
}

/** The outcome of {@linkcode loadConfig} or {@linkcode validateConfig}. */
export type LoadResult =
  | { ok: true; config: Config; warnings: ConfigDiagnostic[] }
  | { ok: false; errors: ConfigDiagnostic[]; warnings: ConfigDiagnostic[] };

/** A path inside the configuration, as keys and list indexes. */
export type ConfigPath = readonly (string | number)[];

/**
 * Formats one diagnostic as `<file>:<line>:<column>: <yaml path>: <message>`
 * (docs/behaviour.md#diagnostics-format).
 *
 * Warnings get `warning: ` in front of the message. Without a position (line 0, as for
 * {@linkcode validateConfig}) the `:<line>:<column>` part is left out, and without a
 * path (YAML syntax errors, an empty file) the path part is left out.
 *
 * @example
 * ```ts
 * formatDiagnostic("config.yaml", {
 *   severity: "error", path: "http_server.forwards[0].port", line: 4, column: 17,
 *   message: "must be an integer from 1 to 65535, got 70000",
 * });
 * // "config.yaml:4:17: http_server.forwards[0].port: must be an integer from 1 to 65535, got 70000"
 * ```
 */
export function formatDiagnostic(file: string, d: ConfigDiagnostic): string {
  const where = d.line > 0 ? `${file}:${d.line}:${d.column}` : file;
  const path = d.path === "" ? "" : `${printable(d.path)}: `;
  const message = printable(d.severity === "warning" ? `warning: ${d.message}` : d.message);
  return `${where}: ${path}${message}`;
}

/** Renders a path the way the YAML reads: `http_server.forwards[0].port`. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? printable(segment) : `.${printable(segment)}`;
  }
  return out;
}

const MAX_SHOWN = 60;

/**
 * Describes a value for the "got …" part of a message. Long strings are cut so that a
 * pasted key does not fill the terminal, and URL passwords are masked because these
 * lines end up in logs.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string") {
    if (value === "") return "an empty string";
    const masked = maskUrlPassword(value);
    const cut = masked.length > MAX_SHOWN ? `${masked.slice(0, MAX_SHOWN)}…` : masked;
    return JSON.stringify(cut);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

function maskUrlPassword(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*:)[^/@\s]+@/g, "$1***@");
}

/** Orders diagnostics by position; diagnostics without one keep their order. */
export function sortByPosition(list: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return list
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map(({ d }) => d);
}

/** Drops repeats of the same message at the same place (zod may report one fault twice). */
export function dedupe(list: ConfigDiagnostic[]): ConfigDiagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.severity}\u0000${d.path}\u0000${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A diagnostic before it has a position: where it points is resolved against the YAML
 * source by the loader (or left at 0:0 for plain objects).
 */
export interface Finding {
  readonly severity: "error" | "warning";
  /** The path shown in the message. */
  readonly path: ConfigPath;
  readonly message: string;
  /**
   * What the position points at: the value at `path`, the key of the last segment of
   * `path` (unknown keys), or the value at `path` when `path` names a mapping that lacks
   * a key. Defaults to `value`.
   */
  readonly at?: "value" | "key";
}
