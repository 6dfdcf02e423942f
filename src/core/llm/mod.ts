/**
 * LLM-aware request handling (docs/behaviour.md#llm-aware-traffic): the request's model, model
 * globs, `model_map` and in-place body edits (`model`, `stream_options.include_usage`) that keep
 * every other byte of the body.
 *
 * @module
 */

export { injectIncludeUsage } from "./include_usage.ts";
export {
  decodeString,
  isLiteral,
  type JsonMember,
  type JsonObjectSpan,
  lastMember,
  scanJsonDocument,
  scanObject,
} from "./json_scan.ts";
export {
  MAX_MODEL_GLOB_LENGTH,
  modelGlob,
  modelGlobProblem,
  type ModelMatcher,
} from "./model_glob.ts";
export { type CompiledModelMap, compileModelMap, mapModel, type ModelMap } from "./model_map.ts";
export { RequestBody } from "./request_body.ts";
export { rewriteModel } from "./rewrite_model.ts";
export { applyEdits, type ByteEdit } from "./splice.ts";
