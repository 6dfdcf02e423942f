/**
 * llmproxy as a library: the runtime-agnostic gateway core. The daemons live in
 * `src/adapters/` (Deno, Node, Cloudflare Workers).
 *
 * @module
 */
export * from "./src/core/mod.ts";
