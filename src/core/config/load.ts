/**
 * Loading and validation: YAML → `${VAR}` expansion → coercion and unknown keys →
 * schema → cross checks → snapshot. Every error is collected before anything is
 * decided, so one run reports them all.
 *
 * This file takes the route compiler as an option; `mod.ts` supplies the real one.
 *
 * @module
 */

import type { z } from "zod";
import { compatWarnings } from "./compat.ts";
import { crossCheck, type RouteCompiler } from "./cross_check.ts";
import {
  type ConfigDiagnostic,
  type ConfigPath,
  dedupe,
  describeValue,
  type Finding,
  formatPath,
  type LoadResult,
  sortByPosition,
} from "./diagnostics.ts";
import { type EnvLookup, expandEnv } from "./env.ts";
import { normalizeConfig } from "./normalize.ts";
import { configSchema, type ParsedConfig } from "./schema.ts";
import { walkShape } from "./shape_walk.ts";
import { printable } from "./text.ts";
import { parseYaml, type Position, type YamlProblem } from "./yaml_source.ts";

/** Options of {@linkcode validateConfig}. */
export interface ValidateOptions {
  /**
   * Compiles route patterns, throwing an `Error` whose message says what is wrong.
   * Without it, patterns are not compiled and only identical paths count as duplicates.
   */
  compileRoute?: RouteCompiler;
  /**
   * Check that no two listeners share an address and port (default true). Off where
   * nothing listens on ports (Cloudflare Workers): forwards there are told apart by
   * `hosts`, and may all keep the default port.
   */
  checkListeners?: boolean;
  /**
   * Accept `state.store: redis` (default true). Off on Cloudflare Workers, where state
   * is always shared through Durable Objects and no Redis client runs
   * (docs/behaviour.md#durable-objects).
   */
  redisStore?: boolean;
}

/** Options of {@linkcode loadConfig}. */
export interface LoadOptions extends ValidateOptions {
  /** The file name, for messages about the file as a whole (an empty file). */
  file?: string;
  /** Where `${VAR}` references are looked up; by default no variable is set. */
  env?: EnvLookup;
}

type Locate = (path: ConfigPath, at?: "value" | "key") => Position;

const NO_POSITION: Locate = () => ({ line: 0, column: 0 });
const TOP_LEVEL = "a mapping with http_server, upstreams and upstream_groups";

/**
 * Loads a YAML configuration: parses it, expands `${VAR}` and `${VAR:-default}` from
 * `options.env`, validates it and returns the deep-frozen snapshot, or every error with
 * its YAML path, line and column.
 *
 * YAML syntax errors stop the load before validation (a broken structure would only
 * produce misleading follow-up errors), but all of them are reported.
 *
 * @example
 * ```ts
 * const result = loadConfig(text, { file: "config.yaml", env: (name) => environment[name] });
 * if (!result.ok) {
 *   for (const d of result.errors) console.error(formatDiagnostic("config.yaml", d));
 * }
 * ```
 */
export function loadConfig(text: string, options: LoadOptions = {}): LoadResult {
  try {
    return load(text, options);
  } catch (e) {
    return internalError(e, { line: 1, column: 1 });
  }
}

/**
 * Validates a configuration given as a plain object (as the admin API builds one):
 * the same checks and messages as {@linkcode loadConfig}, with line and column 0.
 *
 * Strings are taken as they are: no `${VAR}` expansion happens here, so that a request
 * body can never pull the proxy's environment into a URL or header.
 */
export function validateConfig(value: unknown, options: ValidateOptions = {}): LoadResult {
  try {
    return validate(value, [], options, NO_POSITION, []);
  } catch (e) {
    return internalError(e, { line: 0, column: 0 });
  }
}

/**
 * The last line of defence: whatever a file holds, loading answers with diagnostics,
 * never an exception (a throw would print a stack trace for `-t`, and end the daemon
 * on SIGHUP). Reaching this is a bug; the message says so.
 */
function internalError(e: unknown, position: Position): LoadResult {
  const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const message = printable(
    `internal error while checking the configuration (${why}); the configuration was ` +
      "not applied; please report this with the file that caused it",
  );
  return {
    ok: false,
    errors: [{ severity: "error", path: "", ...position, message }],
    warnings: [],
  };
}

