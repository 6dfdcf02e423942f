/**
 * The configuration: its schema, loading from YAML, validation of plain objects, and
 * the diagnostics both produce.
 *
 * A loaded configuration is an immutable, fully defaulted snapshot (see `types.ts`);
 * a change builds and validates a whole new one.
 *
 * @example
 * ```ts
 * import { formatDiagnostic, loadConfig } from "./mod.ts";
 *
 * const result = loadConfig(text, { file: "config.yaml", env: (name) => environment[name] });
 * for (const w of result.warnings) console.error(formatDiagnostic("config.yaml", w));
 * if (!result.ok) {
 *   for (const e of result.errors) console.error(formatDiagnostic("config.yaml", e));
 * }
 * ```
 *
 * @module
 */

import { compilePattern } from "../routing/mod.ts";
import type { LoadResult } from "./diagnostics.ts";
import {
  loadConfig as loadWith,
  type LoadOptions,
  validateConfig as validateWith,
  type ValidateOptions,
} from "./load.ts";

export type * from "./types.ts";
export { type ConfigDiagnostic, formatDiagnostic, type LoadResult } from "./diagnostics.ts";
export type { LoadOptions, ValidateOptions } from "./load.ts";
export type { RouteCompiler } from "./cross_check.ts";
export type { EnvLookup } from "./env.ts";
export { DEFAULT_MAX_BODY_SIZE, parseByteSize } from "./byte_size.ts";
export {
  adminSchema,
  authSchema,
  breakerSchema,
  CLIENT_AUTH_MODES,
  clientLimitsSchema,
  clientSchema,
  configSchema,
  forwardSchema,
  groupMemberSchema,
  groupSchema,
  headerOpSchema,
  httpClientSchema,
  modelMapSchema,
  modelRouteSchema,
  type ParsedConfig,
  proxySchema,
  rateLimitSchema,
  redisStateSchema,
  retrySchema,
  routeRuleSchema,
  STATE_STORES,
  stateSchema,
  STRATEGIES,
  upstreamSchema,
} from "./schema.ts";
export {
  clientSnapshotSchema,
  forwardSnapshotSchema,
  groupSnapshotSchema,
  modelRouteSnapshotSchema,
  routeRuleSnapshotSchema,
  stateSnapshotSchema,
  upstreamSnapshotSchema,
} from "./snapshot_schema.ts";
export { redactRedisSecrets, REDIS_URL_SHAPE, redisUrlForLogs } from "./redis_url.ts";

/**
 * Loads a YAML configuration (see `load.ts`), compiling route patterns with the
 * routing module's {@linkcode compilePattern} unless `options.compileRoute` is given.
 */
export function loadConfig(text: string, options: LoadOptions = {}): LoadResult {
  return loadWith(text, { compileRoute: compilePattern, ...options });
}

/**
 * Validates a configuration given as a plain object, with line and column 0 in every
 * diagnostic and no `${VAR}` expansion (see `load.ts`). Route patterns are compiled
 * with the routing module unless `options.compileRoute` is given.
 */
export function validateConfig(value: unknown, options: ValidateOptions = {}): LoadResult {
  return validateWith(value, { compileRoute: compilePattern, ...options });
}
