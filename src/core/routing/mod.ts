/**
 * Request routing (docs/behaviour.md#routing): route pattern compilation, the priority between
 * rules, and the per-forward {@linkcode Router}.
 *
 * @example
 * ```ts
 * import { Router } from "./mod.ts";
 *
 * const router = new Router([
 *   { path: "/v1/chat/completions", value: "chat" },
 *   { path: "/v1/models/{id:[a-z0-9.-]+}", value: "models" },
 *   { path: "/files/*", value: "files" },
 * ]);
 * router.match("/v1/models/gpt-4o")?.value; // "models"
 * router.match("/files/a/b.txt")?.pattern; // "/files/*"
 * router.match("/files/"); // undefined: the default group answers
 * ```
 *
 * @module
 */

export {
  type CompiledPattern,
  compilePattern,
  type PatternSegment,
  RoutePatternError,
} from "./pattern.ts";
export { comparePatterns } from "./priority.ts";
export { MAX_REGEX_SEGMENT } from "./regex_safety.ts";
export { matchPattern } from "./match_pattern.ts";
export { type RouteMatch, Router, type RouteRule } from "./router.ts";
