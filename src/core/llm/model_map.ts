/**
 * `model_map` lookup (docs/behaviour.md#model_map): client model (glob) → the name an upstream
 * serves.
 *
 * @module
 */
import { modelGlob, type ModelMatcher } from "./model_glob.ts";

/** Entries `[glob, target]` in file order. */
export type ModelMap = ReadonlyArray<readonly [glob: string, target: string]>;

/** A compiled model map: the target for a model, or `undefined` when no key matches. */
export type CompiledModelMap = (model: string) => string | undefined;

/**
 * Compiles a model map once (globs included). Throws a `TypeError` naming the first
 * invalid glob.
 *
 * @example
 * ```ts
 * const map = compileModelMap([["gpt-4o-mini", "llama-8b"], ["*", "llama-70b"]]);
 * map("gpt-4o-mini"); // "llama-8b"
 * map("o3"); // "llama-70b"
 * ```
 */
export function compileModelMap(modelMap: ModelMap): CompiledModelMap {
  const entries: Array<readonly [ModelMatcher, string]> = modelMap.map((
    [glob, target],
  ) => [modelGlob(glob), target]);
  return (model) => {
    for (const [matches, target] of entries) if (matches(model)) return target;
    return undefined;
  };
}

// Configuration snapshots are immutable values, so a map array compiled once stays
// valid; a WeakMap lets retired snapshots be collected.
const compiled = new WeakMap<ModelMap, CompiledModelMap>();

/**
 * The target of the first key (in file order) that matches `model`, or `undefined`
 * when none does or there is no model. Compiles `modelMap` on first use and caches it
 * per array, so pass the configuration's own (immutable) array.
 *
 * @example
 * ```ts
 * mapModel([["gpt-4o*", "llama"]], "gpt-4o-mini"); // "llama"
 * mapModel([["gpt-4o*", "llama"]], "o3"); // undefined
 * ```
 */
export function mapModel(modelMap: ModelMap, model: string | undefined): string | undefined {
  if (model === undefined || modelMap.length === 0) return undefined;
  let map = compiled.get(modelMap);
  if (map === undefined) {
    map = compileModelMap(modelMap);
    compiled.set(modelMap, map);
  }
  return map(model);
}