function load(text: string, options: LoadOptions): LoadResult {
  const parsed = parseYaml(text);
  const yamlDiagnostic = (p: YamlProblem): ConfigDiagnostic => ({
    severity: p.severity,
    path: "",
    ...p.position,
    message: printable(p.message),
  });
  const yamlWarnings = parsed.warnings.map(yamlDiagnostic);
  if (!parsed.ok) {
    return { ok: false, errors: parsed.errors.map(yamlDiagnostic), warnings: yamlWarnings };
  }
  const { source } = parsed;
  if (source.empty) {
    const name = options.file === undefined ? "the file" : `"${options.file}"`;
    const message = `${name} is empty; expected ${TOP_LEVEL}`;
    return {
      ok: false,
      errors: [{ severity: "error", path: "", line: 1, column: 1, message }],
      warnings: yamlWarnings,
    };
  }
  const findings: Finding[] = [];
  const data = expandEnv(source.data, options.env ?? (() => undefined), findings);
  return validate(data, findings, options, source.locate, yamlWarnings);
}

function validate(
  data: unknown,
  findings: Finding[],
  options: ValidateOptions,
  locate: Locate,
  extraWarnings: ConfigDiagnostic[],
): LoadResult {
  // A value whose ${VAR} failed to expand would also fail every later check; the
  // expansion error alone says what to fix.
  const expansionErrors = findings.length;
  const unexpanded = new Set(findings.map((f) => formatPath(f.path)));
  let parsed: ParsedConfig | undefined;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    findings.push({
      severity: "error",
      path: [],
      message: `the configuration must be ${TOP_LEVEL}, got ${describeValue(data)}`,
    });
  } else {
    const coerced = walkShape(configSchema, data, findings);
    const result = configSchema.safeParse(coerced);
    if (result.success) parsed = result.data;
    else for (const issue of result.error.issues) findings.push(issueFinding(issue, coerced));
    // Loops rather than push(...list): a large file can hold more findings than a call
    // may take arguments.
    for (const f of compatWarnings(coerced)) findings.push(f);
    const checkListeners = options.checkListeners ?? true;
    const redisStore = options.redisStore ?? true;
    for (const f of crossCheck(coerced, options.compileRoute, checkListeners, redisStore)) {
      findings.push(f);
    }
  }

  const place = (f: Finding): ConfigDiagnostic => ({
    severity: f.severity,
    path: formatPath(f.path),
    ...locate(f.path, f.at),
    // Messages quote what the file holds: a CR in a name must not split the line.
    message: printable(f.message),
  });
  const all = findings
    .filter((f, i) =>
      i < expansionErrors || f.severity === "warning" || !unexpanded.has(formatPath(f.path))
    )
    .map(place);
  const errors = sortByPosition(dedupe(all.filter((d) => d.severity === "error")));
  const warnings = sortByPosition(
    dedupe([...extraWarnings, ...all.filter((d) => d.severity === "warning")]),
  );
  if (errors.length > 0 || parsed === undefined) return { ok: false, errors, warnings };
  return { ok: true, config: normalizeConfig(parsed), warnings };
}

function valueAt(data: unknown, path: ConfigPath): unknown {
  let node = data;
  for (const segment of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, segment)) {
      return undefined;
    }
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/**
 * Turns a zod issue into a finding. A key that is absent is reported at the mapping
 * that lacks it, as `required key "x" is missing` (zod only knows it got `undefined`).
 */
function issueFinding(issue: z.core.$ZodIssue, data: unknown): Finding {
  const path = issue.path.filter((s): s is string | number =>
    typeof s === "string" || typeof s === "number"
  );
  const key = path[path.length - 1];
  const parentPath = path.slice(0, -1);
  const parent = valueAt(data, parentPath);
  const absent = typeof key === "string" && typeof parent === "object" && parent !== null &&
    !Array.isArray(parent) && !Object.hasOwn(parent, key);
  if (absent) {
    const message = issue.code === "invalid_type"
      ? `required key "${key}" is missing`
      : issue.message;
    return { severity: "error", path: parentPath, message };
  }
  return { severity: "error", path, message: issue.message };
}
